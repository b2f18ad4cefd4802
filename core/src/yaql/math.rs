//! The library's number functions and conversions: `int`, `float`, `bool`, `abs`, `round`,
//! `pow`, `sign`, `random`, `isInteger`, `isNumber`, `isBoolean`.
//!
//! Owns: Python's semantics for them (`int(null)` is 0, `int('12')` parses, `round` rounds
//! half to even), and the random generator (xorshift, seeded from the clock; not for
//! secrets). Must not: evaluate expressions or call the host.

use serde_json::Value;

use super::EvalError;
use super::eval::Evaluator;
use super::library::{Args, Param};
use super::values::{Num, a_type, err, float_value, num_value, number, truthy};

fn one<'a>(a: &'a Args, param: &str) -> Result<&'a Value, EvalError> {
    let slots = a.bind(&[param], 1)?;
    slots[0].ok_or_else(|| err(format!("{}() is missing its argument \"{param}\"", a.name)))
}

fn num_arg(a: &Args, param: &str, value: &Value) -> Result<Num, EvalError> {
    number(value).ok_or_else(|| err(format!("{}() expects a number for \"{param}\", got {}", a.name, a_type(value))))
}

/// `int(value)`: null is 0, floats truncate, strings parse as Python's `int()` does.
pub(crate) fn int(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let value = one(a, "value")?;
    let cannot = || err(format!("int() cannot convert {} {value}", a_type(value)));
    match value {
        Value::Null => Ok(Value::from(0)),
        Value::Bool(b) => Ok(Value::from(i64::from(*b))),
        Value::String(s) => {
            let digits = s.trim().replace('_', "");
            let valid = !s.trim().starts_with('_') && !s.trim().ends_with('_') && !s.contains("__");
            digits.parse::<i64>().ok().filter(|_| valid).map(Value::from).ok_or_else(cannot)
        }
        _ => match number(value) {
            Some(Num::Int(i)) => Ok(Value::from(i)),
            Some(Num::Float(f)) if f.abs() < 9.2e18 => Ok(Value::from(f.trunc() as i64)),
            _ => Err(cannot()),
        },
    }
}

/// `float(value)`: null is 0.0, strings parse.
pub(crate) fn float(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let value = one(a, "value")?;
    let f = match value {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| err(format!("float() cannot convert the string {s:?}")))?,
        _ => num_arg(a, "value", value)?.as_f64(),
    };
    float_value(f)
}

/// `bool(value)`: Python truthiness.
pub(crate) fn bool_(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::Bool(truthy(one(a, "value")?)))
}

pub(crate) fn abs(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    match num_arg(a, "number", one(a, "number")?)? {
        Num::Int(i) => i.checked_abs().map(Value::from).ok_or_else(|| err("integer overflow in abs()")),
        Num::Float(f) => float_value(f.abs()),
    }
}

/// `round(number, ndigits => 0)`: half to even; integers stay integers.
pub(crate) fn round(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["number", "ndigits"], 1)?;
    let n = num_arg(a, "number", slots[0].unwrap_or(&Value::Null))?;
    let digits = slots[1].map(|d| Param(a.name, "ndigits").int(d)).transpose()?.unwrap_or(0).clamp(-400, 400);
    let digits = i32::try_from(digits).unwrap_or(0);
    match n {
        Num::Int(i) if digits >= 0 => Ok(Value::from(i)),
        Num::Int(i) => {
            let rounded = ((i as f64) / 10f64.powi(-digits)).round_ties_even() * 10f64.powi(-digits);
            if rounded.abs() < 9.2e18 {
                Ok(Value::from(rounded as i64))
            } else {
                Err(err("integer overflow in round()"))
            }
        }
        // Formatting rounds the exact binary value half to even, as Python's `round` does
        // (so `round(2.675, 2)` is 2.67: 2.675 is stored a little below it).
        Num::Float(f) if digits >= 0 => {
            let digits = usize::try_from(digits.min(340)).unwrap_or(0);
            float_value(format!("{f:.digits$}").parse().unwrap_or(f))
        }
        Num::Float(f) => {
            let scale = 10f64.powi(-digits);
            let rounded = (f / scale).round_ties_even() * scale;
            float_value(if rounded.is_finite() { rounded } else { f })
        }
    }
}

