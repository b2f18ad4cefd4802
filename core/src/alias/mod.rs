//! Action aliases as StackStorm matches them (st2common/util/actionalias_matching.py,
//! actionalias_helpstring.py, models/utils/action_alias_utils.py): which format of which
//! alias a command matches, the parameters it gives, and the help strings.
//!
//! A command must match exactly one format of the enabled aliases: formats of aliases without
//! `match_multiple` first, then those with it; two matches are an ambiguity and none an error,
//! each with StackStorm's message (StackStorm does not rank matches by how specific they are).
//!
//! Owns: matching commands to formats and extracting parameters. Must not: look aliases up
//! (callers pass them), cast parameters to the action's types or run anything.

mod parser;
mod pyre;

pub use parser::{FormatParser, extract};

use serde_json::{Map, Value};

use crate::pack::model::Alias;

/// Why a command gave no parameters, or no alias.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    #[error("Command \"{command}\" doesn't match format string \"{format}\"")]
    NoMatch { command: String, format: String },
    #[error("No value supplied and no default value found.")]
    NoValue,
    #[error("format string \"{format}\" is not a valid regular expression: {message}")]
    Pattern { format: String, message: String },
    #[error("Format string \"{format}\" is not available on the alias \"{alias}\"")]
    NotOnAlias { format: String, alias: String },
    #[error("Command '{0}' matched more than 1 pattern")]
    Ambiguous(String),
    #[error("Command '{0}' matched more than 1 (multi) pattern")]
    AmbiguousMultiple(String),
    #[error("Command '{0}' matched no patterns")]
    NoPatterns(String),
    #[error("filter \"{filter}\" is not a valid regular expression: {message}")]
    Filter { filter: String, message: String },
}

/// One representation of one format of an alias (`list_format_strings_from_aliases`).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern<'a> {
    pub alias: &'a Alias,
    pub display: Option<&'a str>,
    /// Empty for a format with a display and no representation.
    pub representation: &'a str,
    pub match_multiple: bool,
}

/// The patterns of `alias`, in the order of its formats.
pub fn patterns(alias: &Alias) -> Vec<Pattern<'_>> {
    let mut found = Vec::new();
    for format in &alias.formats {
        let display = format.display.as_deref();
        if display.is_some() && format.representations.is_empty() {
            found.push(Pattern { alias, display, representation: "", match_multiple: format.match_multiple });
        }
        for representation in &format.representations {
            found.push(Pattern { alias, display, representation, match_multiple: format.match_multiple });
        }
    }
    found
}

/// Every pattern of `aliases` that `command` matches (`match_command_to_alias`).
pub fn match_command<'a>(command: &str, aliases: &[&'a Alias]) -> Vec<Pattern<'a>> {
    aliases
        .iter()
        .flat_map(|alias| patterns(alias))
        .filter(|pattern| match extract(pattern.representation, command) {
            Ok(_) => true,
            Err(AliasError::Pattern { format, message }) => {
                tracing::warn!(alias = %pattern.alias.ref_, format = %format, error = %message, "alias format is not a valid regular expression");
                false
            }
            Err(_) => false,
        })
        .collect()
}

/// The one pattern `command` matches among the enabled `aliases` (`get_matching_alias`): the
/// aliases with a format that is not `match_multiple` first, then those with one that is.
pub fn matching<'a>(command: &str, aliases: impl IntoIterator<Item = &'a Alias>) -> Result<Pattern<'a>, AliasError> {
    let enabled: Vec<&Alias> = aliases.into_iter().filter(|alias| alias.enabled).collect();
    let single: Vec<&Alias> =
        enabled.iter().copied().filter(|alias| alias.formats.iter().any(|f| !f.match_multiple)).collect();
    let mut matches = match_command(command, &single);
    if matches.len() > 1 {
        return Err(AliasError::Ambiguous(command.to_string()));
    }
    if matches.is_empty() {
        let multiple: Vec<&Alias> =
            enabled.iter().copied().filter(|alias| alias.formats.iter().any(|f| f.match_multiple)).collect();
        matches = match_command(command, &multiple);
        if matches.len() > 1 {
            return Err(AliasError::AmbiguousMultiple(command.to_string()));
        }
    }
    matches.into_iter().next().ok_or_else(|| AliasError::NoPatterns(command.to_string()))
}

/// The parameters of `command` by `format`, which must be one of `alias`'s format strings
/// (`extract_parameters_for_action_alias_db`): one set, or one per occurrence when
/// `match_multiple`.
pub fn parameters(
    alias: &Alias,
    format: &str,
    command: &str,
    match_multiple: bool,
) -> Result<Vec<Map<String, Value>>, AliasError> {
    if !alias.format_strings().iter().any(|known| known == format) {
        return Err(AliasError::NotOnAlias { format: format.to_string(), alias: alias.name.clone() });
    }
    let parser = FormatParser::new(format)?;
    if match_multiple { parser.extract_all(command) } else { Ok(vec![parser.extract(command)?]) }
}

/// One help string (`generate_helpstring_result`).
#[derive(Debug, Clone, PartialEq)]
pub struct HelpString {
    pub pack: String,
    pub display: String,
    pub description: String,
}

/// Which help strings are asked for: `filter` is a regular expression searched in each display,
/// ignoring case; `pack` keeps one pack; `offset` and `limit` (0: no limit) cut the list.
#[derive(Debug, Clone, Default)]
pub struct HelpQuery {
    pub filter: String,
    pub pack: String,
    pub offset: usize,
    pub limit: usize,
}

/// The help strings of the enabled `aliases` and how many there are in all.
pub fn help<'a>(
    aliases: impl IntoIterator<Item = &'a Alias>,
    query: &HelpQuery,
) -> Result<(usize, Vec<HelpString>), AliasError> {
    let filter = fancy_regex::Regex::new(&format!("(?i){}", pyre::translate(&query.filter)))
        .map_err(|error| AliasError::Filter { filter: query.filter.clone(), message: error.to_string() })?;
    let (offset, limit) = (query.offset, query.limit);
    let mut count = 0;
    let mut found = Vec::new();
    for alias in aliases {
        if !alias.enabled || (!query.pack.is_empty() && query.pack != alias.pack) {
            continue;
        }
        for display in alias.formats.iter().filter_map(|format| format.display.as_deref()) {
            if display.is_empty() || !filter.is_match(display).unwrap_or(false) {
                continue;
            }
            let outside = if offset == 0 {
                limit > 0 && count >= limit
            } else if limit == 0 {
                count < offset
            } else {
                count < offset || count >= offset + limit
            };
            if !outside {
                found.push(HelpString {
                    pack: alias.pack.clone(),
                    display: display.to_string(),
                    description: alias.description.clone(),
                });
            }
            count += 1;
        }
    }
    Ok((count, found))
}

#[cfg(test)]
mod tests;
