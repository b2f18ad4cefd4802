//! The parser: turns tokens into the expression tree, with YAQL 1.x operator precedence.
//!
//! Owns: precedence and associativity, and the nesting limit that keeps hostile input from
//! overflowing the stack (deep recursion is a syntax error). Must not: evaluate anything or
//! know what a function does.

use serde_json::Value;

use super::SyntaxError;
use super::ast::{BinOp, Call, Expr, UnOp};
use super::lexer::{Tok, Token, describe, tokenize};

/// The deepest nesting accepted: parser recursion and tree height are both limited to this.
/// At this depth the worst shapes (nested method calls with lambdas, nested indexes) take about
/// 0.8 MiB of stack to parse and evaluate in a debug build (0.3 MiB optimised), so they fit the
/// 2 MiB stack of a spawned thread or a runtime worker; real expressions nest far less.
pub(crate) const MAX_DEPTH: usize = 100;

/// Binding power of `not`'s operand and of unary `+`/`-`'s operand.
const NOT_OPERAND: u8 = 4;
const UNARY_OPERAND: u8 = 9;

/// A binary operator's tree node, binding power and whether it is right-associative.
/// YAQL, loosest first: `->` (right), `or`, `and`, `not` (prefix), comparisons and `in`,
/// `+ -`, `* / mod`, `=~ !~`, unary `+ -`, then `.`/`?.` and `[ ]`.
fn binary(tok: &Tok) -> Option<(BinOp, u8, bool)> {
    Some(match tok {
        Tok::Arrow => (BinOp::Chain, 1, true),
        Tok::Or => (BinOp::Or, 2, false),
        Tok::And => (BinOp::And, 3, false),
        Tok::Eq => (BinOp::Eq, 5, false),
        Tok::Ne => (BinOp::Ne, 5, false),
        Tok::Lt => (BinOp::Lt, 5, false),
        Tok::Le => (BinOp::Le, 5, false),
        Tok::Gt => (BinOp::Gt, 5, false),
        Tok::Ge => (BinOp::Ge, 5, false),
        Tok::In => (BinOp::In, 5, false),
        Tok::Plus => (BinOp::Add, 6, false),
        Tok::Minus => (BinOp::Sub, 6, false),
        Tok::Star => (BinOp::Mul, 7, false),
        Tok::Slash => (BinOp::Div, 7, false),
        Tok::Mod => (BinOp::Mod, 7, false),
        Tok::Match => (BinOp::Match, 8, false),
        Tok::NotMatch => (BinOp::NotMatch, 8, false),
        _ => return None,
    })
}

/// A parsed subtree and its height.
struct Node {
    expr: Expr,
    height: usize,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Parses a whole expression.
pub(crate) fn parse_expr(source: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(source)?;
    if tokens.len() == 1 {
        return Err(SyntaxError { message: "empty expression".to_string(), offset: 0 });
    }
    let mut parser = Parser { tokens, pos: 0, depth: 0 };
    let node = parser.expr(0)?;
    if parser.peek() != &Tok::End {
        return Err(parser.unexpected());
    }
    Ok(node.expr)
}

// Every function on the recursive path (`expr` down to the functions that call `expr` again)
// keeps its frame small: errors are built in separate functions, so that deep (but accepted)
// nesting fits a small stack even in debug builds.
impl Parser {
    fn current(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.pos.min(last)]
    }

    fn peek(&self) -> &Tok {
        &self.current().tok
    }

    fn offset(&self) -> usize {
        self.current().offset
    }

    fn bump(&mut self) {
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
    }

    /// Takes the current token's value out (it is never read again) and moves on.
    fn take(&mut self) -> Tok {
        let last = self.tokens.len() - 1;
        let at = self.pos.min(last);
        let tok = if at == last { Tok::End } else { std::mem::replace(&mut self.tokens[at].tok, Tok::End) };
        self.bump();
        tok
    }

