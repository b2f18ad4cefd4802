//! StackStorm's `ActionAliasFormatParser` (st2common/models/utils/action_alias_utils.py): a
//! format string (`run {{cmd}} on {{hosts=localhost}}`, or a regular expression) made into a
//! pattern, and a command's parameters extracted with it: quoted values, `{...}` values,
//! defaults, and `key=value` pairs at the end of the command.
//!
//! Owns: the pattern of a format and the extraction. Must not: choose among an alias's formats
//! or cast values (the parameters are text, as StackStorm's are until the action's types apply).

use std::sync::OnceLock;

use fancy_regex::Regex;
use serde_json::{Map, Value};

use super::AliasError;
use super::pyre;

/// `key`: a key without blanks, blanks around it.
const KEY: &str = r"\s*(\S+?)\s*";
/// `value`: an empty quoted value, a quoted value, a `{...}` value or one word.
const VALUE: &str = r#"""|''|"(.+?)"|'(.+?)'|(\{.+?\})|(\S+)"#;
/// `ext_value`: as `value`, with any text (a default may hold blanks).
const EXT_VALUE: &str = r#"""|''|"(.+?)"|'(.+?)'|(\{.+?\})|(.+?)"#;

fn pairs_source() -> String {
    format!(r"(?:^|\s+){KEY}=({VALUE})")
}

fn optional_source() -> String {
    format!(r"\{{\{{{KEY}\s*=\s*(?:{EXT_VALUE})\s*\}}\}}")
}

fn required_source() -> String {
    format!(r"\{{\{{{KEY}\}}\}}")
}

fn compiled(cell: &'static OnceLock<Regex>, source: impl FnOnce() -> String) -> &'static Regex {
    cell.get_or_init(|| Regex::new(&format!("(?s){}", source())).expect("the parser's own patterns are valid"))
}

/// `key=value` pairs, one at a time.
fn pairs() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, pairs_source)
}

/// The `key=value` pairs that end a command (group 1).
fn ending() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    // No look-around, so the `regex` crate runs it in linear time; a newline ending the
    // command is a blank the pairs take, where Python's `$` would stop before it.
    compiled(&RE, || format!(r"^.*?(({}\s*)*)$", pairs_source()))
}

/// `{{ key = default }}` in a format.
fn optional() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, optional_source)
}

/// `(\s*){{ key = default }}`, to replace.
fn optional_spaced() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, || format!(r"(\s*){}", optional_source()))
}

/// `(\s*){{ key }}`, to replace.
fn required_spaced() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    compiled(&RE, || format!(r"(\s*){}", required_source()))
}

/// The alternatives of `value`/`ext_value` after the whole: the one that matched is the value
/// (StackStorm joins them; the others are empty).
fn joined(captures: &fancy_regex::Captures<'_, str>, first: usize, last: usize) -> String {
    (first..=last).filter_map(|i| captures.get(i)).map(|m| m.as_str()).collect()
}

