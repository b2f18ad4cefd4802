//! What a scalar's text allows in YAML, as PyYAML's emitter and SafeRepresenter decide it:
//! the text of a null, boolean or number, whether a string would read back as another type
//! (the implicit resolvers), which styles its characters allow, and escapes.
//!
//! Owns: those decisions. Must not: write anything (the emitter does).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

/// Line breaks as YAML counts them.
pub(super) const BREAKS: [char; 4] = ['\n', '\u{85}', '\u{2028}', '\u{2029}'];

/// A character PyYAML writes as it is when `allow_unicode` is on.
pub(super) fn is_printable_unicode(c: char) -> bool {
    ('\u{a0}'..='\u{d7ff}').contains(&c) || ('\u{e000}'..='\u{fffd}').contains(&c)
}

/// A character's escape in a double-quoted scalar.
pub(super) fn escape(c: char) -> String {
    let short = match c {
        '\0' => Some('0'),
        '\u{7}' => Some('a'),
        '\u{8}' => Some('b'),
        '\t' => Some('t'),
        '\n' => Some('n'),
        '\u{b}' => Some('v'),
        '\u{c}' => Some('f'),
        '\r' => Some('r'),
        '\u{1b}' => Some('e'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        '\u{85}' => Some('N'),
        '\u{a0}' => Some('_'),
        '\u{2028}' => Some('L'),
        '\u{2029}' => Some('P'),
        _ => None,
    };
    match (short, c as u32) {
        (Some(letter), _) => format!("\\{letter}"),
        (None, code) if code <= 0xff => format!("\\x{code:02X}"),
        (None, code) if code <= 0xffff => format!("\\u{code:04X}"),
        (None, code) => format!("\\U{code:08X}"),
    }
}

/// A scalar's text as SafeRepresenter writes it, and whether it may go plain (a string that
/// would read back as another type may not).
pub(super) fn represent(value: &Value) -> (String, bool) {
    match value {
        Value::Null => ("null".to_string(), true),
        Value::Bool(flag) => (flag.to_string(), true),
        Value::Number(n) if n.is_f64() => {
            let text = crate::pyfmt::float_repr(n.as_f64().unwrap_or_default()).to_lowercase();
            let text = if !text.contains('.') && text.contains('e') { text.replacen('e', ".0e", 1) } else { text };
            let text = match text.as_str() {
                "nan" => ".nan".to_string(),
                "inf" => ".inf".to_string(),
                "-inf" => "-.inf".to_string(),
                _ => text,
            };
            (text, true)
        }
        Value::Number(n) => (n.to_string(), true),
        Value::String(text) => (text.clone(), !resolves_to_another_type(text)),
        // Collections never reach here.
        other => (other.to_string(), true),
    }
}

/// Whether plain `text` would read back as a null, boolean, number, timestamp, merge key or
/// value key (PyYAML's implicit resolvers).
fn resolves_to_another_type(text: &str) -> bool {
    static RESOLVERS: OnceLock<Regex> = OnceLock::new();
    RESOLVERS
        .get_or_init(|| {
            let resolvers = [
                // bool
                r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
                // float
                r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
                r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
                // int
                r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
                r"[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
                // merge, null, value, and the tag indicators
                r"<<|~|null|Null|NULL|=|!|&|\*",
                // timestamp
                r"[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]",
                r"[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?",
            ];
            Regex::new(&format!("^(?:{})$", resolvers.join("|"))).expect("valid resolver patterns")
        })
        .is_match(text)
        || text.is_empty()
}

/// What a scalar's characters allow (PyYAML's `ScalarAnalysis`).
pub(super) struct Analysis {
    pub empty: bool,
    pub multiline: bool,
    pub allow_flow_plain: bool,
    pub allow_block_plain: bool,
    pub allow_single_quoted: bool,
}

pub(super) fn analyze(text: &str, allow_unicode: bool) -> Analysis {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Analysis {
            empty: true,
            multiline: false,
            allow_flow_plain: false,
            allow_block_plain: true,
            allow_single_quoted: true,
        };
    }
    let blank = |c: Option<&char>| c.is_none_or(|c| matches!(c, '\0' | ' ' | '\t' | '\r') || BREAKS.contains(c));
    let mut block_indicators = text.starts_with("---") || text.starts_with("...");
    let mut flow_indicators = block_indicators;
    let (mut line_breaks, mut special_characters) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) = (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let mut preceded_by_whitespace = true;
    let last = chars.len() - 1;
    for (index, &ch) in chars.iter().enumerate() {
        let followed_by_whitespace = blank(chars.get(index + 1));
        if index == 0 {
            if "#,[]{}&*!|>'\"%@`".contains(ch) {
                flow_indicators = true;
                block_indicators = true;
            }
            if ch == '?' || ch == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if ch == '-' && followed_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        } else {
            if ",?[]{}".contains(ch) {
                flow_indicators = true;
            }
            if ch == ':' {
                flow_indicators = true;
                block_indicators |= followed_by_whitespace;
            }
            if ch == '#' && preceded_by_whitespace {
                flow_indicators = true;
                block_indicators = true;
            }
        }
        if BREAKS.contains(&ch) {
            line_breaks = true;
        }
        if !(ch == '\n' || ('\u{20}'..='\u{7e}').contains(&ch)) {
            let unicode = (ch == '\u{85}' || is_printable_unicode(ch) || ch >= '\u{10000}') && ch != '\u{feff}';
            if !unicode || !allow_unicode {
                special_characters = true;
            }
        }
        if ch == ' ' {
            leading_space |= index == 0;
            trailing_space |= index == last;
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if BREAKS.contains(&ch) {
            leading_break |= index == 0;
            trailing_break |= index == last;
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = blank(Some(&ch));
    }
    let mut analysis = Analysis {
        empty: false,
        multiline: line_breaks,
        allow_flow_plain: true,
        allow_block_plain: true,
        allow_single_quoted: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks {
        analysis.allow_flow_plain = false;
        analysis.allow_block_plain = false;
    }
    if break_space {
        analysis.allow_flow_plain = false;
        analysis.allow_block_plain = false;
        analysis.allow_single_quoted = false;
    }
    if space_break || special_characters {
        analysis.allow_flow_plain = false;
        analysis.allow_block_plain = false;
        analysis.allow_single_quoted = false;
    }
    if flow_indicators {
        analysis.allow_flow_plain = false;
    }
    if block_indicators {
        analysis.allow_block_plain = false;
    }
    analysis
}