    #[cold]
    #[inline(never)]
    fn error(&self, message: String) -> SyntaxError {
        SyntaxError { message, offset: self.offset() }
    }

    #[cold]
    #[inline(never)]
    fn unexpected(&self) -> SyntaxError {
        self.error(format!("unexpected {}", describe(self.peek())))
    }

    #[cold]
    #[inline(never)]
    fn expected(&self, what: &str, context: &str) -> SyntaxError {
        self.error(format!("expected {what} {context}, found {}", describe(self.peek())))
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self) -> SyntaxError {
        self.error(format!("expression is nested too deeply (more than {MAX_DEPTH} levels)"))
    }

    #[cold]
    #[inline(never)]
    fn error_at(message: &str, offset: usize) -> SyntaxError {
        SyntaxError { message: message.to_string(), offset }
    }

    fn expect(&mut self, tok: &Tok, context: &str) -> Result<(), SyntaxError> {
        if self.peek() == tok {
            self.bump();
            Ok(())
        } else {
            Err(self.expected(&describe(tok), context))
        }
    }

    /// Builds a node over children of the given heights, refusing trees taller than the limit.
    fn node(&self, expr: Expr, heights: &[usize]) -> Result<Node, SyntaxError> {
        let height = 1 + heights.iter().copied().max().unwrap_or(0);
        if height > MAX_DEPTH {
            return Err(self.too_deep());
        }
        Ok(Node { expr, height })
    }

