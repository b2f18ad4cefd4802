//! The expression tree the parser builds and the evaluator walks.
//!
//! Owns: the node types and operator names. Must not: parse or evaluate.

use serde_json::Value;

/// An expression tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Const(Value),
    /// A bare identifier: evaluates to the string itself.
    Keyword(String),
    /// `$name`; `$` is stored as `1`, as YAQL treats `$` and `$1` as one variable.
    Var(String),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Member {
        target: Box<Expr>,
        key: String,
        safe: bool,
    },
    Index {
        target: Box<Expr>,
        args: Vec<Expr>,
    },
    Call(Box<Call>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// `name(args)` or `receiver.name(args)`; `key => value` arguments are kept apart, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    pub name: String,
    pub receiver: Option<Expr>,
    /// `receiver?.name(...)`: null when the receiver is null.
    pub safe: bool,
    pub args: Vec<Expr>,
    pub named: Vec<(Expr, Expr)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum UnOp {
    Neg,
    Pos,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinOp {
    Chain,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Match,
    NotMatch,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Chain => "->",
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "=",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "mod",
            BinOp::Match => "=~",
            BinOp::NotMatch => "!~",
        }
    }
}
