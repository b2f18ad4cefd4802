//! YAML as PyYAML's `safe_dump(value, default_flow_style=False)` writes it, which is what
//! StackStorm's `to_yaml_string` gives: block style, keys sorted, a list under a key not
//! indented (`a:\n- 1`), empty collections as `[]` and `{}`, strings plain unless they would
//! read back as something else (`'true'`, `'1.0'`, `''`) or hold characters plain text cannot
//! (then single quotes, else double quotes with escapes), lines folded past 80 columns, and a
//! plain scalar document ended by `...`.
//!
//! Owns: the emitter, a port of the parts of PyYAML's `Emitter` that JSON values reach (no
//! anchors, tags or block scalars); what a scalar allows is `scalar`'s. Must not: parse YAML
//! (`crate::yaml` does).

mod scalar;

use serde_json::Value;

use self::scalar::{BREAKS, analyze, escape, is_printable_unicode, represent};

/// How `dump` writes.
pub(super) struct Style {
    /// Spaces per level (PyYAML's `indent`, used when between 2 and 9).
    pub indent: usize,
    /// Writes non-ASCII characters as they are, not as escapes.
    pub allow_unicode: bool,
}

/// `yaml.safe_dump(value, default_flow_style=False, indent=..., allow_unicode=...)`.
pub(super) fn dump(value: &Value, style: &Style) -> String {
    let mut emitter = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
        open_ended: false,
        indent: None,
        indents: Vec::new(),
        flow_level: 0,
        best_indent: if (2..10).contains(&style.indent) { style.indent } else { 2 },
        allow_unicode: style.allow_unicode,
    };
    // An empty string alone is an explicit document (`--- ''`).
    if value.as_str() == Some("") {
        emitter.write_indent();
        emitter.write_indicator("---", true, false, false);
    }
    emitter.node(value, Place::Root);
    emitter.write_indent();
    if emitter.open_ended {
        emitter.write_indicator("...", true, false, false);
        emitter.write_indent();
    }
    emitter.out
}

/// The widest a line grows before the emitter folds it.
const BEST_WIDTH: usize = 80;

/// Where a node is written.
#[derive(Clone, Copy, PartialEq)]
enum Place {
    Root,
    Item,
    Key,
    Value,
}

struct Emitter {
    out: String,
    column: usize,
    /// The last thing written was blank (a space or a line break).
    whitespace: bool,
    /// Only indentation has been written on this line (and indicators allowed in it).
    indention: bool,
    open_ended: bool,
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    flow_level: usize,
    best_indent: usize,
    allow_unicode: bool,
}

impl Emitter {
    fn node(&mut self, value: &Value, place: Place) {
        match value {
            Value::Array(items) if items.is_empty() => self.empty_flow("[", "]"),
            Value::Object(map) if map.is_empty() => self.empty_flow("{", "}"),
            Value::Array(items) => {
                let indentless = place == Place::Value && !self.indention;
                self.increase_indent(false, indentless);
                for item in items {
                    self.write_indent();
                    self.write_indicator("-", true, false, true);
                    self.node(item, Place::Item);
                }
                self.indent = self.indents.pop().flatten();
            }
            Value::Object(map) => {
                self.increase_indent(false, false);
                let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
                pairs.sort_by(|a, b| a.0.cmp(b.0));
                for (key, item) in pairs {
                    self.write_indent();
                    let analysis = analyze(key, self.allow_unicode);
                    let key_value = Value::String(key.clone());
                    if key.chars().count() < 128 && !analysis.empty && !analysis.multiline {
                        self.node(&key_value, Place::Key);
                        self.write_indicator(":", false, false, false);
                    } else {
                        self.write_indicator("?", true, false, true);
                        self.node(&key_value, Place::Value);
                        self.write_indent();
                        self.write_indicator(":", true, false, true);
                    }
                    self.node(item, Place::Value);
                }
                self.indent = self.indents.pop().flatten();
            }
            scalar => self.scalar(scalar, place),
        }
    }

