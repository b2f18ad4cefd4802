//! StackStorm's Jinja filters (`st2common/util/jinja.py`): JSON and YAML, regular expressions,
//! versions, time, paths, `to_complex`, `use_none`, `decrypt_kv`.
//!
//! Owns: those filters' behaviour. Must not: know where a render's values come from.

use minijinja::value::{Kwargs, Value as Jinja};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::Value;

use super::{NONE_MAGIC, kv::Lookup, to_json};
use crate::pyfmt;

pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_complex", |v: Jinja| pyfmt::json_dumps(&to_json(&v)));
    env.add_filter("to_json_string", to_json_string);
    env.add_filter("to_yaml_string", to_yaml_string);
    env.add_filter("from_json_string", |text: String| -> Result<Jinja, Error> {
        let value: Value = serde_json::from_str(&text).map_err(|e| invalid(format!("from_json_string: {e}")))?;
        Ok(Jinja::from(minijinja::value::Serde(&value)))
    });
    env.add_filter("from_yaml_string", |text: String| -> Result<Jinja, Error> {
        let value = crate::yaml::parse(&text).map_err(|e| invalid(format!("from_yaml_string: {e}")))?;
        Ok(Jinja::from(minijinja::value::Serde(&value)))
    });
    env.add_filter("json_escape", |text: String| {
        let quoted = pyfmt::json_dumps(&Value::String(text));
        quoted[1..quoted.len() - 1].to_string()
    });
    env.add_filter("regex_match", |v: String, pattern: String, kwargs: Kwargs| -> Result<bool, Error> {
        let re = regex(&format!("^(?:{pattern})"), &kwargs)?;
        Ok(re.is_match(&v))
    });
    env.add_filter("regex_search", |v: String, pattern: String, kwargs: Kwargs| -> Result<bool, Error> {
        Ok(regex(&pattern, &kwargs)?.is_match(&v))
    });
    env.add_filter(
        "regex_replace",
        |v: String, pattern: String, replacement: String, kwargs: Kwargs| -> Result<String, Error> {
            let re = regex(&pattern, &kwargs)?;
            Ok(re.replace_all(&v, python_replacement(&replacement).as_str()).into_owned())
        },
    );
    env.add_filter("regex_substring", regex_substring);
    env.add_filter("to_human_time_from_seconds", |seconds: f64| human_time(seconds));
    env.add_filter("version_compare", |a: String, b: String| -> Result<i64, Error> {
        Ok(compare(&version(&a)?, &version(&b)?) as i64)
    });
    env.add_filter("version_more_than", |a: String, b: String| -> Result<bool, Error> {
        Ok(compare(&version(&a)?, &version(&b)?) > 0)
    });
    env.add_filter("version_less_than", |a: String, b: String| -> Result<bool, Error> {
        Ok(compare(&version(&a)?, &version(&b)?) < 0)
    });
    env.add_filter("version_equal", |a: String, b: String| -> Result<bool, Error> {
        Ok(compare(&version(&a)?, &version(&b)?) == 0)
    });
    env.add_filter("version_match", version_match);
    env.add_filter("version_bump_major", |v: String| -> Result<String, Error> {
        let v = version(&v)?;
        Ok(format!("{}.0.0", v.0 + 1))
    });
    env.add_filter("version_bump_minor", |v: String| -> Result<String, Error> {
        let v = version(&v)?;
        Ok(format!("{}.{}.0", v.0, v.1 + 1))
    });
    env.add_filter("version_bump_patch", |v: String| -> Result<String, Error> {
        let v = version(&v)?;
        Ok(format!("{}.{}.{}", v.0, v.1, v.2 + 1))
    });
    env.add_filter("version_strip_patch", |v: String| -> Result<String, Error> {
        let v = version(&v)?;
        Ok(format!("{}.{}", v.0, v.1))
    });
    env.add_filter("use_none", |_: Jinja| NONE_MAGIC.to_string());
    env.add_filter("basename", |path: String| path.rsplit('/').next().unwrap_or_default().to_string());
    env.add_filter("dirname", |path: String| match path.rfind('/') {
        Some(0) => "/".to_string(),
        Some(at) => path[..at].trim_end_matches('/').to_string(),
        None => String::new(),
    });
    env.add_filter("decrypt_kv", decrypt_kv);
    env.add_filter("jsonpath_query", |_: Jinja, _: String| -> Result<Jinja, Error> {
        Err(invalid("jsonpath_query is not supported by st2d".to_string()))
    });
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

fn to_json_string(value: Jinja, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    kwargs.assert_all_used()?;
    let mut value = to_json(&value);
    if sort_keys == Some(true) {
        value = sorted(value);
    }
    Ok(match indent {
        Some(width) => {
            let pretty = serde_json::to_string_pretty(&value).unwrap_or_default();
            // serde_json indents by two; StackStorm's indent argument sets the width.
            pretty.lines().map(|line| reindent(line, width)).collect::<Vec<_>>().join("\n")
        }
        None => pyfmt::json_dumps(&value),
    })
}

