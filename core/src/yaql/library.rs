//! The standard library's table, and how a library function receives its arguments.
//!
//! Owns: the one table of library functions (so `is_library_function`, the evaluator and the
//! loader agree), binding positional and `name => value` arguments to parameters, and typed
//! argument checks with their messages. Must not: implement the functions themselves (the
//! `collections`, `queries`, `strings` and `math` modules do) or call the host.

use serde_json::{Map, Value};

use super::EvalError;
use super::ast::Expr;
use super::eval::{Evaluator, Scope};
use super::values::{a_type, err};
use super::{collections, math, queries, regex, strings};

/// A function of already evaluated arguments.
pub(crate) type EagerFn = fn(&Evaluator, &Args) -> Result<Value, EvalError>;
/// A function that evaluates its own arguments (lambdas are evaluated once per item).
pub(crate) type LazyFn = fn(&Evaluator, &LazyArgs) -> Result<Value, EvalError>;

pub(crate) enum Kind {
    Eager(EagerFn),
    Lazy(LazyFn),
}

pub(crate) struct Entry {
    pub name: &'static str,
    pub kind: Kind,
    /// Returns an iterator in YAQL, so `list(...)` unpacks it.
    pub iterates: bool,
}

const fn eager(name: &'static str, f: EagerFn) -> Entry {
    Entry { name, kind: Kind::Eager(f), iterates: false }
}

const fn eager_iter(name: &'static str, f: EagerFn) -> Entry {
    Entry { name, kind: Kind::Eager(f), iterates: true }
}

const fn lazy(name: &'static str, f: LazyFn) -> Entry {
    Entry { name, kind: Kind::Lazy(f), iterates: false }
}

const fn lazy_iter(name: &'static str, f: LazyFn) -> Entry {
    Entry { name, kind: Kind::Lazy(f), iterates: true }
}

/// Every library function, under its YAQL name.
pub(crate) const LIBRARY: &[Entry] = &[
    // Lambdas and scoping.
    lazy("let", queries::let_),
    lazy("list", queries::list),
    lazy("switch", queries::switch),
    lazy_iter("select", queries::select),
    lazy_iter("map", queries::select),
    lazy_iter("where", queries::where_),
    lazy_iter("filter", queries::where_),
    lazy_iter("selectMany", queries::select_many),
    lazy_iter("takeWhile", queries::take_while),
    lazy_iter("skipWhile", queries::skip_while),
    lazy_iter("distinct", queries::distinct),
    lazy_iter("groupBy", queries::group_by),
    lazy("orderBy", queries::order_by),
    lazy("orderByDescending", queries::order_by_descending),
    lazy("any", queries::any),
    lazy("all", queries::all),
    lazy("toDict", queries::to_dict),
    // Collections.
    eager("dict", collections::dict),
    eager("len", collections::len),
    eager("count", collections::count),
    eager_iter("keys", collections::keys),
    eager_iter("values", collections::values),
    eager_iter("items", collections::items),
    eager("get", collections::get),
    eager("set", collections::set),
    eager("containsKey", collections::contains_key),
    eager("containsValue", collections::contains_value),
    eager("contains", collections::contains),
    eager("first", collections::first),
    eager("last", collections::last),
    eager("single", collections::single),
    eager("sum", collections::sum),
    eager("max", collections::max),
    eager("min", collections::min),
    eager_iter("flatten", collections::flatten),
    eager_iter("concat", collections::concat),
    eager_iter("skip", collections::skip),
    eager_iter("take", collections::take),
    eager_iter("limit", collections::take),
    eager_iter("reverse", collections::reverse),
    eager_iter("enumerate", collections::enumerate),
    eager_iter("append", collections::append),
    eager("toList", collections::to_list),
    eager("indexOf", collections::index_of),
    eager("lastIndexOf", collections::last_index_of),
    eager_iter("range", collections::range),
    eager("isList", collections::is_list),
    eager("isDict", collections::is_dict),
    eager("isEmpty", collections::is_empty),
    // Strings and regular expressions.
    eager("str", strings::str_),
    eager("join", strings::join),
    eager("split", strings::split),
    eager("rightSplit", strings::right_split),
    eager("replace", strings::replace),
    eager("trim", strings::trim),
    eager("trimLeft", strings::trim_left),
    eager("trimRight", strings::trim_right),
    eager("toUpper", strings::to_upper),
    eager("toLower", strings::to_lower),
    eager("startsWith", strings::starts_with),
    eager("endsWith", strings::ends_with),
    eager("substring", strings::substring),
    eager("format", strings::format),
    eager("toCharArray", strings::to_char_array),
    eager("isString", strings::is_string),
    eager("regex", regex::regex),
    eager("matches", regex::matches),
    eager("search", regex::search),
    eager_iter("searchAll", regex::search_all),
    // Numbers and conversions.
    eager("int", math::int),
    eager("float", math::float),
    eager("bool", math::bool_),
    eager("abs", math::abs),
    eager("round", math::round),
    eager("pow", math::pow),
    eager("sign", math::sign),
    eager("random", math::random),
    eager("isInteger", math::is_integer),
    eager("isNumber", math::is_number),
    eager("isBoolean", math::is_boolean),
];