    /// Every recursive path goes through here, so this is where the depth is counted.
    fn expr(&mut self, min: u8) -> Result<Node, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.too_deep());
        }
        self.depth += 1;
        let mut left = self.unary();
        while let Ok(node) = left {
            let Some((op, power, right_assoc)) = binary(self.peek()).filter(|b| b.1 >= min) else {
                left = Ok(node);
                break;
            };
            self.bump();
            left = match self.expr(if right_assoc { power } else { power + 1 }) {
                Ok(right) => self.combine(op, node, right),
                Err(e) => Err(e),
            };
        }
        self.depth -= 1;
        left
    }

    fn combine(&self, op: BinOp, left: Node, right: Node) -> Result<Node, SyntaxError> {
        let heights = [left.height, right.height];
        self.node(Expr::Binary(op, Box::new(left.expr), Box::new(right.expr)), &heights)
    }

    /// A prefix operator and its operand, or a primary value and its `.`/`[ ]` suffixes.
    fn unary(&mut self) -> Result<Node, SyntaxError> {
        let op = match self.peek() {
            Tok::Not => UnOp::Not,
            Tok::Minus => UnOp::Neg,
            Tok::Plus => UnOp::Pos,
            _ => {
                let left = self.primary()?;
                return self.suffixes(left);
            }
        };
        self.bump();
        let operand = self.expr(if op == UnOp::Not { NOT_OPERAND } else { UNARY_OPERAND })?;
        let height = operand.height;
        self.node(Expr::Unary(op, Box::new(operand.expr)), &[height])
    }

    fn primary(&mut self) -> Result<Node, SyntaxError> {
        match self.peek() {
            Tok::LParen => self.paren(),
            Tok::LBracket => self.list_literal(),
            Tok::LBrace => self.map(),
            Tok::Func(_) => self.plain_call(),
            _ => self.leaf(),
        }
    }

    /// `.key`, `.method(...)`, `?.` forms and `[index]` after a value.
    fn suffixes(&mut self, mut left: Node) -> Result<Node, SyntaxError> {
        loop {
            let safe = match self.peek() {
                Tok::Dot => false,
                Tok::SafeDot => true,
                Tok::LBracket => {
                    left = self.index(left)?;
                    continue;
                }
                _ => return Ok(left),
            };
            self.bump();
            left = match self.peek() {
                Tok::Func(_) => match self.take() {
                    Tok::Func(name) => self.call(name, Some(left), safe)?,
                    _ => return Err(self.unexpected()),
                },
                Tok::Word(_) => self.member(left, safe)?,
                _ => return Err(self.expected("a key or method name", "after '.'")),
            };
        }
    }

    fn member(&mut self, left: Node, safe: bool) -> Result<Node, SyntaxError> {
        match self.take() {
            Tok::Word(key) => {
                let height = left.height;
                self.node(Expr::Member { target: Box::new(left.expr), key, safe }, &[height])
            }
            _ => Err(self.unexpected()),
        }
    }

    fn plain_call(&mut self) -> Result<Node, SyntaxError> {
        match self.take() {
            Tok::Func(name) => self.call(name, None, false),
            _ => Err(self.unexpected()),
        }
    }

    /// `left[index, ...]`.
    fn index(&mut self, left: Node) -> Result<Node, SyntaxError> {
        let offset = self.offset();
        self.bump();
        let (args, height) = self.list_items(&Tok::RBracket)?;
        if args.is_empty() {
            return Err(Self::error_at("expected an index inside '[ ]'", offset));
        }
        let height = height.max(left.height);
        self.node(Expr::Index { target: Box::new(left.expr), args }, &[height])
    }

    fn leaf(&mut self) -> Result<Node, SyntaxError> {
        let expr = match self.peek() {
            Tok::Int(n) => Expr::Const(Value::from(*n)),
            Tok::Float(f) => Expr::Const(Value::from(*f)),
            Tok::True => Expr::Const(Value::Bool(true)),
            Tok::False => Expr::Const(Value::Bool(false)),
            Tok::Null => Expr::Const(Value::Null),
            Tok::Str(_) | Tok::Word(_) | Tok::Dollar(_) => match self.take() {
                Tok::Str(s) => return Ok(Node { expr: Expr::Const(Value::String(s)), height: 1 }),
                Tok::Word(w) => return Ok(Node { expr: Expr::Keyword(w), height: 1 }),
                Tok::Dollar(name) => {
                    let name = if name.is_empty() { "1".to_string() } else { name };
                    return Ok(Node { expr: Expr::Var(name), height: 1 });
                }
                _ => return Err(self.unexpected()),
            },
            _ => return Err(self.unexpected()),
        };
        self.bump();
        Ok(Node { expr, height: 1 })
    }

    fn paren(&mut self) -> Result<Node, SyntaxError> {
        self.bump();
        let inner = self.expr(0)?;
        self.expect(&Tok::RParen, "to close '('")?;
        Ok(inner)
    }

    fn list_literal(&mut self) -> Result<Node, SyntaxError> {
        self.bump();
        let (items, height) = self.list_items(&Tok::RBracket)?;
        self.node(Expr::List(items), &[height])
    }

    /// Comma-separated expressions up to `close` (consumed), and their greatest height; `=>`
    /// is not allowed here.
    fn list_items(&mut self, close: &Tok) -> Result<(Vec<Expr>, usize), SyntaxError> {
        let mut items = Vec::new();
        let mut height = 0;
        if self.peek() == close {
            self.bump();
            return Ok((items, height));
        }
        loop {
            let item = self.expr(0)?;
            height = height.max(item.height);
            items.push(item.expr);
            if self.peek() == close {
                self.bump();
                return Ok((items, height));
            }
            if self.peek() != &Tok::Comma {
                return Err(self.bad_separator(close));
            }
            self.bump();
        }
    }

    #[cold]
    #[inline(never)]
    fn bad_separator(&self, close: &Tok) -> SyntaxError {
        match self.peek() {
            Tok::Pair => self.error("'=>' is not allowed here (only in function arguments and dicts)".to_string()),
            _ => self.expected(&format!("',' or {}", describe(close)), "between items"),
        }
    }

    fn map(&mut self) -> Result<Node, SyntaxError> {
        self.bump();
        let mut pairs = Vec::new();
        let mut height = 0;
        if self.peek() == &Tok::RBrace {
            self.bump();
            return self.node(Expr::Map(pairs), &[height]);
        }
        loop {
            let key = self.expr(0)?;
            self.expect(&Tok::Pair, "after a dict key")?;
            let value = self.expr(0)?;
            height = height.max(key.height).max(value.height);
            pairs.push((key.expr, value.expr));
            match self.peek() {
                Tok::Comma => self.bump(),
                Tok::RBrace => {
                    self.bump();
                    return self.node(Expr::Map(pairs), &[height]);
                }
                _ => return Err(self.expected("',' or '}'", "in a dict")),
            }
        }
    }

    /// A call whose `name(` token was just read.
    fn call(&mut self, name: String, receiver: Option<Node>, safe: bool) -> Result<Node, SyntaxError> {
        let mut call = Box::new(Call { name, receiver: None, safe, args: Vec::new(), named: Vec::new() });
        let mut height = 0;
        if let Some(receiver) = receiver {
            height = receiver.height;
            call.receiver = Some(receiver.expr);
        }
        if self.peek() == &Tok::RParen {
            self.bump();
        } else {
            height = height.max(self.call_args(&mut call)?);
        }
        self.node(Expr::Call(call), &[height])
    }

    /// The arguments up to `)`, added to `call`; gives their greatest height.
    fn call_args(&mut self, call: &mut Call) -> Result<usize, SyntaxError> {
        let mut height = 0;
        loop {
            let offset = self.offset();
            let first = self.expr(0)?;
            height = height.max(first.height);
            if self.peek() == &Tok::Pair {
                self.bump();
                let value = self.expr(0)?;
                height = height.max(value.height);
                call.named.push((first.expr, value.expr));
            } else if !call.named.is_empty() {
                return Err(Self::positional_after_named(&call.name, offset));
            } else {
                call.args.push(first.expr);
            }
            match self.peek() {
                Tok::Comma => self.bump(),
                Tok::RParen => {
                    self.bump();
                    return Ok(height);
                }
                _ => return Err(self.bad_argument_separator(&call.name)),
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn positional_after_named(name: &str, offset: usize) -> SyntaxError {
        SyntaxError { message: format!("positional argument after a named argument in {name}()"), offset }
    }

    #[cold]
    #[inline(never)]
    fn bad_argument_separator(&self, name: &str) -> SyntaxError {
        self.expected("',' or ')'", &format!("in the arguments of {name}()"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree as a compact prefix form, to check precedence.
    fn show(e: &Expr) -> String {
        match e {
            Expr::Const(v) => v.to_string(),
            Expr::Keyword(k) => k.clone(),
            Expr::Var(v) => format!("${v}"),
            Expr::List(items) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" ")),
            Expr::Map(pairs) => {
                format!(
                    "{{{}}}",
                    pairs.iter().map(|(k, v)| format!("{}:{}", show(k), show(v))).collect::<Vec<_>>().join(" ")
                )
            }
            Expr::Member { target, key, safe } => {
                format!("({} {} {key})", if *safe { "?." } else { "." }, show(target))
            }
            Expr::Index { target, args } => {
                format!("(index {} {})", show(target), args.iter().map(show).collect::<Vec<_>>().join(" "))
            }
            Expr::Call(c) => {
                let mut parts: Vec<String> = c.receiver.iter().map(show).collect();
                parts.extend(c.args.iter().map(show));
                parts.extend(c.named.iter().map(|(k, v)| format!("{}=>{}", show(k), show(v))));
                format!("({}{} {})", if c.receiver.is_some() { "." } else { "" }, c.name, parts.join(" "))
            }
            Expr::Unary(op, x) => format!("({op:?} {})", show(x)),
            Expr::Binary(op, l, r) => format!("({} {} {})", op.symbol(), show(l), show(r)),
        }
    }

    #[test]
    fn precedence() {
        let table = [
            ("1 + 2 * 3", "(+ 1 (* 2 3))"),
            ("1 - 2 - 3", "(- (- 1 2) 3)"),
            ("-2 * 3", "(* (Neg 2) 3)"),
            ("-a.b", "(Neg (. a b))"),
            ("not a = b", "(Not (= a b))"),
            ("not a and b", "(and (Not a) b)"),
            ("a or b and c", "(or a (and b c))"),
            ("a = 1 or b in c", "(or (= a 1) (in b c))"),
            ("a -> b -> c", "(-> a (-> b c))"),
            ("let(x => 1) -> $x + 1", "(-> (let x=>1) (+ $x 1))"),
            ("a.b[0].c", "(. (index (. a b) 0) c)"),
            ("$.a.f(1, k => 2)", "(.f (. $1 a) 1 k=>2)"),
            ("x?.y", "(?. x y)"),
            ("'a' =~ 'b' * 2", "(* (=~ \"a\" \"b\") 2)"),
            ("a mod 2 = 0", "(= (mod a 2) 0)"),
            ("[1, [2]] + {a => 1, 'b' => c}", "(+ [1 [2]] {a:1 \"b\":c})"),
            ("f()", "(f )"),
            ("d[k, 0]", "(index d k 0)"),
            ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
            ("a < b = c", "(= (< a b) c)"),
            ("[]", "[]"),
            ("{}", "{}"),
        ];
        for (source, expected) in table {
            let e = parse_expr(source).expect("test source parses");
            assert_eq!(show(&e), expected, "source: {source}");
        }
    }

    #[test]
    fn errors() {
        let deep_parens = "(".repeat(10_000);
        let long_chain = vec!["1"; 150].join(" + ");
        let long_path = format!("a{}", ".b".repeat(150));
        let table: Vec<(&str, &str, usize)> = vec![
            ("", "empty expression", 0),
            ("   ", "empty expression", 0),
            ("ctx(", "unexpected end of expression", 4),
            ("ctx())", "unexpected ')'", 5),
            ("1 +", "unexpected end of expression", 3),
            ("a..b", "expected a key or method name after '.', found '.'", 2),
            ("a.1", "expected a key or method name after '.', found number 1", 2),
            (")", "unexpected ')'", 0),
            ("(1", "expected ')' to close '('", 2),
            ("[1, 2", "expected ',' or ']' between items, found end of expression", 5),
            ("[a => 1]", "'=>' is not allowed here", 3),
            ("x[1 => 2]", "'=>' is not allowed here", 4),
            ("{a => 1 b}", "expected ',' or '}' in a dict, found 'b'", 8),
            ("{a}", "expected '=>' after a dict key", 2),
            ("f(a => 1, 2)", "positional argument after a named argument", 10),
            ("f(1 2)", "expected ',' or ')' in the arguments of f()", 4),
            ("x[]", "expected an index", 1),
            ("a b", "unexpected 'b'", 2),
            ("1 2", "unexpected number 2", 2),
            ("not", "unexpected end of expression", 3),
            (&deep_parens, "nested too deeply", MAX_DEPTH),
            (&long_chain, "nested too deeply", 0),
            (&long_path, "nested too deeply", 0),
        ];
        for (source, message, offset) in table {
            let e = parse_expr(source).expect_err("test source must not parse");
            assert!(e.message.contains(message), "{source:.40}: {e:?}");
            if !message.contains("too deeply") || source.starts_with('(') {
                assert_eq!(e.offset, offset, "{source:.40}: {e:?}");
            }
        }
    }

    #[test]
    fn deep_but_allowed() {
        let nested = format!("{}1{}", "(".repeat(MAX_DEPTH - 1), ")".repeat(MAX_DEPTH - 1));
        assert_eq!(parse_expr(&nested), Ok(Expr::Const(Value::from(1))));
        let chain = vec!["1"; MAX_DEPTH].join(" + ");
        assert!(parse_expr(&chain).is_ok());
    }
}