fn reindent(line: &str, width: usize) -> String {
    let body = line.trim_start_matches(' ');
    let depth = (line.len() - body.len()) / 2;
    format!("{}{}", " ".repeat(depth * width), body)
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut pairs: Vec<(String, Value)> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(pairs.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn to_yaml_string(value: Jinja) -> Result<String, Error> {
    serde_yaml::to_string(&to_json(&value)).map_err(|e| invalid(format!("to_yaml_string: {e}")))
}

fn regex(pattern: &str, kwargs: &Kwargs) -> Result<regex::Regex, Error> {
    let ignorecase: Option<bool> = kwargs.get("ignorecase")?;
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase == Some(true))
        .build()
        .map_err(|e| invalid(format!("invalid regular expression: {e}")))
}

/// Python's `\1`/`\g<1>` group references as the regex crate's `${1}`.
fn python_replacement(replacement: &str) -> String {
    let groups = regex::Regex::new(r"\\g<(\w+)>|\\(\d+)").expect("a valid regex");
    groups
        .replace_all(&replacement.replace('$', "$$"), |caps: &regex::Captures| {
            format!("${{{}}}", caps.get(1).or_else(|| caps.get(2)).map(|m| m.as_str()).unwrap_or_default())
        })
        .into_owned()
}

/// Python's `re.findall(pattern, value)[result_index]`: the first group of each match when
/// the pattern has groups, else the whole match.
fn regex_substring(
    value: String,
    pattern: String,
    result_index: Option<usize>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let re = regex(&pattern, &kwargs)?;
    let found: Vec<String> = re
        .captures_iter(&value)
        .map(|caps| {
            caps.get(if re.captures_len() > 1 { 1 } else { 0 }).map(|m| m.as_str().to_string()).unwrap_or_default()
        })
        .collect();
    let index = result_index.unwrap_or(0);
    found.get(index).cloned().ok_or_else(|| invalid(format!("regex_substring: no match {index} of \"{pattern}\"")))
}

fn human_time(seconds: f64) -> String {
    if seconds == 0.0 {
        return "0s".to_string();
    }
    if seconds < 1.0 {
        return format!("{}\u{3bc}s", pyfmt::py_str(&serde_json::json!(seconds)));
    }
    let total = seconds.round() as i64;
    let parts = [(total / 86_400, "d"), (total % 86_400 / 3600, "h"), (total % 3600 / 60, "m"), (total % 60, "s")];
    let first = parts.iter().position(|(n, _)| *n != 0).unwrap_or(3);
    parts[first..].iter().map(|(n, unit)| format!("{n}{unit}")).collect()
}

/// MAJOR.MINOR.PATCH with an optional pre-release; build metadata is ignored.
type Version = (u64, u64, u64, Option<String>);

fn version(text: &str) -> Result<Version, Error> {
    let core = text.split('+').next().unwrap_or_default();
    let (numbers, pre) = match core.split_once('-') {
        Some((numbers, pre)) => (numbers, Some(pre.to_string())),
        None => (core, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let number = |part: Option<&&str>| part.and_then(|p| p.parse::<u64>().ok());
    match (parts.len(), number(parts.first()), number(parts.get(1)), number(parts.get(2))) {
        (3, Some(major), Some(minor), Some(patch)) => Ok((major, minor, patch, pre)),
        _ => Err(invalid(format!("{text} is not valid SemVer string"))),
    }
}

fn compare(a: &Version, b: &Version) -> i8 {
    let ordering = (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)).then_with(|| match (&a.3, &b.3) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (Some(_), None) => std::cmp::Ordering::Less,
        (Some(x), Some(y)) => x.cmp(y),
    });
    ordering as i8
}

/// `version_match("1.2.3", ">=1.0.0")`.
fn version_match(value: String, pattern: String) -> Result<bool, Error> {
    let pattern = pattern.trim();
    let (operator, other) = ["<=", ">=", "==", "!=", "<", ">"]
        .iter()
        .find_map(|op| pattern.strip_prefix(op).map(|rest| (*op, rest)))
        .ok_or_else(|| invalid(format!("version_match: \"{pattern}\" has no comparison operator")))?;
    let order = compare(&version(&value)?, &version(other.trim())?);
    Ok(match operator {
        "<=" => order <= 0,
        ">=" => order >= 0,
        "==" => order == 0,
        "!=" => order != 0,
        "<" => order < 0,
        _ => order > 0,
    })
}

/// The clear text of a datastore secret (given as `st2kv.system.key` or as its stored text).
fn decrypt_kv(state: &State, value: Jinja) -> Result<String, Error> {
    if let Some(lookup) = value.downcast_object_ref::<Lookup>() {
        return match lookup.value().map_err(|e| invalid(e.to_string()))? {
            Some(found) if found.secret => lookup.decrypt(&found.value).map_err(|e| invalid(e.to_string())),
            Some(found) => Ok(found.value),
            None => Ok(String::new()),
        };
    }
    let stored = value.as_str().unwrap_or_default().to_string();
    let root = state.lookup("st2kv").and_then(|kv| kv.get_attr("system").ok());
    match root.as_ref().and_then(|r| r.downcast_object_ref::<Lookup>()) {
        Some(lookup) => lookup.decrypt(&stored).map_err(|e| invalid(e.to_string())),
        None => Err(invalid("decrypt_kv: no datastore".to_string())),
    }
}