/// The library entry for `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static Entry> {
    LIBRARY.iter().find(|entry| entry.name == name)
}

/// Arguments of an eager function; a method call's receiver is the first value.
pub(crate) struct Args<'a> {
    pub name: &'a str,
    pub method: bool,
    pub values: Vec<Value>,
    pub named: Map<String, Value>,
}

/// "takes at most 2 arguments (3 given)", not counting a method's receiver.
fn too_many(name: &str, method: bool, max: usize, given: usize) -> EvalError {
    let skip = usize::from(method);
    let besides = if method { " besides its receiver" } else { "" };
    let max = max.saturating_sub(skip);
    let plural = if max == 1 { "" } else { "s" };
    err(format!("{name}() takes at most {max} argument{plural}{besides} ({} given)", given.saturating_sub(skip)))
}

fn bind_slots<T: Copy>(
    name: &str,
    method: bool,
    positional: Vec<T>,
    named: Vec<(&str, T)>,
    params: &[&str],
    required: usize,
) -> Result<Vec<Option<T>>, EvalError> {
    if positional.len() > params.len() {
        return Err(too_many(name, method, params.len(), positional.len()));
    }
    let mut slots: Vec<Option<T>> = positional.into_iter().map(Some).collect();
    slots.resize(params.len(), None);
    for (key, value) in named {
        let Some(at) = params.iter().position(|p| *p == key) else {
            return Err(err(format!("{name}() has no argument named \"{key}\"")));
        };
        if slots[at].is_some() {
            return Err(err(format!("{name}() got argument \"{key}\" twice")));
        }
        slots[at] = Some(value);
    }
    if let Some(missing) = (0..required).find(|&i| slots[i].is_none()) {
        return Err(err(format!("{name}() is missing its argument \"{}\"", params[missing])));
    }
    Ok(slots)
}

impl Args<'_> {
    /// Binds positional, then named values to `params`; the first `required` must be given.
    pub(crate) fn bind(&self, params: &[&str], required: usize) -> Result<Vec<Option<&Value>>, EvalError> {
        let named = self.named.iter().map(|(k, v)| (k.as_str(), v)).collect();
        bind_slots(self.name, self.method, self.values.iter().collect(), named, params, required)
    }

    /// For functions that take any number of positional values and no names.
    pub(crate) fn positional_only(&self) -> Result<&[Value], EvalError> {
        match self.named.keys().next() {
            Some(key) => Err(err(format!("{}() has no argument named \"{key}\"", self.name))),
            None => Ok(&self.values),
        }
    }

    /// Errors unless between `min` and `max` positional values were given (and no names).
    pub(crate) fn exactly(&self, min: usize, max: usize) -> Result<&[Value], EvalError> {
        let values = self.positional_only()?;
        if values.len() > max {
            return Err(too_many(self.name, self.method, max, values.len()));
        }
        if values.len() < min {
            let min = min - usize::from(self.method);
            return Err(err(format!(
                "{}() needs at least {min} argument{}",
                self.name,
                if min == 1 { "" } else { "s" }
            )));
        }
        Ok(values)
    }
}

/// An argument of a lazy function: the receiver's value, or an expression not yet evaluated.
#[derive(Clone, Copy)]
pub(crate) enum Slot<'a> {
    Value(&'a Value),
    Expr(&'a Expr),
}

/// Arguments of a lazy function, evaluated by the function itself in `scope`.
pub(crate) struct LazyArgs<'a> {
    pub name: &'a str,
    pub receiver: Option<Value>,
    pub exprs: &'a [Expr],
    pub named: &'a [(Expr, Expr)],
    pub scope: &'a Scope<'a>,
}

