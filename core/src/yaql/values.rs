//! What values mean, as YAQL (running on Python) sees them: type names, truthiness, numbers,
//! equality (Python `==`), ordering (YAQL's operators, null below everything), `str()` and
//! Python's `repr`, and the text a non-string dict key becomes.
//!
//! Owns: those rules, in one place, for the evaluator and the library alike. Must not:
//! evaluate expressions or call functions.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::EvalError;
use crate::pyfmt::{float_repr, string_repr};

/// Builds an evaluation error.
pub(crate) fn err(message: impl Into<String>) -> EvalError {
    EvalError { message: message.into() }
}

/// A value's type as messages name it.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

pub(crate) use crate::pyfmt::truthy;

/// A number (booleans are not numbers here, as in YAQL).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

/// The number in `value`; integers beyond i64 are taken as floats.
pub(crate) fn number(value: &Value) -> Option<Num> {
    let Value::Number(n) = value else { return None };
    match n.as_i64() {
        Some(i) => Some(Num::Int(i)),
        None => n.as_f64().map(Num::Float),
    }
}

/// A float value; infinities and NaN have no JSON form, so they are an error.
pub(crate) fn float_value(f: f64) -> Result<Value, EvalError> {
    Number::from_f64(f).map(Value::Number).ok_or_else(|| err(format!("result {f} is not a finite number")))
}

pub(crate) fn num_value(n: Num) -> Result<Value, EvalError> {
    match n {
        Num::Int(i) => Ok(Value::from(i)),
        Num::Float(f) => float_value(f),
    }
}

/// Python's `==`: numbers compare by value (and `true == 1`), dicts ignore key order,
/// different types are unequal.
pub(crate) fn py_eq(a: &Value, b: &Value) -> bool {
    let numeric = |v: &Value| match v {
        Value::Bool(b) => Some(Num::Int(i64::from(*b))),
        other => number(other),
    };
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => match (numeric(a), numeric(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => x == y,
            (Some(x), Some(y)) => x.as_f64() == y.as_f64(),
            _ => false,
        },
    }
}

/// Ordering for `<`, `<=`, `>`, `>=` and sorting: null is below every other value (as YAQL's
/// null operators define), numbers compare with numbers, strings with strings, lists item by
/// item; anything else (booleans, dicts, mixed types) has no order: `None`.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let ordering = compare(p, q)?;
                if ordering != Ordering::Equal {
                    return Some(ordering);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => match (number(a), number(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => Some(x.cmp(&y)),
            (Some(x), Some(y)) => x.as_f64().partial_cmp(&y.as_f64()),
            _ => None,
        },
    }
}

/// The error for two values without an order, naming `what` (`operator "<"`, `orderBy()`).
pub(crate) fn incomparable(what: &str, a: &Value, b: &Value) -> EvalError {
    err(format!("{what} cannot compare {} with {}", a_type(a), a_type(b)))
}

/// "a string", "an integer", "null" for messages.
pub(crate) fn a_type(value: &Value) -> String {
    match type_name(value) {
        "null" => "null".to_string(),
        name @ "integer" => format!("an {name}"),
        name => format!("a {name}"),
    }
}

/// YAQL's `str()`: null, true and false as `null`, `true`, `false`; strings as they are; other
/// values as Python's `str()` of YAQL's data (lists are tuples there, so `(1, 'a')`).
pub(crate) fn yaql_str(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        other => py_str(other),
    }
}

/// Python's `str()`: strings as they are, everything else as `repr`.
pub(crate) fn py_str(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => py_repr(other),
    }
}

/// Python's `repr` of YAQL data: `None`, `True`, `'text'`, `1.5`, `(1, 2)`, `(1,)`, `{'k': 1}`.
pub(crate) fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".to_string(),
        Value::Bool(true) => "True".to_string(),
        Value::Bool(false) => "False".to_string(),
        Value::Number(_) => match number(value) {
            Some(Num::Int(i)) => i.to_string(),
            Some(Num::Float(f)) => float_repr(f),
            None => value.to_string(),
        },
        Value::String(s) => string_repr(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(py_repr).collect();
            if parts.len() == 1 { format!("({},)", parts[0]) } else { format!("({})", parts.join(", ")) }
        }
        Value::Object(map) => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{}: {}", string_repr(k), py_repr(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// The longest text a library function may build: what `eval::MAX_VALUE` allows a value
/// (one unit per 8 bytes).
pub(crate) const MAX_TEXT: usize = super::eval::MAX_VALUE as usize * 8;

