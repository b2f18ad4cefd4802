//! `st2 run` parameters: `key=value` words converted by the parameter's declared type as
//! StackStorm's CLI converts them, `@key=path` reading a file, repeated array keys appending,
//! and the first word without `=` starting `cmd` (the rest of the words joined).
//!
//! Owns: the conversion of command-line words into the parameters object. Must not: validate
//! parameters against the action (the daemon does) or talk to it.

use serde_json::{Map, Value, json};

/// Converts `words` for an action whose effective parameter schema is `schema`; `read` reads a
/// file named by `@key=path`.
pub fn from_words(
    words: &[String],
    schema: &Map<String, Value>,
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<Map<String, Value>, String> {
    let mut parameters = Map::new();
    for (index, word) in words.iter().enumerate() {
        let Some((key, text)) = word.split_once('=') else {
            parameters.insert("cmd".to_string(), Value::String(words[index..].join(" ")));
            break;
        };
        if let Some(key) = key.strip_prefix('@') {
            parameters.insert(key.to_string(), Value::String(read(text)?));
            continue;
        }
        let declared = schema.get(key).and_then(|spec| spec.get("type")).and_then(Value::as_str);
        let value = convert(declared, text).map_err(|error| format!("parameter \"{key}\": {error}"))?;
        match (declared, parameters.get_mut(key), value) {
            (Some("array"), Some(Value::Array(existing)), Value::Array(more)) => existing.extend(more),
            (_, _, value) => {
                parameters.insert(key.to_string(), value);
            }
        }
    }
    Ok(parameters)
}

/// One value by its declared type; undeclared and string parameters stay text.
pub fn convert(declared: Option<&str>, text: &str) -> Result<Value, String> {
    match declared {
        Some("integer") => {
            text.trim().parse::<i64>().map(Value::from).map_err(|_| format!("invalid integer \"{text}\""))
        }
        Some("number") => match text.trim().parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(json!(number)),
            _ => Err(format!("invalid number \"{text}\"")),
        },
        Some("boolean") => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("Invalid value for boolean parameter. Valid values are: true, false".to_string()),
        },
        Some("array") => Ok(array(text)),
        Some("object") => object(text),
        _ => Ok(Value::String(text.to_string())),
    }
}

/// A single integer is a one-item list; JSON when it parses as a list; else comma-separated
/// items, trimmed.
fn array(text: &str) -> Value {
    if let Ok(number) = text.trim().parse::<i64>() {
        return json!([number]);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => Value::Array(items),
        _ => Value::Array(text.split(',').map(|item| Value::String(item.trim().to_string())).collect()),
    }
}

/// JSON when the text starts with `{`; else `k1=v1,k2=v2` pairs (pieces without `=` skipped).
fn object(text: &str) -> Result<Value, String> {
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|error| format!("invalid JSON object: {error}"));
    }
    let pairs = text
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_string(), Value::String(value.to_string())));
    Ok(Value::Object(pairs.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Map<String, Value> {
        match json!({
            "count": {"type": "integer"}, "ratio": {"type": "number"}, "on": {"type": "boolean"},
            "hosts": {"type": "array"}, "meta": {"type": "object"}, "name": {"type": "string"},
        }) {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    fn words(text: &[&str]) -> Vec<String> {
        text.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn words_convert_by_declared_type() {
        let cases = [
            (vec!["count=5"], json!({"count": 5})),
            (vec!["ratio=0.5"], json!({"ratio": 0.5})),
            (vec!["on=True", "name=007"], json!({"on": true, "name": "007"})),
            (vec!["hosts=a, b,c"], json!({"hosts": ["a", "b", "c"]})),
            (vec!["hosts=[1, 2]"], json!({"hosts": [1, 2]})),
            (vec!["hosts=51"], json!({"hosts": [51]})),
            (vec!["hosts=a", "hosts=b,c"], json!({"hosts": ["a", "b", "c"]})),
            (vec!["meta={\"k\": [1]}"], json!({"meta": {"k": [1]}})),
            (vec!["meta=a=1,b=x=y,junk"], json!({"meta": {"a": "1", "b": "x=y"}})),
            (vec!["other=a=b"], json!({"other": "a=b"})),
            (vec!["name=x", "uname", "-a"], json!({"name": "x", "cmd": "uname -a"})),
            (vec!["@name=/some/file"], json!({"name": "content of /some/file"})),
        ];
        for (input, expected) in cases {
            let got = from_words(&words(&input), &schema(), |path| Ok(format!("content of {path}")));
            assert_eq!(got.map(Value::Object), Ok(expected), "{input:?}");
        }
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let cases = [
            ("count=five", "parameter \"count\": invalid integer \"five\""),
            ("on=maybe", "parameter \"on\": Invalid value for boolean parameter. Valid values are: true, false"),
            ("meta={oops", "parameter \"meta\": invalid JSON object"),
        ];
        for (word, expected) in cases {
            let error = from_words(&words(&[word]), &schema(), |_| Ok(String::new())).expect_err(word);
            assert!(error.starts_with(expected), "{word}: {error}");
        }
        let missing =
            from_words(&words(&["@name=/nope"]), &schema(), |path| Err(format!("File \"{path}\" doesn't exist")));
        assert_eq!(missing, Err("File \"/nope\" doesn't exist".to_string()));
    }
}
