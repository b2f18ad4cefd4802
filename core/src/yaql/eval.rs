//! The evaluator: walks the expression tree with a scope of variables (`$` and `let` names).
//!
//! Owns: scopes, operators' evaluation order (`and`/`or` short-circuit, `->` chaining),
//! member access and indexing, how a call is resolved (plain calls ask the host first, method
//! calls the library first), and the step budget that bounds the work one evaluation may do.
//! Must not: implement library functions (`library` and its modules do) or know what the
//! host's functions mean.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::ast::{BinOp, Call, Expr, UnOp};
use super::library::{self, Args, Kind, LazyArgs};
use super::values::{a_type, compare, err, incomparable, key_string, py_eq, truthy, weight};
use super::{EvalError, Host, ops, regex};

/// The most work one evaluation may do: every value an expression node produces (or copies)
/// costs its `values::weight`, so neither loops over large ranges nor building huge values can
/// run away. 3,000,000 steps are a few hundred milliseconds of the slowest work (copying large
/// lists through lambdas); real workflow expressions take a few hundred.
pub(crate) const MAX_STEPS: u64 = 3_000_000;

/// The longest one evaluation may run, checked every `TIME_CHECK_STEPS` steps: the step budget
/// bounds the work, this bounds the time on a slow or busy machine too. Debug builds, about ten
/// times slower, allow ten times as long, so the step budget stays what stops them first.
pub(crate) const MAX_TIME: Duration =
    if cfg!(debug_assertions) { Duration::from_millis(10_000) } else { Duration::from_millis(250) };

/// How often (in steps) the clock is read.
const TIME_CHECK_STEPS: u64 = 1 << 14;

/// The largest value one node of an expression may produce, in the same units (one per value,
/// one per 8 bytes of text): about 16 MB of text or two million items. The step budget bounds
/// all the work of an evaluation; this bounds what it holds at once.
pub(crate) const MAX_VALUE: u64 = 2_000_000;

/// Variable names and their values.
type Vars<'a> = Vec<(Cow<'a, str>, Cow<'a, Value>)>;

/// Variables in force: `1` is `$`; `let` adds names; lambdas bind `$` to each item.
pub(crate) struct Scope<'a> {
    vars: Vars<'a>,
    parent: Option<&'a Scope<'a>>,
}

impl<'a> Scope<'a> {
    pub(crate) fn root(data: &'a Value) -> Self {
        Scope { vars: vec![(Cow::Borrowed("1"), Cow::Borrowed(data))], parent: None }
    }

    /// A child scope with `$` bound to `item`.
    pub(crate) fn with_item(&'a self, item: &'a Value) -> Scope<'a> {
        Scope { vars: vec![(Cow::Borrowed("1"), Cow::Borrowed(item))], parent: Some(self) }
    }

    fn lookup(&self, name: &str) -> Option<&Value> {
        let mut scope = Some(self);
        while let Some(s) = scope {
            if let Some((_, value)) = s.vars.iter().rev().find(|(n, _)| n == name) {
                return Some(value);
            }
            scope = s.parent;
        }
        None
    }
}

/// One evaluation: the host, the work done so far and when it must end.
pub(crate) struct Evaluator<'h> {
    host: &'h dyn Host,
    steps: Cell<u64>,
    /// The step count at which the clock is read next.
    next_check: Cell<u64>,
    deadline: Instant,
    limit: Duration,
}

impl<'h> Evaluator<'h> {
    pub(crate) fn new(host: &'h dyn Host) -> Self {
        Self::with_time_limit(host, MAX_TIME)
    }

    pub(crate) fn with_time_limit(host: &'h dyn Host, limit: Duration) -> Self {
        Evaluator {
            host,
            steps: Cell::new(0),
            next_check: Cell::new(TIME_CHECK_STEPS),
            deadline: Instant::now() + limit,
            limit,
        }
    }

    /// Counts `n` steps of work; past the budget, or past the time limit, the evaluation fails.
    pub(crate) fn charge(&self, n: u64) -> Result<(), EvalError> {
        let steps = self.steps.get().saturating_add(n);
        self.steps.set(steps);
        if steps > MAX_STEPS {
            return Err(err(format!("expression takes too much work (more than {MAX_STEPS} steps)")));
        }
        if steps >= self.next_check.get() {
            self.next_check.set(steps.saturating_add(TIME_CHECK_STEPS));
            if Instant::now() > self.deadline {
                return Err(err(format!("expression takes too long (more than {} ms)", self.limit.as_millis())));
            }
        }
        Ok(())
    }

