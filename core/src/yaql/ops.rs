//! The arithmetic and membership operators on values: `+ - * / mod`, unary `-`/`+`, and `in`.
//!
//! Owns: what each operator does for each pair of types (int op int stays int; `/` on two
//! integers is floor division, as YAQL does), and the size cap on repetition. Must not:
//! evaluate expressions (operands arrive evaluated) or decide precedence.

use serde_json::{Map, Value};

use super::EvalError;
use super::values::{Num, a_type, err, float_value, key_string, number, py_eq};

/// The most items (or bytes) a repetition (`list * n`, `string * n`) may produce.
pub(crate) const MAX_REPEAT: usize = 1_000_000;

fn mismatch(op: &str, a: &Value, b: &Value) -> EvalError {
    err(format!("operator \"{op}\" does not apply to {} and {}", a_type(a), a_type(b)))
}

fn overflow(op: &str) -> EvalError {
    err(format!("integer overflow in \"{op}\""))
}

/// Applies an integer operation when both are integers, else the float one.
fn arith(
    a: &Value,
    b: &Value,
    int: impl Fn(i64, i64) -> Result<i64, EvalError>,
    float: impl Fn(f64, f64) -> Result<f64, EvalError>,
) -> Option<Result<Value, EvalError>> {
    let (x, y) = (number(a)?, number(b)?);
    Some(match (x, y) {
        (Num::Int(x), Num::Int(y)) => int(x, y).map(Value::from),
        _ => float(x.as_f64(), y.as_f64()).and_then(float_value),
    })
}

fn checked(result: Option<i64>, op: &str) -> Result<i64, EvalError> {
    result.ok_or_else(|| overflow(op))
}

/// `+`: numbers add, strings and lists concatenate, dicts merge (the right side wins).
pub(crate) fn add(a: Value, b: Value) -> Result<Value, EvalError> {
    if let Some(result) = arith(&a, &b, |x, y| checked(x.checked_add(y), "+"), |x, y| Ok(x + y)) {
        return result;
    }
    match (a, b) {
        (Value::String(mut x), Value::String(y)) => {
            x.push_str(&y);
            Ok(Value::String(x))
        }
        (Value::Array(mut x), Value::Array(y)) => {
            x.extend(y);
            Ok(Value::Array(x))
        }
        (Value::Object(mut x), Value::Object(y)) => {
            x.extend(y);
            Ok(Value::Object(x))
        }
        (a, b) => Err(mismatch("+", &a, &b)),
    }
}

/// `-` on numbers.
pub(crate) fn sub(a: &Value, b: &Value) -> Result<Value, EvalError> {
    arith(a, b, |x, y| checked(x.checked_sub(y), "-"), |x, y| Ok(x - y)).unwrap_or_else(|| Err(mismatch("-", a, b)))
}

/// `*` on numbers, and a list or string repeated an integer number of times.
pub(crate) fn mul(a: &Value, b: &Value) -> Result<Value, EvalError> {
    if let Some(result) = arith(a, b, |x, y| checked(x.checked_mul(y), "*"), |x, y| Ok(x * y)) {
        return result;
    }
    let (seq, times) = match (a, b) {
        (Value::Array(_) | Value::String(_), Value::Number(n)) if n.is_i64() => (a, n.as_i64().unwrap_or(0)),
        (Value::Number(n), Value::Array(_) | Value::String(_)) if n.is_i64() => (b, n.as_i64().unwrap_or(0)),
        _ => return Err(mismatch("*", a, b)),
    };
    let times = usize::try_from(times).unwrap_or(0);
    let size = match seq {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        _ => 0,
    };
    if size.saturating_mul(times) > MAX_REPEAT {
        return Err(err(format!("result of \"*\" would be too large (more than {MAX_REPEAT} items or bytes)")));
    }
    Ok(match seq {
        Value::String(s) => Value::String(s.repeat(times)),
        Value::Array(items) => Value::Array(items.iter().cloned().cycle().take(items.len() * times).collect()),
        _ => Value::Null,
    })
}

/// `/`: floor division for two integers (Python's `//`, as YAQL does), true division otherwise.
pub(crate) fn div(a: &Value, b: &Value) -> Result<Value, EvalError> {
    let zero = || err("division by zero");
    let int = |x: i64, y: i64| {
        if y == 0 {
            return Err(zero());
        }
        let q = x.checked_div(y).ok_or_else(|| overflow("/"))?;
        Ok(if (x % y != 0) && ((x < 0) != (y < 0)) { q - 1 } else { q })
    };
    let float = |x: f64, y: f64| if y == 0.0 { Err(zero()) } else { Ok(x / y) };
    arith(a, b, int, float).unwrap_or_else(|| Err(mismatch("/", a, b)))
}

/// `mod`: Python's `%`, the result taking the sign of the divisor.
pub(crate) fn modulo(a: &Value, b: &Value) -> Result<Value, EvalError> {
    let zero = || err("modulo by zero");
    let int = |x: i64, y: i64| {
        if y == 0 {
            return Err(zero());
        }
        let r = x.checked_rem(y).unwrap_or(0);
        Ok(if r != 0 && ((r < 0) != (y < 0)) { r + y } else { r })
    };
    let float = |x: f64, y: f64| {
        if y == 0.0 {
            return Err(zero());
        }
        let r = x % y;
        Ok(if r != 0.0 && ((r < 0.0) != (y < 0.0)) { r + y } else { r })
    };
    arith(a, b, int, float).unwrap_or_else(|| Err(mismatch("mod", a, b)))
}

