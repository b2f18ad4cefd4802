//! `to_human_time_from_seconds` (`st2common/expressions/functions/time.py`): `12345` is
//! `3h25m45s`.
//!
//! Owns: the text, with StackStorm's way of getting it: the seconds are added to 0001-01-01
//! and the text reads the year, the day of the month, the hour, minute and second of that
//! date, from the first one that is not zero. So months are not shown (40 days is `9d0h0m0s`,
//! the 10th of February), as in StackStorm. Below one second the number is printed with `μs`
//! as it is (`0.5μs`, `-3μs`). Must not: read the clock.

use chrono::{Datelike, Duration, NaiveDate, Timelike};
use serde_json::Value;

use super::FunctionError;
use super::signature::Bound;
use crate::pyfmt::py_str;

/// Python's `timedelta` allows at most this many days.
const MAX_DAYS: i64 = 999_999_999;

/// `to_human_time_from_seconds(seconds)`.
pub(super) fn to_human_time_from_seconds(args: &Bound) -> Result<Value, FunctionError> {
    let seconds = args.arg(0);
    let whole = match seconds {
        Value::Bool(flag) => i64::from(*flag),
        Value::Number(n) => {
            let float = n.as_f64().unwrap_or_default();
            if float == 0.0 {
                return Ok(Value::String("0s".to_string()));
            }
            if float < 1.0 {
                return Ok(Value::String(format!("{}\u{3bc}s", py_str(seconds))));
            }
            match n.as_i64() {
                Some(int) => int,
                // Python's round(): halves go to the even neighbour.
                None => float.round_ties_even().min(i64::MAX as f64) as i64,
            }
        }
        _ => return Err(FunctionError::NotANumber),
    };
    if whole == 0 {
        return Ok(Value::String("0s".to_string()));
    }
    Ok(Value::String(human_time(whole)?))
}

fn human_time(seconds: i64) -> Result<String, FunctionError> {
    let days = seconds / 86_400;
    if days > MAX_DAYS {
        return Err(FunctionError::OutOfRange(format!("days={days}; must have magnitude <= {MAX_DAYS}")));
    }
    let date = NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|start| start.and_hms_opt(0, 0, 0))
        .and_then(|start| start.checked_add_signed(Duration::seconds(seconds)))
        .filter(|date| date.year() <= 9999)
        .ok_or_else(|| FunctionError::OutOfRange("date value out of range".to_string()))?;
    let parts = [
        (i64::from(date.year() - 1), "y"),
        (i64::from(date.day() - 1), "d"),
        (i64::from(date.hour()), "h"),
        (i64::from(date.minute()), "m"),
        (i64::from(date.second()), "s"),
    ];
    let Some(first) = parts.iter().position(|(n, _)| *n != 0) else { return Ok("0s".to_string()) };
    Ok(parts[first..].iter().map(|(n, unit)| format!("{n}{unit}")).collect())
}