/// The work a value stands for, for the step budget: one per value, and one per 8 bytes of
/// text, so building or copying large values uses the budget up.
pub(crate) fn weight(value: &Value) -> u64 {
    let text = |s: &str| (s.len() / 8) as u64;
    match value {
        Value::String(s) => 1 + text(s),
        Value::Array(items) => 1 + items.iter().map(weight).sum::<u64>(),
        Value::Object(map) => 1 + map.iter().map(|(k, v)| 1 + text(k) + weight(v)).sum::<u64>(),
        _ => 1,
    }
}

/// The text a value becomes as a dict key (JSON keys are strings): strings as they are,
/// anything else as YAQL's `str()`, so `1` becomes `"1"` and `true` becomes `"true"`.
pub(crate) fn key_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => yaql_str(other),
    }
}

/// A text equal for values Python's `==` finds equal (and hashing would merge): for
/// `distinct()` and `groupBy()`.
pub(crate) fn identity(value: &Value) -> String {
    match value {
        Value::Null => "n".to_string(),
        Value::Bool(b) => format!("#{}", i64::from(*b)),
        Value::Number(_) => match number(value) {
            Some(Num::Int(i)) => format!("#{i}"),
            Some(Num::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("#{}", f as i64),
            Some(Num::Float(f)) => format!("#{}", float_repr(f)),
            None => format!("#{value}"),
        },
        Value::String(s) => format!("s{}", Value::String(s.clone())),
        Value::Array(items) => format!("[{}]", items.iter().map(identity).collect::<Vec<_>>().join(",")),
        Value::Object(map) => {
            let mut parts: Vec<String> =
                map.iter().map(|(k, v)| format!("{}:{}", Value::String(k.clone()), identity(v))).collect();
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn repr_and_str() {
        let table = [
            (json!(null), "null", "None"),
            (json!(true), "true", "True"),
            (json!(12), "12", "12"),
            (json!(1.5), "1.5", "1.5"),
            (json!(2.0), "2.0", "2.0"),
            (json!(1e16), "1e+16", "1e+16"),
            (json!(1.5e-7), "1.5e-07", "1.5e-07"),
            (json!(0.0001), "0.0001", "0.0001"),
            (json!(123456789012345.6), "123456789012345.6", "123456789012345.6"),
            (json!("it's"), "it's", "\"it's\""),
            (json!("a\nb"), "a\nb", "'a\\nb'"),
            (json!([1, "a", null, true]), "(1, 'a', None, True)", "(1, 'a', None, True)"),
            (json!(["x"]), "('x',)", "('x',)"),
            (json!([]), "()", "()"),
            (json!({"k": [1], "j": {"x": false}}), "{'k': (1,), 'j': {'x': False}}", "{'k': (1,), 'j': {'x': False}}"),
        ];
        for (value, str_form, repr_form) in table {
            assert_eq!(yaql_str(&value), str_form, "str of {value}");
            assert_eq!(py_repr(&value), repr_form, "repr of {value}");
        }
    }

    #[test]
    fn truthiness() {
        let table = [
            (json!(null), false),
            (json!(false), false),
            (json!(0), false),
            (json!(0.0), false),
            (json!(""), false),
            (json!([]), false),
            (json!({}), false),
            (json!(true), true),
            (json!(-1), true),
            (json!("0"), true),
            (json!([0]), true),
            (json!({"a": null}), true),
        ];
        for (value, expected) in table {
            assert_eq!(truthy(&value), expected, "{value}");
        }
    }

    #[test]
    fn equality() {
        let table = [
            (json!(1), json!(1.0), true),
            (json!(true), json!(1), true),
            (json!(false), json!(0.0), true),
            (json!("1"), json!(1), false),
            (json!(null), json!(false), false),
            (json!([1, [2]]), json!([1.0, [2]]), true),
            (json!([1]), json!([1, 2]), false),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1}), true),
            (json!({"a": 1}), json!({"a": 2}), false),
        ];
        for (a, b, expected) in table {
            assert_eq!(py_eq(&a, &b), expected, "{a} == {b}");
            assert_eq!(identity(&a) == identity(&b), expected, "identity {a} / {b}");
        }
    }

    #[test]
    fn order() {
        let table = [
            (json!(1), json!(2.5), Ordering::Less),
            (json!(3), json!(3.0), Ordering::Equal),
            (json!("b"), json!("a"), Ordering::Greater),
            (json!(null), json!(0), Ordering::Less),
            (json!("x"), json!(null), Ordering::Greater),
            (json!(null), json!(null), Ordering::Equal),
            (json!([1, 2]), json!([1, 3]), Ordering::Less),
            (json!([1, 2]), json!([1]), Ordering::Greater),
        ];
        for (a, b, expected) in table {
            assert_eq!(compare(&a, &b), Some(expected), "{a} vs {b}");
        }
        let errors = [(json!(1), json!("1")), (json!(true), json!(false)), (json!({}), json!({}))];
        for (a, b) in errors {
            assert_eq!(compare(&a, &b), None, "{a} vs {b}");
        }
    }
}