/// The pattern a parameter of a format becomes: its leading blanks, an optional quote, the
/// value (up to the closing quote when quoted, a `{...}` value, or the fewest characters),
/// an optional quote.
fn parameter(blanks: &str, name: &str) -> String {
    format!(r#"{blanks}["']?(?P<{name}>(?:(?<=').+?(?=')|(?<=").+?(?=")|\{{.+?\}}|.+?))["']?"#)
}

/// A format string made into a pattern, ready to extract the parameters of commands.
#[derive(Debug)]
pub struct FormatParser {
    format: String,
    /// The parameters with a default, and the default.
    optional: Vec<(String, String)>,
    regex: Regex,
}

/// A command split for one format: the `key=value` pairs that end it, and the rest, padded
/// with a blank on each side as StackStorm pads it.
struct Command {
    original: String,
    pairs: Vec<(String, String)>,
    stream: String,
}

impl Command {
    fn split(command: &str) -> Self {
        let mut pairs_found = Vec::new();
        let mut stream = command.to_string();
        let end = ending().captures(command).ok().flatten().and_then(|c| c.get(1)).map(|m| m.as_str().to_string());
        if let Some(end) = end.filter(|end| !end.is_empty()) {
            for found in pairs().captures_iter(end.as_str()).flatten() {
                let key = found.get(1).map(|m| m.as_str()).unwrap_or_default().to_string();
                pairs_found.push((key, joined(&found, 3, 6)));
            }
            // Python's `str.replace`: every occurrence.
            stream = stream.replace(&end, "");
        }
        Self { original: command.to_string(), pairs: pairs_found, stream: format!(" {stream} ") }
    }
}

impl FormatParser {
    /// The pattern of `format`; a format that is not a valid regular expression once its
    /// parameters are replaced is an error naming it.
    pub fn new(format: &str) -> Result<Self, AliasError> {
        let optional = optional()
            .captures_iter(format)
            .flatten()
            .map(|c| (c.get(1).map(|m| m.as_str()).unwrap_or_default().to_string(), joined(&c, 2, 5)))
            .collect();
        let replaced = optional_spaced()
            .replace_all(format, |c: &fancy_regex::Captures<'_, str>| format!("(?:{})?", parameter(&c[1], &c[2])));
        let replaced = required_spaced()
            .replace_all(&replaced, |c: &fancy_regex::Captures<'_, str>| parameter(&c[1], &c[2]))
            .into_owned();
        let mut source = pyre::translate(&replaced);
        if !pyre::has_begin_anchor(&source) {
            source = format!(r"^\s*{source}");
        }
        if !pyre::has_end_anchor(&source) {
            source = format!(r"{source}\s*$");
        }
        let regex = Regex::new(&format!("(?s){source}"))
            .map_err(|error| AliasError::Pattern { format: format.to_string(), message: error.to_string() })?;
        Ok(Self { format: format.to_string(), optional, regex })
    }

    /// The parameters of `command` by the first place the format matches it.
    pub fn extract(&self, command: &str) -> Result<Map<String, Value>, AliasError> {
        let split = Command::split(command);
        let found = self.regex.captures(split.stream.as_str()).ok().flatten();
        let found = found.ok_or_else(|| self.no_match(&split))?;
        self.parameters(&split, &found)
    }

    /// The parameters of every place the format matches `command` (`match_multiple`).
    pub fn extract_all(&self, command: &str) -> Result<Vec<Map<String, Value>>, AliasError> {
        let split = Command::split(command);
        self.regex
            .captures_iter(split.stream.as_str())
            .map(|found| {
                let found = found.map_err(|_| self.no_match(&split))?;
                self.parameters(&split, &found)
            })
            .collect()
    }

    fn no_match(&self, split: &Command) -> AliasError {
        AliasError::NoMatch { command: split.original.clone(), format: self.format.clone() }
    }

    /// The named groups (null when they took no part), defaults for the optional parameters
    /// that matched nothing, then the `key=value` pairs.
    fn parameters(
        &self,
        split: &Command,
        found: &fancy_regex::Captures<'_, str>,
    ) -> Result<Map<String, Value>, AliasError> {
        let mut result = Map::new();
        for name in self.regex.capture_names().flatten() {
            let value = found.name(name).map(|m| Value::String(m.as_str().to_string())).unwrap_or(Value::Null);
            result.insert(name.to_string(), value);
        }
        for (name, default) in &self.optional {
            let matched = result.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
            let value = matched.map(str::to_string).unwrap_or_else(|| default.clone());
            result.insert(name.clone(), Value::String(value));
        }
        for (key, value) in &split.pairs {
            result.insert(key.clone(), Value::String(value.clone()));
        }
        let any_value = result.values().any(|v| v.as_str().is_some_and(|text| !text.is_empty()));
        if !self.format.is_empty() && split.stream.trim().is_empty() && !any_value {
            return Err(AliasError::NoValue);
        }
        Ok(result)
    }
}

/// StackStorm's `extract_parameters`: the parameters of `command` by `format`.
pub fn extract(format: &str, command: &str) -> Result<Map<String, Value>, AliasError> {
    FormatParser::new(format)?.extract(command)
}
