//! YAQL, the query language of `<% ... %>` expressions in Orquesta workflows: the subset real
//! workflows use, with YAQL 1.x semantics, over `serde_json` values.
//!
//! Owns: the public API (`parse`, `Expression::evaluate`, `Expression::functions`,
//! `is_library_function`, the `Host` trait for the embedding program's functions) and its
//! error types. Must not: know Orquesta's functions (`ctx()`, `task()`, ...: the host provides
//! them), do I/O, or panic on any input (hostile expressions give errors; nesting is limited).
//!
//! Semantics, as YAQL 1.x has them unless marked *(here)*, where it could not be followed:
//! - values are JSON: YAQL's tuples are lists, its sets are not supported; dict keys are
//!   strings, so a non-string key becomes its `str()` text (`dict(1 => x)` is `{"1": "x"}`)
//!   *(here)*. `str()` of a list prints it as YAQL does, as a Python tuple: `(1, 'a')`.
//! - a bare word is a string (`ctx(foo)`); `name(` with no space is a call.
//! - `$` is `$1`; `$name` that no `let` bound is null.
//! - `x.key` on a dict without `key` is an error; on null it is an error, `x?.key` gives null.
//!   YAQL 1.x has no `.key` over a list (use `select`).
//! - `a -> b` evaluates `b` in the scope `a` leaves: only `let(...)` changes it, and `$` stays
//!   what it was (`let(5) -> $` is 5, as `let` binds positional values to `$1`...).
//! - `/` on two integers is floor division; `=` is Python's `==` (`1 = 1.0`, `'1' != 1`);
//!   ordering puts null below everything and refuses mixed types and booleans.
//! - `in` and `contains` also take a dict (its keys) and a string (substrings) *(here)*.
//! - plain calls of functions that take lambdas (`select`, `where`, ...) go to the library
//!   without asking the host, as their arguments must stay unevaluated *(here)*.
//! - nesting deeper than `parser::MAX_DEPTH` is a syntax error, one evaluation may do at most
//!   `eval::MAX_STEPS` work or run longer than `eval::MAX_TIME`, no value it builds may be larger than `eval::MAX_VALUE`, and a
//!   repetition or `range()` has at most `ops::MAX_REPEAT` items, so no expression overflows
//!   the stack or runs away in time or memory *(here)*.

mod ast;
mod collections;
mod eval;
mod lexer;
mod library;
mod math;
mod ops;
mod parser;
mod queries;
mod regex;
mod strings;
mod values;

use serde_json::{Map, Value};

use self::ast::Expr;
use self::eval::{Evaluator, Scope};

/// A parsed expression.
#[derive(Debug, Clone)]
pub struct Expression {
    tree: Expr,
}

/// A syntax error; `offset` is the byte offset in the source where it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.message, self.offset)
    }
}

impl std::error::Error for SyntaxError {}

/// An evaluation error.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError {
    pub message: String,
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}

/// Functions the embedding program provides (Orquesta's ctx(), task(), result(), succeeded(),
/// failed(), completed(), item(), st2kv(), json(), zip(), ...). Called with already-evaluated
/// arguments, positional and named (`name => value`). Returns None when it does not know `name`;
/// a function that fails gives the evaluation's error.
pub trait Host {
    fn call(&self, name: &str, args: &[Value], named: &Map<String, Value>) -> Option<Result<Value, EvalError>>;
}

/// Parses `source` (the text between `<%` and `%>`).
pub fn parse(source: &str) -> Result<Expression, SyntaxError> {
    parser::parse_expr(source).map(|tree| Expression { tree })
}

impl Expression {
    /// Evaluates with `$` bound to `root`.
    pub fn evaluate(&self, root: &Value, host: &dyn Host) -> Result<Value, EvalError> {
        Evaluator::new(host).eval(&self.tree, &Scope::root(root))
    }

    /// Every function name called in the expression (plain calls `f(...)` and method calls `x.f(...)`),
    /// deduplicated, so a loader can report unknown functions at load time.
    pub fn functions(&self) -> Vec<String> {
        let mut names = Vec::new();
        collect_functions(&self.tree, &mut names);
        names
    }
}

/// Call names in source order (a receiver before its method); the tree's height is bounded,
/// so this recursion is too.
fn collect_functions(expr: &Expr, names: &mut Vec<String>) {
    match expr {
        Expr::Const(_) | Expr::Keyword(_) | Expr::Var(_) => {}
        Expr::List(items) => items.iter().for_each(|item| collect_functions(item, names)),
        Expr::Map(pairs) => pairs.iter().for_each(|(k, v)| {
            collect_functions(k, names);
            collect_functions(v, names);
        }),
        Expr::Member { target, .. } | Expr::Unary(_, target) => collect_functions(target, names),
        Expr::Index { target, args } => {
            collect_functions(target, names);
            args.iter().for_each(|arg| collect_functions(arg, names));
        }
        Expr::Binary(_, left, right) => {
            collect_functions(left, names);
            collect_functions(right, names);
        }
        Expr::Call(call) => {
            if let Some(receiver) = &call.receiver {
                collect_functions(receiver, names);
            }
            if !names.contains(&call.name) {
                names.push(call.name.clone());
            }
            call.args.iter().for_each(|arg| collect_functions(arg, names));
            call.named.iter().for_each(|(k, v)| {
                collect_functions(k, names);
                collect_functions(v, names);
            });
        }
    }
}

/// Whether `name` is a function of the built-in library (so the loader knows which names are not host functions).
pub fn is_library_function(name: &str) -> bool {
    library::lookup(name).is_some()
}

#[cfg(test)]
pub(crate) mod tests;