    fn empty_flow(&mut self, open: &str, close: &str) {
        self.write_indicator(open, true, true, false);
        self.flow_level += 1;
        self.increase_indent(true, false);
        self.indent = self.indents.pop().flatten();
        self.flow_level -= 1;
        self.write_indicator(close, false, false, false);
    }

    fn scalar(&mut self, value: &Value, place: Place) {
        let (text, implicit) = represent(value);
        let analysis = analyze(&text, self.allow_unicode);
        let simple_key = place == Place::Key;
        let plain_allowed = if self.flow_level > 0 { analysis.allow_flow_plain } else { analysis.allow_block_plain };
        let quote = if implicit && !(simple_key && (analysis.empty || analysis.multiline)) && plain_allowed {
            None
        } else if analysis.allow_single_quoted && !(simple_key && analysis.multiline) {
            Some('\'')
        } else {
            Some('"')
        };
        self.increase_indent(true, false);
        let chars: Vec<char> = text.chars().collect();
        let split = !simple_key;
        match quote {
            None => self.write_plain(&chars, split, place == Place::Root),
            Some('\'') => self.write_single_quoted(&chars, split),
            Some(_) => self.write_double_quoted(&chars, split),
        }
        self.indent = self.indents.pop().flatten();
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None if flow => Some(self.best_indent),
            None => Some(0),
            Some(indent) if !indentless => Some(indent + self.best_indent),
            same => same,
        };
    }

    fn write(&mut self, text: &str) {
        self.column += text.chars().count();
        self.out.push_str(text);
    }

    fn write_chars(&mut self, chars: &[char]) {
        self.column += chars.len();
        self.out.extend(chars);
    }

    fn write_indicator(&mut self, indicator: &str, need_whitespace: bool, whitespace: bool, indention: bool) {
        if !self.whitespace && need_whitespace {
            self.write(" ");
        }
        self.write(indicator);
        self.whitespace = whitespace;
        self.indention = self.indention && indention;
        self.open_ended = false;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.write_line_break('\n');
        }
        if self.column < indent {
            self.whitespace = true;
            self.out.push_str(&" ".repeat(indent - self.column));
            self.column = indent;
        }
    }

    fn write_line_break(&mut self, line_break: char) {
        self.whitespace = true;
        self.indention = true;
        self.column = 0;
        self.out.push(line_break);
    }

    /// The breaks of `text[start..end]` (a run of line breaks inside a scalar), then indent.
    fn write_breaks(&mut self, text: &[char], start: usize, end: usize) {
        if text[start] == '\n' {
            self.write_line_break('\n');
        }
        for &br in &text[start..end] {
            self.write_line_break(br);
        }
        self.write_indent();
    }

    fn write_plain(&mut self, text: &[char], split: bool, root: bool) {
        if root {
            self.open_ended = true;
        }
        if text.is_empty() {
            return;
        }
        if !self.whitespace {
            self.write(" ");
        }
        self.whitespace = false;
        self.indention = false;
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split {
                        self.write_indent();
                        self.whitespace = false;
                        self.indention = false;
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(|c| BREAKS.contains(&c)) {
                    self.write_breaks(text, start, end);
                    self.whitespace = false;
                    self.indention = false;
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || BREAKS.contains(&c)) {
                self.write_chars(&text[start..end]);
                start = end;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = BREAKS.contains(&c);
            }
        }
    }

    fn write_single_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("'", true, false, false);
        let (mut spaces, mut breaks) = (false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            if spaces {
                if ch != Some(' ') {
                    if start + 1 == end && self.column > BEST_WIDTH && split && start != 0 && end != text.len() {
                        self.write_indent();
                    } else {
                        self.write_chars(&text[start..end]);
                    }
                    start = end;
                }
            } else if breaks {
                if !ch.is_some_and(|c| BREAKS.contains(&c)) {
                    self.write_breaks(text, start, end);
                    start = end;
                }
            } else if ch.is_none_or(|c| c == ' ' || c == '\'' || BREAKS.contains(&c)) && start < end {
                self.write_chars(&text[start..end]);
                start = end;
            }
            if ch == Some('\'') {
                self.write("''");
                start = end + 1;
            }
            if let Some(c) = ch {
                spaces = c == ' ';
                breaks = BREAKS.contains(&c);
            }
        }
        self.write_indicator("'", false, false, false);
    }

    fn write_double_quoted(&mut self, text: &[char], split: bool) {
        self.write_indicator("\"", true, false, false);
        let mut start = 0;
        for end in 0..=text.len() {
            let ch = text.get(end).copied();
            let escaped = ch.is_none_or(|c| {
                matches!(c, '"' | '\\' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
                    || !(('\u{20}'..='\u{7e}').contains(&c) || (self.allow_unicode && is_printable_unicode(c)))
            });
            if escaped {
                if start < end {
                    self.write_chars(&text[start..end]);
                    start = end;
                }
                if let Some(c) = ch {
                    self.write(&escape(c));
                    start = end + 1;
                }
            }
            if 0 < end
                && end + 1 < text.len()
                && (ch == Some(' ') || start >= end)
                && self.column as isize + end as isize - start as isize > BEST_WIDTH as isize
                && split
            {
                let mut data: String = text[start.min(end)..end].iter().collect();
                data.push('\\');
                if start < end {
                    start = end;
                }
                self.write(&data);
                self.write_indent();
                self.whitespace = false;
                self.indention = false;
                if text.get(start) == Some(&' ') {
                    self.write("\\");
                }
            }
        }
        self.write_indicator("\"", false, false, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn yaml(value: Value) -> String {
        dump(&value, &Style { indent: 2, allow_unicode: true })
    }

    #[test]
    fn documents_are_written_as_pyyaml_writes_them() {
        let long = "word ".repeat(20).trim_end().to_string();
        let cases = [
            // st2 contrib/runners/orquesta_runner/tests/unit/test_functions_common.py
            (json!({"foo": {"bar": "foobar"}}), "foo:\n  bar: foobar\n".to_string()),
            (json!([{"a": 1, "b": 2}, {"x": 3, "y": 4}]), "- a: 1\n  b: 2\n- x: 3\n  y: 4\n".to_string()),
            (json!({"b": [1, [2, 3]], "a": {}}), "a: {}\nb:\n- 1\n- - 2\n  - 3\n".to_string()),
            (
                json!({"s": ["true", "1.5", "", "~", "2001-12-14", "a: b", "- x", "#c", "é"]}),
                "s:\n- 'true'\n- '1.5'\n- ''\n- '~'\n- '2001-12-14'\n- 'a: b'\n- '- x'\n- '#c'\n- é\n".to_string(),
            ),
            (
                json!({"q": "it's", "nl": "a\nb", "tab": "a\tb", "lead": " x"}),
                "lead: ' x'\nnl: 'a\n\n  b'\nq: it's\ntab: \"a\\tb\"\n".to_string(),
            ),
            (json!("foo"), "foo\n...\n".to_string()),
            (json!(""), "--- ''\n".to_string()),
            (json!(1.0e17), "1.0e+17\n...\n".to_string()),
            (json!({"k": long}), format!("k: {}\n  {}\n", "word ".repeat(16).trim_end(), "word ".repeat(4).trim_end())),
        ];
        for (value, expected) in cases {
            assert_eq!(yaml(value.clone()), expected, "{value}");
        }
        assert_eq!(dump(&json!({"a": {"b": 1}}), &Style { indent: 4, allow_unicode: false }), "a:\n    b: 1\n");
        assert_eq!(dump(&json!(["é"]), &Style { indent: 2, allow_unicode: false }), "- \"\\xE9\"\n");
    }
}
