//! The data functions (`st2common/expressions/functions/data.py`): JSON and YAML in and out,
//! `json_escape`, `jsonpath_query`, `to_complex` and `use_none`.
//!
//! Owns: their arguments and results. A value that is not a string is read as the text Python's
//! `str()` gives it (so a dict fails to parse, as in StackStorm). Must not: render templates.

use serde_json::Value;

use super::signature::{Bound, python_type, truthy};
use super::{FunctionError, jsonpath, pyjson, pyyaml};
use crate::pyfmt::{self, py_str};
use crate::template::NONE_MAGIC;

/// `from_json_string(value)`: the JSON document in the value's text.
pub(super) fn from_json_string(args: &Bound) -> Result<Value, FunctionError> {
    parse_json(&py_str(args.arg(0)))
}

/// The JSON document `text`, or Python's `JSONDecodeError` text.
pub(crate) fn parse_json(text: &str) -> Result<Value, FunctionError> {
    serde_json::from_str(text).map_err(|error| FunctionError::NotJson(pyjson::decode_error(text, &error)))
}

/// `from_yaml_string(value)`: the YAML document in the value's text.
pub(super) fn from_yaml_string(args: &Bound) -> Result<Value, FunctionError> {
    crate::yaml::parse(&py_str(args.arg(0))).map_err(|error| {
        let at = error.line.map(|line| format!(" (line {line})")).unwrap_or_default();
        FunctionError::NotYaml(format!("{}{at}", error.message))
    })
}

/// `to_json_string(value, indent=None, sort_keys=False, separators=(",", ": "))`. The default
/// separators are StackStorm's: items are joined by `,` with no blank.
pub(super) fn to_json_string(args: &Bound) -> Result<Value, FunctionError> {
    let indent = match args.arg(1) {
        Value::Null => None,
        Value::Bool(flag) => Some(" ".repeat(usize::from(*flag))),
        Value::Number(n) if !n.is_f64() => Some(" ".repeat(usize::try_from(n.as_i64().unwrap_or(0)).unwrap_or(0))),
        Value::String(text) => Some(text.clone()),
        other => {
            return Err(FunctionError::WrongType(format!(
                "can't multiply sequence by non-int of type '{}'",
                python_type(other)
            )));
        }
    };
    let (item_separator, key_separator) = match args.given(3) {
        None => (",".to_string(), ": ".to_string()),
        Some(Value::Null) if indent.is_none() => (", ".to_string(), ": ".to_string()),
        Some(Value::Null) => (",".to_string(), ": ".to_string()),
        Some(separators) => separator_pair(separators)?,
    };
    let sort_keys = args.given(2).is_some_and(truthy);
    let layout = pyjson::Layout { indent, sort_keys, item_separator, key_separator };
    Ok(Value::String(pyjson::dumps(args.arg(0), &layout)))
}

/// `separators` unpacked into two strings, as Python unpacks a pair.
fn separator_pair(separators: &Value) -> Result<(String, String), FunctionError> {
    let parts: Vec<Value> = match separators {
        Value::Array(items) => items.clone(),
        Value::String(text) => text.chars().map(|c| Value::String(c.to_string())).collect(),
        other => {
            return Err(FunctionError::WrongType(format!("cannot unpack non-iterable {} object", python_type(other))));
        }
    };
    match parts.as_slice() {
        [Value::String(item), Value::String(key)] => Ok((item.clone(), key.clone())),
        [_, _] => Err(FunctionError::WrongType("separators must be strings".to_string())),
        more if more.len() > 2 => {
            Err(FunctionError::InvalidValue("too many values to unpack (expected 2)".to_string()))
        }
        fewer => {
            Err(FunctionError::InvalidValue(format!("not enough values to unpack (expected 2, got {})", fewer.len())))
        }
    }
}

/// `to_yaml_string(value, indent=None, allow_unicode=True)`: PyYAML's block style.
pub(super) fn to_yaml_string(args: &Bound) -> Result<Value, FunctionError> {
    let indent = args.arg(1).as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(2);
    let allow_unicode = args.given(2).is_none_or(truthy);
    Ok(Value::String(pyyaml::dump(args.arg(0), &pyyaml::Style { indent, allow_unicode })))
}

/// `json_escape(value)`: the value as JSON, without the quotes around it (every `"` at either
/// end goes, as Python's `strip('"')` does).
pub(super) fn json_escape(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::String(pyfmt::json_dumps(args.arg(0)).trim_matches('"').to_string()))
}

/// `jsonpath_query(value, query)`: the list of matches, or null when nothing matches.
pub(super) fn jsonpath_query(args: &Bound) -> Result<Value, FunctionError> {
    let Value::String(query) = args.arg(1) else {
        // PLY's lexer refuses anything but text so.
        return Err(FunctionError::InvalidValue("Expected a string".to_string()));
    };
    let found = jsonpath::find(args.arg(0), query)?;
    Ok(if found.is_empty() { Value::Null } else { Value::Array(found) })
}

/// `to_complex(value)`: `json.dumps(value)` (a rule filter; Orquesta does not register it).
pub(super) fn to_complex(args: &Bound) -> Result<Value, FunctionError> {
    Ok(Value::String(pyfmt::json_dumps(args.arg(0))))
}

/// `use_none(value)`: the value, but null becomes the text that parameter casting turns back
/// into null.
pub(super) fn use_none(args: &Bound) -> Result<Value, FunctionError> {
    Ok(match args.arg(0) {
        Value::Null => Value::String(NONE_MAGIC.to_string()),
        other => other.clone(),
    })
}
