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

/// The deepest nesting of flow collections (`[ ]`, `{ }`) a document may have. The reader
/// refuses values nested deeper than 128 levels anyway, but its scanner spends time in
/// proportion to the flow depth on every token, so a file of a few hundred kilobytes of
/// brackets would take it hours to refuse; deeper documents are refused before they are read.
pub const MAX_FLOW_DEPTH: usize = 256;

/// Parses one YAML document. An empty document gives `Value::Null`.
pub fn parse(text: &str) -> Result<Value, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(line) = flow_too_deep(text) {
        return Err(YamlError {
            line: Some(line),
            message: format!("flow collections nested too deeply (more than {MAX_FLOW_DEPTH} levels of [ ] or {{ }})"),
        });
    }
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

/// The line where flow collections first nest deeper than `MAX_FLOW_DEPTH`, if they do. A
/// scan that never counts more than the reader would: outside flow collections a bracket opens
/// one only where a node starts (after `key: `, `- `, `? `, an anchor or tag, or at the start of
/// a line), inside them every bracket outside a quoted scalar or comment counts; block scalars'
/// text (`|`, `>`) and quoted scalars are skipped.
fn flow_too_deep(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1u32;
    let mut i = 0;
    // Where the current line's content starts, and its indentation.
    let mut line_start = 0;
    let mut block_scalar_indent: Option<usize> = None;
    while i < bytes.len() {
        let c = bytes[i];
        if i == line_start {
            let indent = bytes[i..].iter().take_while(|b| **b == b' ').count();
            if let Some(parent) = block_scalar_indent {
                let blank = matches!(bytes.get(i + indent), None | Some(b'\n' | b'\r'));
                if blank || indent > parent {
                    i = next_line(bytes, i);
                    line += 1;
                    line_start = i;
                    continue;
                }
                block_scalar_indent = None;
            }
        }
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
            }
            b'#' if i == 0 || matches!(bytes[i - 1], b' ' | b'\t' | b'\n' | b'\r') => {
                i = next_line(bytes, i);
                continue;
            }
            b'[' | b'{' if depth > 0 || node_starts(bytes, line_start, i) => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Some(line);
                }
            }
            b']' | b'}' if depth > 0 => depth -= 1,
            b'"' | b'\'' if node_starts(bytes, line_start, i) || (depth > 0 && flow_scalar_starts(bytes, i)) => {
                let (end, lines) = quoted_end(bytes, i);
                line += lines;
                if lines > 0 {
                    line_start = bytes[..end].iter().rposition(|b| *b == b'\n').map_or(0, |at| at + 1);
                }
                i = end;
                continue;
            }
            b'|' | b'>' if depth == 0 && node_starts(bytes, line_start, i) => {
                let header =
                    bytes[i + 1..].iter().find(|b| !matches!(b, b'+' | b'-' | b'0'..=b'9' | b' ' | b'\t' | b'\r'));
                if matches!(header, None | Some(b'\n' | b'#')) {
                    block_scalar_indent = Some(bytes[line_start..].iter().take_while(|b| **b == b' ').count());
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn next_line(bytes: &[u8], from: usize) -> usize {
    bytes[from..].iter().position(|b| *b == b'\n').map_or(bytes.len(), |at| from + at + 1)
}

/// Whether a node may start at `at` in block context: only blanks before it on its line, or
/// after a blank that follows `:`, `-`, `?`, `,`, an anchor (`&a`) or a tag (`!t`).
fn node_starts(bytes: &[u8], line_start: usize, at: usize) -> bool {
    let before = &bytes[line_start..at];
    let trimmed = before.iter().rposition(|b| !matches!(b, b' ' | b'\t')).map(|end| &before[..=end]);
    let Some(trimmed) = trimmed else { return true };
    if trimmed.len() == before.len() {
        return false;
    }
    if matches!(trimmed.last(), Some(b':' | b'-' | b'?' | b',')) {
        return true;
    }
    let word_start = trimmed.iter().rposition(|b| matches!(b, b' ' | b'\t')).map_or(0, |at| at + 1);
    matches!(trimmed.get(word_start), Some(b'&' | b'!'))
}

/// Whether a quote at `at` inside a flow collection starts a quoted scalar (rather than sitting
/// inside a plain one).
fn flow_scalar_starts(bytes: &[u8], at: usize) -> bool {
    let before = bytes[..at].iter().rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    before.is_none_or(|p| matches!(bytes[p], b'[' | b'{' | b',' | b':' | b'?'))
}

/// The index after the quoted scalar opening at `at`, and the line breaks inside it.
fn quoted_end(bytes: &[u8], at: usize) -> (usize, u32) {
    let quote = bytes[at];
    let mut i = at + 1;
    let mut lines = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 1,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
            b if b == quote => return (i + 1, lines),
            b'\n' => lines += 1,
            _ => {}
        }
        i += 1;
    }
    (bytes.len(), lines)
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
    fn deeply_nested_flow_collections_are_refused_before_they_are_read() {
        // Each was minutes of the reader's time (its work grows with depth times tokens).
        for text in [
            format!("k: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            format!("c{{a: {}1{}\n", "{a: ".repeat(50_000), "}".repeat(50_000)),
            format!("- &x {}\n", "[".repeat(100_000)),
        ] {
            let error = parse(&text).expect_err("refused");
            assert!(error.message.contains("nested too deeply"), "{error:?}");
            assert_eq!(error.line, Some(1));
        }
        // Brackets that are text never count: in quoted and block scalars, comments, plain
        // scalars outside flow collections.
        let brackets = "[".repeat(300);
        let text = format!(
            "a: \"{brackets}\"\nb: '{brackets}'\nc: |\n  {brackets}\n  {brackets}\nd: x{brackets}\ne: [\"{brackets}\", '{brackets}'] # {brackets}\nf: 1\n"
        );
        let value = parse(&text).expect("read");
        assert_eq!(value["f"], json!(1));
        assert_eq!(value["e"], json!([brackets.clone(), brackets.clone()]));
        // Nesting within the limit reads (up to the reader's own limit of 128 values deep).
        let nested = format!("k: {}1{}\n", "[".repeat(100), "]".repeat(100));
        assert!(parse(&nested).is_ok());
    }

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
