//! The `version_*` functions (`st2common/expressions/functions/version.py`), which use the
//! `semver` package (3.0): strict `MAJOR.MINOR.PATCH[-pre][+build]` without leading zeros,
//! comparisons giving -1, 0 or 1 (a pre-release sorts before its release, build metadata is
//! ignored), `version_match` with `<`, `>`, `<=`, `>=`, `==`, `!=` (or no operator for
//! equality), and bumps that drop the pre-release and build.
//!
//! Owns: parsing and ordering versions. Must not: know about packs.

use std::cmp::Ordering;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::FunctionError;
use super::signature::{Bound, python_type};

/// A parsed version.
#[derive(Debug, Clone, PartialEq)]
struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    prerelease: Option<String>,
}

fn semver() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        let number = r"0|[1-9][0-9]*";
        let identifier = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)";
        let pattern = format!(
            r"^({number})\.({number})\.({number})(?:-({identifier}(?:\.{identifier})*))?(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?$"
        );
        Regex::new(&pattern).expect("a valid regex")
    })
}

/// `semver.Version.parse`.
fn parse(value: &Value) -> Result<Version, FunctionError> {
    let Value::String(text) = value else {
        return Err(FunctionError::WrongType(format!("not expecting type '<class '{}'>'", python_type(value))));
    };
    // Python's `$` also matches before a final newline.
    let trimmed = text.strip_suffix('\n').unwrap_or(text);
    let invalid = || FunctionError::InvalidValue(format!("{text} is not valid SemVer string"));
    let caps = semver().captures(trimmed).ok_or_else(invalid)?;
    let number = |at: usize| caps.get(at).and_then(|m| m.as_str().parse::<u64>().ok()).ok_or_else(invalid);
    Ok(Version {
        major: number(1)?,
        minor: number(2)?,
        patch: number(3)?,
        prerelease: caps.get(4).map(|m| m.as_str().to_string()),
    })
}

/// `Version.compare`: the numbers, then the pre-release (none is greater).
fn compare(a: &Version, b: &Version) -> Ordering {
    (a.major, a.minor, a.patch).cmp(&(b.major, b.minor, b.patch)).then_with(|| {
        let order = prerelease_order(a.prerelease.as_deref().unwrap_or(""), b.prerelease.as_deref().unwrap_or(""));
        match (&a.prerelease, &b.prerelease) {
            _ if order == Ordering::Equal => Ordering::Equal,
            (None, _) => Ordering::Greater,
            (_, None) => Ordering::Less,
            _ => order,
        }
    })
}

/// Dot-separated identifiers compared one by one (numbers as numbers, below words), then by
/// count.
fn prerelease_order(a: &str, b: &str) -> Ordering {
    let a_parts: Vec<&str> = a.split('.').collect();
    let b_parts: Vec<&str> = b.split('.').collect();
    for (x, y) in a_parts.iter().zip(&b_parts) {
        let order =
            match (x.parse::<u64>().ok().filter(|_| is_digits(x)), y.parse::<u64>().ok().filter(|_| is_digits(y))) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => x.cmp(y),
            };
        if order != Ordering::Equal {
            return order;
        }
    }
    a_parts.len().cmp(&b_parts.len())
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn sign(order: Ordering) -> i64 {
    order as i64
}

/// `Version.parse(value).compare(other)`: `other` must be a string here (semver also takes
/// the parts as a list or dict; st2d does not).
fn compared(args: &Bound) -> Result<Ordering, FunctionError> {
    let version = parse(args.arg(0))?;
    let other = args.arg(1);
    if !other.is_string() {
        return Err(FunctionError::WrongType(format!(
            "Expected str, bytes, dict, tuple, list, or Version instance, but got <class '{}'>",
            python_type(other)
        )));
    }
    Ok(compare(&version, &parse(other)?))
}

/// `version_compare(value, pattern)`: -1, 0 or 1.
pub(super) fn version_compare(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::from(sign(compared(args)?)))
}

pub(super) fn version_more_than(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::Bool(compared(args)? == Ordering::Greater))
}

pub(super) fn version_less_than(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::Bool(compared(args)? == Ordering::Less))
}

pub(super) fn version_equal(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::Bool(compared(args)? == Ordering::Equal))
}

/// `version_match(value, pattern)`: `pattern` is an operator and a version, taken as written
/// (no blanks are trimmed).
pub(super) fn version_match(args: &Bound) -> Result<Value, FunctionError> {
    let version = parse(args.arg(0))?;
    let Value::String(expression) = args.arg(1) else {
        let other = args.arg(1);
        return Err(FunctionError::WrongType(format!("'{}' object is not subscriptable", python_type(other))));
    };
    let (operator, other) = ["<=", ">=", "==", "!=", "<", ">"]
        .iter()
        .find_map(|op| expression.strip_prefix(op).map(|rest| (*op, rest)))
        .or_else(|| expression.starts_with(|c: char| c.is_ascii_digit()).then_some(("==", expression.as_str())))
        .ok_or_else(|| {
            FunctionError::InvalidValue(format!(
                "match_expr parameter should be in format <op><ver>, where <op> is one of ['<', '>', '==', '<=', \
                 '>=', '!=']. You provided: {}",
                crate::pyfmt::string_repr(expression)
            ))
        })?;
    let order = compare(&version, &parse(&Value::String(other.to_string()))?);
    Ok(Value::Bool(match operator {
        "<=" => order.is_le(),
        ">=" => order.is_ge(),
        "==" => order.is_eq(),
        "!=" => order.is_ne(),
        "<" => order.is_lt(),
        _ => order.is_gt(),
    }))
}

pub(super) fn version_bump_major(args: &Bound) -> Result<Value, FunctionError> {
    let v = parse(args.arg(0))?;
    Ok(Value::String(format!("{}.0.0", v.major + 1)))
}

pub(super) fn version_bump_minor(args: &Bound) -> Result<Value, FunctionError> {
    let v = parse(args.arg(0))?;
    Ok(Value::String(format!("{}.{}.0", v.major, v.minor + 1)))
}

pub(super) fn version_bump_patch(args: &Bound) -> Result<Value, FunctionError> {
    let v = parse(args.arg(0))?;
    Ok(Value::String(format!("{}.{}.{}", v.major, v.minor, v.patch + 1)))
}

pub(super) fn version_strip_patch(args: &Bound) -> Result<Value, FunctionError> {
    let v = parse(args.arg(0))?;
    Ok(Value::String(format!("{}.{}", v.major, v.minor)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_order_as_semver_orders_them() {
        let order = |a: &str, b: &str| {
            let parsed = |t: &str| parse(&json!(t)).expect("a version");
            sign(compare(&parsed(a), &parsed(b)))
        };
        // python-semver's documented examples (src/semver/version.py, docs/usage).
        assert_eq!(order("1.0.0", "2.0.0"), -1);
        assert_eq!(order("1.0.0-rc.1", "1.0.0"), -1);
        assert_eq!(order("1.0.0-alpha", "1.0.0-alpha.1"), -1);
        assert_eq!(order("1.0.0-alpha.1", "1.0.0-alpha.beta"), -1);
        assert_eq!(order("1.0.0-rc.2", "1.0.0-rc.10"), -1);
        assert_eq!(order("1.0.0+build.1", "1.0.0+build.2"), 0);
        for bad in ["1.0", "01.0.0", "1.0.0-", "v1.0.0", "1.0.0-01"] {
            assert!(parse(&json!(bad)).is_err(), "{bad}");
        }
    }
}