/// `pow(a, b, c => null)`: integer powers stay integers; with `c`, the power modulo `c`.
pub(crate) fn pow(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["a", "b", "c"], 2)?;
    let base = num_arg(a, "a", slots[0].unwrap_or(&Value::Null))?;
    let exponent = num_arg(a, "b", slots[1].unwrap_or(&Value::Null))?;
    let modulus = slots[2].filter(|m| !m.is_null()).map(|m| Param(a.name, "c").int(m)).transpose()?;
    match (base, exponent, modulus) {
        (Num::Int(x), Num::Int(y), Some(m)) if y >= 0 && m != 0 => {
            let (mut result, mut x, mut y, m) = (1i128, i128::from(x).rem_euclid(i128::from(m)), y, i128::from(m));
            while y > 0 {
                if y & 1 == 1 {
                    result = (result * x).rem_euclid(m);
                }
                x = (x * x).rem_euclid(m);
                y >>= 1;
            }
            let result = if m < 0 && result > 0 { result + m } else { result };
            Ok(Value::from(i64::try_from(result).unwrap_or(0)))
        }
        (_, _, Some(_)) => {
            Err(err("pow() with a modulus needs integers, a non-negative exponent and a non-zero modulus"))
        }
        (Num::Int(x), Num::Int(y), None) if y >= 0 => u32::try_from(y)
            .ok()
            .and_then(|y| x.checked_pow(y))
            .map(Value::from)
            .ok_or_else(|| err("integer overflow in pow()")),
        (x, y, None) => num_value(Num::Float(x.as_f64().powf(y.as_f64()))),
    }
}

pub(crate) fn sign(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let n = num_arg(a, "number", one(a, "number")?)?.as_f64();
    Ok(Value::from(if n > 0.0 {
        1
    } else if n < 0.0 {
        -1
    } else {
        0
    }))
}

/// `random()`: a float in [0, 1); `random(from, to)`: an integer in [from, to].
pub(crate) fn random(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    match a.exactly(0, 2)? {
        [] => float_value((crate::random::next_u64() >> 11) as f64 / (1u64 << 53) as f64),
        [from, to] => {
            let (from, to) = (Param(a.name, "from").int(from)?, Param(a.name, "to").int(to)?);
            if from > to {
                return Err(err(format!("random() has an empty range: {from} > {to}")));
            }
            let span = (i128::from(to) - i128::from(from) + 1) as u128;
            let offset = i128::try_from(u128::from(crate::random::next_u64()) % span).unwrap_or(0);
            Ok(Value::from(i64::try_from(i128::from(from) + offset).unwrap_or(from)))
        }
        _ => Err(err("random() takes no arguments, or from and to")),
    }
}

pub(crate) fn is_integer(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::Bool(matches!(number(one(a, "value")?), Some(Num::Int(_)))))
}

pub(crate) fn is_number(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::Bool(number(one(a, "value")?).is_some()))
}

pub(crate) fn is_boolean(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    Ok(Value::Bool(one(a, "value")?.is_boolean()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{check_errors, check_values};

    #[test]
    fn numbers() {
        let n = json!(null);
        check_values(&[
            (
                "[int(null), int(true), int(2.9), int(-2.9), int(' 12 '), int('-3'), int('1_000')]",
                n.clone(),
                json!([0, 1, 2, -2, 12, -3, 1000]),
            ),
            (
                "[float(null), float(2), float('1.5'), float(' 2 '), float(false)]",
                n.clone(),
                json!([0.0, 2.0, 1.5, 2.0, 0.0]),
            ),
            ("[bool(0), bool('x'), bool([]), bool({a => 1})]", n.clone(), json!([false, true, false, true])),
            ("[abs(-3), abs(-1.5)]", n.clone(), json!([3, 1.5])),
            (
                "[round(2.5), round(3.5), round(2.675, 2), round(7), round(1234, -2), round(-0.5), round(1250.0, -2)]",
                n.clone(),
                json!([2.0, 4.0, 2.67, 7, 1200, -0.0, 1200.0]),
            ),
            (
                "[pow(2, 10), pow(2, -1), pow(2.0, 2), pow(3, 4, 5), pow(-3, 3, 5)]",
                n.clone(),
                json!([1024, 0.5, 4.0, 1, 3]),
            ),
            ("[sign(-2), sign(0), sign(0.5)]", n.clone(), json!([-1, 0, 1])),
            (
                "[isInteger(1), isInteger(1.0), isInteger(true), isNumber(1.5), isNumber('1'), isBoolean(false)]",
                n.clone(),
                json!([true, false, false, true, false, true]),
            ),
            ("random(5, 5)", n.clone(), json!(5)),
            ("range(200).select(random(1, 3)).distinct().orderBy($)", n.clone(), json!([1, 2, 3])),
            ("range(100).all(random() >= 0 and random() < 1)", n.clone(), json!(true)),
        ]);
        check_errors(&[
            ("int('1.5')", n.clone(), "int() cannot convert a string \"1.5\""),
            ("int([])", n.clone(), "int() cannot convert a list"),
            ("float('x')", n.clone(), "float() cannot convert the string \"x\""),
            ("float('inf')", n.clone(), "float() cannot convert"),
            ("abs('a')", n.clone(), "abs() expects a number for \"number\", got a string"),
            ("pow(10, 100)", n.clone(), "integer overflow in pow()"),
            ("random(3, 1)", n.clone(), "random() has an empty range"),
            ("random(1)", n.clone(), "random() takes no arguments, or from and to"),
            ("random(1.5, 2)", n.clone(), "random() expects an integer for \"from\""),
        ]);
    }
}
