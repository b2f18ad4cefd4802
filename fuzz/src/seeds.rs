//! Where seeds come from: the built-in packs, the string literals of the project's own tests
//! (the expressions, templates, workflows and pack files they exercise), and, when present,
//! the shared corpus of real packs (read at run time, never copied into the repository).
//!
//! Owns: reading those sources. Must not: mutate or run anything.

use std::path::{Path, PathBuf};

/// The shared corpus of real packs, read when it exists.
pub const CORPUS: &str = "/work/shared/corpus/packs";

/// The built-in packs' files: (path inside the builtin tree, text).
pub fn builtin_files() -> Vec<(&'static str, &'static str)> {
    st2d::embedded::BUILTIN_PACK_FILES.to_vec()
}

/// The string literals of Rust source text: plain ones with their escapes undone, and raw ones.
pub fn string_literals(source: &str) -> Vec<String> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'\'' => {
                // A char literal or a lifetime: skip a char literal so its quote is not taken.
                if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else if bytes.get(i + 1) == Some(&b'\\') {
                    i += 3;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else {
                    i += 1;
                }
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'#' | b'"'))
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
            {
                let hashes = bytes[i + 1..].iter().take_while(|b| **b == b'#').count();
                let open = i + 1 + hashes;
                if bytes.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                match source[open + 1..].find(&close) {
                    Some(end) => {
                        out.push(source[open + 1..open + 1 + end].to_string());
                        i = open + 1 + end + close.len();
                    }
                    None => break,
                }
            }
            b'"' => {
                let mut text = String::new();
                let mut j = i + 1;
                let mut chars = source[j..].char_indices();
                let mut closed = false;
                while let Some((at, c)) = chars.next() {
                    match c {
                        '"' => {
                            j += at + 1;
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, 'n')) => text.push('\n'),
                            Some((_, 't')) => text.push('\t'),
                            Some((_, 'r')) => text.push('\r'),
                            Some((_, '0')) => text.push('\0'),
                            Some((_, '\n')) => {
                                // A line continuation: the next line's indentation is dropped.
                                let rest = chars.as_str();
                                let skip = rest.len() - rest.trim_start().len();
                                for _ in 0..rest[..skip].chars().count() {
                                    chars.next();
                                }
                            }
                            Some((_, 'u')) => {
                                let rest = chars.as_str();
                                if let Some(end) = rest.find('}') {
                                    let hex = rest.get(1..end).unwrap_or_default();
                                    if let Some(c) = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
                                        text.push(c);
                                    }
                                    for _ in 0..rest[..=end].chars().count() {
                                        chars.next();
                                    }
                                }
                            }
                            Some((_, other)) => text.push(other),
                            None => break,
                        },
                        other => text.push(other),
                    }
                }
                if !closed {
                    break;
                }
                out.push(text);
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Literals of `sources` that `keep` accepts, as seeds.
pub fn literals_where(sources: &[&str], keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out: Vec<String> =
        sources.iter().flat_map(|source| string_literals(source)).filter(|text| keep(text)).collect();
    out.sort();
    out.dedup();
    out
}

/// Every file under `dir` (recursively) whose name `keep` accepts, with its text.
pub fn files_under(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
            } else if keep(&path)
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push((path, text));
            }
        }
    }
    out
}

/// The YAML files of the shared corpus (none when it is absent).
/// The string literals of `sources` and the shared corpus's YAML files that contain
/// `needle`: the seeds of a definition target (`tasks:` for Orquesta, `chain:` for action-chain).
pub fn documents_containing(sources: &[&str], needle: &str) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> =
        literals_where(sources, |text| text.contains(needle)).into_iter().map(String::into_bytes).collect();
    out.extend(corpus_yaml().into_iter().filter(|(_, text)| text.contains(needle)).map(|(_, text)| text.into_bytes()));
    out
}

pub fn corpus_yaml() -> Vec<(PathBuf, String)> {
    files_under(Path::new(CORPUS), &|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_are_read_with_their_escapes() {
        let source = "let a = \"x\\n\\\"y\\\"\"; let c = '\"'; // \"not\"\nlet b = r#\"raw \"q\"\"#; f(\"\\u{e9}\");";
        assert_eq!(string_literals(source), vec!["x\n\"y\"", "raw \"q\"", "é"]);
    }
}