impl LazyArgs<'_> {
    /// Binds the receiver and positional expressions, then named ones, to `params`.
    pub(crate) fn bind(&self, params: &[&str], required: usize) -> Result<Vec<Option<Slot<'_>>>, EvalError> {
        let mut positional: Vec<Slot> = self.receiver.iter().map(Slot::Value).collect();
        positional.extend(self.exprs.iter().map(Slot::Expr));
        let mut named = Vec::new();
        for (key, value) in self.named {
            match key {
                Expr::Keyword(k) | Expr::Const(Value::String(k)) => named.push((k.as_str(), Slot::Expr(value))),
                _ => return Err(err(format!("{}() takes only plain names before \"=>\"", self.name))),
            }
        }
        bind_slots(self.name, self.receiver.is_some(), positional, named, params, required)
    }
}

impl Evaluator<'_> {
    /// The value of an argument.
    pub(crate) fn value(&self, slot: Slot, scope: &Scope) -> Result<Value, EvalError> {
        match slot {
            Slot::Value(value) => Ok(value.clone()),
            Slot::Expr(expr) => self.eval(expr, scope),
        }
    }

    /// A lambda argument applied to one item: evaluated with `$` bound to `item`.
    pub(crate) fn apply(&self, slot: Slot, scope: &Scope, item: &Value) -> Result<Value, EvalError> {
        match slot {
            Slot::Value(value) => Ok(value.clone()),
            Slot::Expr(expr) => self.eval(expr, &scope.with_item(item)),
        }
    }
}

/// The function name and parameter a typed check is about.
#[derive(Clone, Copy)]
pub(crate) struct Param<'a>(pub &'a str, pub &'a str);

impl Param<'_> {
    fn wrong(self, kind: &str, value: &Value) -> EvalError {
        err(format!("{}() expects {kind} for \"{}\", got {}", self.0, self.1, a_type(value)))
    }

    pub(crate) fn list(self, value: &Value) -> Result<&Vec<Value>, EvalError> {
        value.as_array().ok_or_else(|| self.wrong("a list", value))
    }

    pub(crate) fn string(self, value: &Value) -> Result<&str, EvalError> {
        value.as_str().ok_or_else(|| self.wrong("a string", value))
    }

    pub(crate) fn dict(self, value: &Value) -> Result<&Map<String, Value>, EvalError> {
        value.as_object().ok_or_else(|| self.wrong("a dict", value))
    }

    pub(crate) fn int(self, value: &Value) -> Result<i64, EvalError> {
        value.as_i64().ok_or_else(|| self.wrong("an integer", value))
    }

    pub(crate) fn bool(self, value: &Value) -> Result<bool, EvalError> {
        value.as_bool().ok_or_else(|| self.wrong("a boolean", value))
    }

    /// An optional string argument, where null means "not given".
    pub(crate) fn opt_string(self, value: Option<&Value>) -> Result<Option<&str>, EvalError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(v) => self.string(v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_camel_case() {
        for (i, entry) in LIBRARY.iter().enumerate() {
            assert!(LIBRARY[..i].iter().all(|e| e.name != entry.name), "duplicate {}", entry.name);
            assert!(entry.name.chars().all(|c| c.is_ascii_alphabetic()), "odd name {}", entry.name);
            assert!(lookup(entry.name).is_some());
        }
        assert!(lookup("ctx").is_none());
    }

    #[test]
    fn binding() {
        let args = Args {
            name: "get",
            method: true,
            values: vec![Value::from(1), Value::from(2)],
            named: [("default".to_string(), Value::from(3))].into_iter().collect(),
        };
        let bound = args.bind(&["dict", "key", "default"], 2).expect("binds");
        assert_eq!(bound, vec![Some(&Value::from(1)), Some(&Value::from(2)), Some(&Value::from(3))]);
        let table: [(&[&str], usize, &str); 4] = [
            (&["dict"], 1, "get() takes at most 0 arguments besides its receiver (1 given)"),
            (&["dict", "key"], 2, "get() has no argument named \"default\""),
            (&["dict", "default", "x"], 2, "get() got argument \"default\" twice"),
            (&["dict", "key", "x", "default"], 3, "get() is missing its argument \"x\""),
        ];
        for (params, required, message) in table {
            let e = args.bind(params, required).expect_err("binding must fail");
            assert_eq!(e.message, message);
        }
    }
}