/// Unary `-` (or `+` when `negate` is false) on a number.
pub(crate) fn unary(value: &Value, negate: bool) -> Result<Value, EvalError> {
    let symbol = if negate { "-" } else { "+" };
    match number(value) {
        Some(Num::Int(i)) if negate => i.checked_neg().map(Value::from).ok_or_else(|| overflow(symbol)),
        Some(Num::Float(f)) if negate => float_value(-f),
        Some(_) => Ok(value.clone()),
        None => Err(err(format!("unary \"{symbol}\" expects a number, got {}", a_type(value)))),
    }
}

/// `in`: an item of a list, a substring of a string, or a key of a dict.
pub(crate) fn member_of(needle: &Value, haystack: &Value) -> Result<bool, EvalError> {
    match (needle, haystack) {
        (_, Value::Array(items)) => Ok(items.iter().any(|item| py_eq(item, needle))),
        (Value::String(n), Value::String(h)) => Ok(h.contains(n.as_str())),
        (_, Value::Object(map)) => Ok(contains_key(map, needle)),
        _ => Err(mismatch("in", needle, haystack)),
    }
}

/// Whether `map` has `key` (a non-string key is looked up as its text).
pub(crate) fn contains_key(map: &Map<String, Value>, key: &Value) -> bool {
    map.contains_key(&key_string(key))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    type Op = fn(&Value, &Value) -> Result<Value, EvalError>;

    fn add_ref(a: &Value, b: &Value) -> Result<Value, EvalError> {
        add(a.clone(), b.clone())
    }

    #[test]
    fn arithmetic() {
        let table: Vec<(Op, Value, Value, Value)> = vec![
            (add_ref, json!(1), json!(2), json!(3)),
            (add_ref, json!(1), json!(0.5), json!(1.5)),
            (add_ref, json!("a"), json!("b"), json!("ab")),
            (add_ref, json!([1]), json!([2]), json!([1, 2])),
            (add_ref, json!({"a": 1, "b": 2}), json!({"b": 3, "c": 4}), json!({"a": 1, "b": 3, "c": 4})),
            (sub, json!(5), json!(7), json!(-2)),
            (mul, json!(3), json!(4), json!(12)),
            (mul, json!("ab"), json!(3), json!("ababab")),
            (mul, json!(2), json!([1, 2]), json!([1, 2, 1, 2])),
            (mul, json!([1]), json!(-1), json!([])),
            (div, json!(7), json!(2), json!(3)),
            (div, json!(-7), json!(2), json!(-4)),
            (div, json!(7), json!(2.0), json!(3.5)),
            (modulo, json!(7), json!(3), json!(1)),
            (modulo, json!(-7), json!(3), json!(2)),
            (modulo, json!(7), json!(-3), json!(-2)),
            (modulo, json!(7.5), json!(2), json!(1.5)),
        ];
        for (op, a, b, expected) in table {
            assert_eq!(op(&a, &b), Ok(expected.clone()), "{a} op {b}");
        }
    }

    #[test]
    fn arithmetic_errors() {
        let table: Vec<(Op, Value, Value, &str)> = vec![
            (add_ref, json!("a"), json!(1), "operator \"+\" does not apply to a string and an integer"),
            (add_ref, json!(true), json!(1), "operator \"+\" does not apply to a boolean"),
            (add_ref, json!(i64::MAX), json!(1), "integer overflow in \"+\""),
            (sub, json!([1]), json!([1]), "operator \"-\" does not apply to a list and a list"),
            (div, json!(1), json!(0), "division by zero"),
            (div, json!(1.0), json!(0), "division by zero"),
            (div, json!(i64::MIN), json!(-1), "integer overflow in \"/\""),
            (modulo, json!(1), json!(0), "modulo by zero"),
            (mul, json!("x"), json!(10_000_000), "too large"),
            (mul, json!(1e300), json!(1e300), "not a finite number"),
            (mul, json!("x"), json!(1.5), "operator \"*\" does not apply"),
        ];
        for (op, a, b, message) in table {
            let e = op(&a, &b).expect_err("operation must fail");
            assert!(e.message.contains(message), "{a} op {b}: {}", e.message);
        }
    }

    #[test]
    fn membership() {
        assert_eq!(member_of(&json!(1), &json!([1.0, 2])), Ok(true));
        assert_eq!(member_of(&json!("b"), &json!("abc")), Ok(true));
        assert_eq!(member_of(&json!("k"), &json!({"k": 1})), Ok(true));
        assert_eq!(member_of(&json!(3), &json!([1, 2])), Ok(false));
        assert!(member_of(&json!(1), &json!("abc")).is_err());
        assert_eq!(unary(&json!(2), true), Ok(json!(-2)));
        assert!(unary(&json!(i64::MIN), true).is_err());
        assert!(unary(&json!("a"), false).is_err());
    }
}
