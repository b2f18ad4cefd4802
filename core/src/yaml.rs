//! Reads YAML the way StackStorm's PyYAML `safe_load` does, into `serde_json::Value`.
//!
//! Owns: anchors and aliases, merge keys (`<<`), duplicate keys (the last one wins), CRLF line
//! endings, a byte-order mark, and locating the line of a top-level key for error messages.
//! Must not: know anything about packs or their schemas.

use serde_json::{Map, Value};

/// A YAML document that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<u32>,
    pub message: String,
}

/// Parses one YAML document. An empty document gives `Value::Null`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Deserializing into serde_json's map (not serde_yaml's) makes a duplicate key replace the
    // earlier one, as PyYAML does, instead of failing.
    let mut value: Value = serde_yaml::from_str(text).map_err(|error| {
        let line = error.location().map(|at| at.line() as u32);
        let message = error.to_string();
        // The location is reported separately; keep the message short.
        let message = match message.find(" at line ") {
            Some(cut) => message[..cut].to_string(),
            None => message,
        };
        YamlError { line, message }
    })?;
    apply_merge_keys(&mut value);
    Ok(value)
}

/// Resolves YAML merge keys (`<<: *anchor` or `<<: [*a, *b]`) everywhere in `value`.
/// Keys written in the mapping itself win over merged ones; among merged mappings the first wins.
fn apply_merge_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for child in map.values_mut() {
                apply_merge_keys(child);
            }
            if let Some(merged) = map.shift_remove("<<") {
                let sources: Vec<Value> = match merged {
                    Value::Array(items) => items,
                    other => vec![other],
                };
                for source in sources {
                    if let Value::Object(source) = source {
                        merge_absent(map, source);
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(apply_merge_keys),
        _ => {}
    }
}

fn merge_absent(target: &mut Map<String, Value>, source: Map<String, Value>) {
    for (key, value) in source {
        target.entry(key).or_insert(value);
    }
}

/// The 1-based line where `key` is first written as a mapping key, for error messages about a
/// field whose position the parsed value no longer carries. Looks for `key:` at the start of a
/// line (after indentation, an optional `- ` and optional quotes).
pub fn key_line(text: &str, key: &str) -> Option<u32> {
    text.lines().enumerate().find_map(|(index, line)| {
        let rest = line.trim_start().trim_start_matches("- ").trim_start();
        let rest = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_prefix(key)?.strip_prefix('"'))
            .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_prefix(key)?.strip_prefix('\'')))
            .or_else(|| rest.strip_prefix(key))?;
        rest.trim_start().starts_with(':').then_some(index as u32 + 1)
    })
}

/// The line of a dotted field path (`parameters.cmd.type`): each key is looked for after the
/// line of the one before, and the deepest key found gives the line. Keys may themselves hold
/// dots (criteria such as `trigger.body.x`), so the longest run of segments that is a key wins.
pub fn field_line(text: &str, field: &str) -> Option<u32> {
    let segments: Vec<&str> = field.split('.').map(|segment| segment.split('[').next().unwrap_or(segment)).collect();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = None;
    let mut offset = 0usize;
    let mut start = 0usize;
    'segments: while start < segments.len() {
        let rest = lines[offset.min(lines.len())..].join("\n");
        for end in (start + 1..=segments.len()).rev() {
            let key = segments[start..end].join(".");
            if key.is_empty() {
                continue;
            }
            if let Some(line) = key_line(&rest, &key) {
                offset += line as usize;
                found = Some(offset as u32);
                start = end;
                continue 'segments;
            }
        }
        break;
    }
    found
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_billion_laughs_is_refused_not_expanded() {
        // Nine levels of nine aliases each: 387,420,489 strings if expanded.
        let mut text =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let mut previous = 'a';
        for level in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
            let aliases = vec![format!("*{previous}"); 9].join(",");
            text.push_str(&format!("{level}: &{level} [{aliases}]\n"));
            previous = level;
        }
        let error = parse(&text).expect_err("refused");
        assert!(error.message.contains("repetition limit"), "{error:?}");
    }
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_yaml_features_real_packs_use() {
        let cases: &[(&str, &str, Value)] = &[
            ("plain", "a: 1\nb: x\n", json!({"a": 1, "b": "x"})),
            ("duplicate key, last wins", "a: 1\na: 2\n", json!({"a": 2})),
            ("crlf", "a: 1\r\nb:\r\n  - x\r\n", json!({"a": 1, "b": ["x"]})),
            ("bom", "\u{feff}a: 1\n", json!({"a": 1})),
            ("indented top level", "  a: 1\n  b: 2\n", json!({"a": 1, "b": 2})),
            ("document marker", "---\na: 1\n...\n", json!({"a": 1})),
            ("non-ascii", "d: \"Ünïcødé ✓\"\n", json!({"d": "Ünïcødé ✓"})),
            (
                "block scalars",
                "a: |\n  one\n  two\nb: >\n  folded\n  line\n",
                json!({"a": "one\ntwo\n", "b": "folded line\n"}),
            ),
            ("float version", "version: 0.1\n", json!({"version": 0.1})),
            (
                "anchor and alias",
                "x: &p {type: string}\ny: *p\n",
                json!({"x": {"type": "string"}, "y": {"type": "string"}}),
            ),
            (
                "merge key, explicit keys win",
                "base: &b {type: string, default: a}\np:\n  <<: *b\n  default: z\n",
                json!({"base": {"type": "string", "default": "a"}, "p": {"type": "string", "default": "z"}}),
            ),
            (
                "merge list, first source wins",
                "a: &a {k: 1}\nb: &b {k: 2, j: 3}\nc:\n  <<: [*a, *b]\n",
                json!({"a": {"k": 1}, "b": {"k": 2, "j": 3}, "c": {"k": 1, "j": 3}}),
            ),
            ("empty", "", Value::Null),
            ("comments only", "# nothing\n", Value::Null),
        ];
        for (name, text, expected) in cases {
            assert_eq!(parse(text).as_ref(), Ok(expected), "case {name}");
        }
    }

    #[test]
    fn reports_the_line_of_a_syntax_error() {
        let error = parse("a: 1\nb: [1, 2\nc: 3\n").expect_err("unclosed flow sequence");
        assert!(error.line.is_some(), "{error:?}");
        let error = parse("a: 1\n  b: 2\n").expect_err("bad indentation");
        assert_eq!(error.line, Some(2), "{error:?}");
    }

    #[test]
    fn finds_the_line_of_a_key() {
        let text = "name: x\nparameters:\n  cmd:\n    type: string\n\"enabled\": true\n";
        assert_eq!(key_line(text, "name"), Some(1));
        assert_eq!(key_line(text, "cmd"), Some(3));
        assert_eq!(key_line(text, "enabled"), Some(5));
        assert_eq!(key_line(text, "missing"), None);
        assert_eq!(key_line("names: 1\n", "name"), None);
        let action = "name: a\ntype: x\nparameters:\n  cmd:\n    default: 1\n    type: string\n";
        assert_eq!(field_line(action, "parameters.cmd.type"), Some(6));
        assert_eq!(field_line(action, "parameters.cmd.missing"), Some(4));
        assert_eq!(field_line(action, "trigger_types[0].name"), None);
        let rule = "trigger:\n  type: x\ncriteria:\n  trigger.body.x:\n    type: likes\n";
        assert_eq!(field_line(rule, "criteria.trigger.body.x.type"), Some(5));
    }
}