    /// Evaluates `expr`. This and the functions it recurses through keep small frames (work
    /// and error messages live in helpers), so the deepest tree the parser accepts fits a
    /// small stack.
    pub(crate) fn eval(&self, expr: &Expr, scope: &Scope) -> Result<Value, EvalError> {
        let value = match expr {
            Expr::Const(value) => Ok(value.clone()),
            Expr::Keyword(word) => Ok(Value::String(word.clone())),
            Expr::Var(name) => Ok(scope.lookup(name).cloned().unwrap_or(Value::Null)),
            Expr::List(items) => self.eval_list(items, scope),
            Expr::Map(pairs) => self.eval_map(pairs, scope),
            Expr::Member { target, key, safe } => self.eval_member(expr, target, key, *safe, scope),
            Expr::Index { target, args } => self.eval_index(expr, target, args, scope),
            Expr::Call(call) => self.call(call, scope),
            Expr::Unary(op, operand) => self.eval_unary(*op, operand, scope),
            Expr::Binary(op, left, right) => self.binary(*op, left, right, scope),
        }?;
        let weight = weight(&value);
        if weight > MAX_VALUE {
            return Err(too_large());
        }
        self.charge(weight)?;
        Ok(value)
    }

    fn eval_list(&self, items: &[Expr], scope: &Scope) -> Result<Value, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(self.eval(item, scope)?);
        }
        Ok(Value::Array(out))
    }

    fn eval_map(&self, pairs: &[(Expr, Expr)], scope: &Scope) -> Result<Value, EvalError> {
        let mut map = Map::new();
        for (key, value) in pairs {
            let key = self.key_name(key, scope)?;
            let value = self.eval(value, scope)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn eval_member(
        &self,
        expr: &Expr,
        target: &Expr,
        key: &str,
        safe: bool,
        scope: &Scope,
    ) -> Result<Value, EvalError> {
        if let Some(found) = self.path(expr, scope) {
            return Ok(found.clone());
        }
        let value = self.eval(target, scope)?;
        member(value, key, safe)
    }

    fn eval_index(&self, expr: &Expr, target: &Expr, args: &[Expr], scope: &Scope) -> Result<Value, EvalError> {
        if let Some(found) = self.path(expr, scope) {
            return Ok(found.clone());
        }
        let value = self.eval(target, scope)?;
        let mut indexes = Vec::with_capacity(args.len());
        for arg in args {
            indexes.push(self.eval(arg, scope)?);
        }
        index(value, indexes)
    }

    fn eval_unary(&self, op: UnOp, operand: &Expr, scope: &Scope) -> Result<Value, EvalError> {
        let value = self.eval(operand, scope)?;
        match op {
            UnOp::Not => Ok(Value::Bool(!truthy(&value))),
            UnOp::Neg => ops::unary(&value, true),
            UnOp::Pos => ops::unary(&value, false),
        }
    }

    /// A member or index chain over a variable, found without copying what it passes through
    /// (so `$.a.b` does not copy all of `$`); `None` when the plain way must be taken.
    fn path<'s>(&self, expr: &Expr, scope: &'s Scope) -> Option<&'s Value> {
        match expr {
            Expr::Var(name) => scope.lookup(name),
            Expr::Member { target, key, .. } => self.path(target, scope)?.as_object()?.get(key),
            Expr::Index { target, args } => match (self.path(target, scope)?, args.as_slice()) {
                (Value::Object(map), [Expr::Const(Value::String(key)) | Expr::Keyword(key)]) => map.get(key),
                (Value::Array(items), [Expr::Const(Value::Number(n))]) => {
                    let i = n.as_i64()?;
                    let i = if i < 0 { i.checked_add(i64::try_from(items.len()).ok()?)? } else { i };
                    items.get(usize::try_from(i).ok()?)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The name a `key => value` key gives: a bare word or quoted string as written, anything
    /// else evaluated and turned into text.
    pub(crate) fn key_name(&self, key: &Expr, scope: &Scope) -> Result<String, EvalError> {
        match key {
            Expr::Keyword(word) | Expr::Const(Value::String(word)) => Ok(word.clone()),
            other => Ok(key_string(&self.eval(other, scope)?)),
        }
    }

    fn binary(&self, op: BinOp, left: &Expr, right: &Expr, scope: &Scope) -> Result<Value, EvalError> {
        match op {
            BinOp::Chain => self.chain(left, right, scope),
            BinOp::And | BinOp::Or => {
                let l = self.eval(left, scope)?;
                if truthy(&l) == (op == BinOp::And) { self.eval(right, scope) } else { Ok(l) }
            }
            _ => {
                let l = self.eval(left, scope)?;
                let r = self.eval(right, scope)?;
                apply_binary(op, l, r)
            }
        }
    }

    /// `left -> right`: `right` is evaluated in the scope `left` leaves; only `let(...)` changes
    /// it. As in YAQL, `$` stays what it was unless `let` binds positional values (`$1`...).
    fn chain(&self, left: &Expr, right: &Expr, scope: &Scope) -> Result<Value, EvalError> {
        match left {
            Expr::Call(call) if call.name == "let" && call.receiver.is_none() => {
                let vars = self.let_bindings(call, scope)?;
                let child = Scope { vars, parent: Some(scope) };
                self.eval(right, &child)
            }
            _ => {
                self.eval(left, scope)?;
                self.eval(right, scope)
            }
        }
    }

    /// `let(a, b, name => value)`: positional values become `$1`, `$2`..., named ones `$name`.
    pub(crate) fn let_bindings<'c>(&self, call: &'c Call, scope: &Scope) -> Result<Vars<'c>, EvalError> {
        let mut vars = Vec::new();
        for (i, arg) in call.args.iter().enumerate() {
            vars.push((Cow::Owned((i + 1).to_string()), Cow::Owned(self.eval(arg, scope)?)));
        }
        for (key, value) in &call.named {
            let name = self.key_name(key, scope)?;
            vars.push((Cow::Owned(name), Cow::Owned(self.eval(value, scope)?)));
        }
        Ok(vars)
    }

    /// Plain calls: the host first (it may override), then the library; except functions whose
    /// arguments are lambdas, which go straight to the library (their arguments must not be
    /// evaluated up front). Method calls: the library, then the host with the receiver first.
    fn call(&self, call: &Call, scope: &Scope) -> Result<Value, EvalError> {
        let receiver = match &call.receiver {
            Some(receiver) => {
                let value = self.eval(receiver, scope)?;
                if call.safe && value.is_null() {
                    return Ok(Value::Null);
                }
                Some(value)
            }
            None => None,
        };
        let entry = library::lookup(&call.name);
        if let Some(Kind::Lazy(function)) = entry.map(|e| &e.kind) {
            let args = LazyArgs { name: &call.name, receiver, exprs: &call.args, named: &call.named, scope };
            return function(self, &args);
        }
        let (values, named) = self.eval_args(receiver, call, scope)?;
        self.call_eager(&call.name, call.receiver.is_some(), entry, values, named)
    }

    fn eval_args(
        &self,
        receiver: Option<Value>,
        call: &Call,
        scope: &Scope,
    ) -> Result<(Vec<Value>, Map<String, Value>), EvalError> {
        let mut values = Vec::with_capacity(call.args.len() + 1);
        values.extend(receiver);
        for arg in &call.args {
            values.push(self.eval(arg, scope)?);
        }
        let mut named = Map::new();
        for (key, value) in &call.named {
            let key = self.key_name(key, scope)?;
            let value = self.eval(value, scope)?;
            named.insert(key, value);
        }
        Ok((values, named))
    }

    fn call_eager(
        &self,
        name: &str,
        method: bool,
        entry: Option<&library::Entry>,
        values: Vec<Value>,
        named: Map<String, Value>,
    ) -> Result<Value, EvalError> {
        if (!method || entry.is_none())
            && let Some(result) = self.host.call(name, &values, &named)
        {
            return result;
        }
        match entry.map(|e| &e.kind) {
            Some(Kind::Eager(function)) => function(self, &Args { name, method, values, named }),
            _ => Err(unknown_function(name)),
        }
    }
}

#[cold]
#[inline(never)]
fn too_large() -> EvalError {
    err(format!(
        "a value of the expression is too large (its limit is {MAX_VALUE} units: one per item, one per 8 bytes of text)"
    ))
}

#[cold]
#[inline(never)]
fn unknown_function(name: &str) -> EvalError {
    err(format!("unknown function \"{name}\""))
}

/// A binary operator other than `->`, `and`, `or`, on evaluated operands.
fn apply_binary(op: BinOp, l: Value, r: Value) -> Result<Value, EvalError> {
    let symbol = op.symbol();
    let ordered = |test: fn(std::cmp::Ordering) -> bool| match compare(&l, &r) {
        Some(o) => Ok(Value::Bool(test(o))),
        None => Err(incomparable(&format!("operator \"{symbol}\""), &l, &r)),
    };
    match op {
        BinOp::Eq => Ok(Value::Bool(py_eq(&l, &r))),
        BinOp::Ne => Ok(Value::Bool(!py_eq(&l, &r))),
        BinOp::Lt => ordered(|o| o.is_lt()),
        BinOp::Le => ordered(|o| o.is_le()),
        BinOp::Gt => ordered(|o| o.is_gt()),
        BinOp::Ge => ordered(|o| o.is_ge()),
        BinOp::In => ops::member_of(&l, &r).map(Value::Bool),
        BinOp::Add => ops::add(l, r),
        BinOp::Sub => ops::sub(&l, &r),
        BinOp::Mul => ops::mul(&l, &r),
        BinOp::Div => ops::div(&l, &r),
        BinOp::Mod => ops::modulo(&l, &r),
        BinOp::Match | BinOp::NotMatch => {
            regex::match_operator(&l, &r, symbol).map(|m| Value::Bool(m == (op == BinOp::Match)))
        }
        BinOp::Chain | BinOp::And | BinOp::Or => Err(err(format!("operator \"{symbol}\" evaluated out of place"))),
    }
}

/// `value.key`: a dict's value (a missing key is an error, as in YAQL 1.x); `?.` gives null on
/// null. YAQL 1.x has no `.key` on lists (`list.select($.key)` maps), so neither has this.
fn member(value: Value, key: &str, safe: bool) -> Result<Value, EvalError> {
    match value {
        Value::Object(mut map) => map.remove(key).ok_or_else(|| err(format!("key \"{key}\" not found"))),
        Value::Null if safe => Ok(Value::Null),
        other => Err(err(format!("cannot get key \"{key}\" of {}", a_type(&other)))),
    }
}

/// `value[i]`: a list or string item by integer (negative counts from the end), a dict value
/// by key; `dict[key, default]` gives the default for a missing key.
fn index(value: Value, mut args: Vec<Value>) -> Result<Value, EvalError> {
    let position = |len: usize, i: &Value, what: &str| -> Result<usize, EvalError> {
        let Some(n) = i.as_i64().filter(|_| !i.is_f64()) else {
            return Err(err(format!("{what} index must be an integer, got {}", a_type(i))));
        };
        let len_i = i64::try_from(len).unwrap_or(i64::MAX);
        let at = if n < 0 { n + len_i } else { n };
        usize::try_from(at)
            .ok()
            .filter(|&at| at < len)
            .ok_or_else(|| err(format!("index {n} is out of range for {what} of length {len}")))
    };
    match (value, args.len()) {
        (Value::Array(mut items), 1) => {
            let at = position(items.len(), &args[0], "a list")?;
            Ok(items.swap_remove(at))
        }
        (Value::String(text), 1) => {
            let count = text.chars().count();
            let at = position(count, &args[0], "a string")?;
            Ok(Value::String(text.chars().nth(at).map(String::from).unwrap_or_default()))
        }
        (Value::Object(mut map), 1 | 2) => {
            let key = key_string(&args[0]);
            match map.remove(&key) {
                Some(found) => Ok(found),
                None if args.len() == 2 => Ok(args.swap_remove(1)),
                None => Err(err(format!("key \"{key}\" not found"))),
            }
        }
        (Value::Null, _) => Err(err("cannot index null")),
        (other, 1) => Err(err(format!("cannot index {}", a_type(&other)))),
        (other, n) => Err(err(format!("indexing {} takes 1 index, got {n}", a_type(&other)))),
    }
}
