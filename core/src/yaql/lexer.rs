//! The lexer: turns YAQL source text into tokens, each with the byte offset where it starts.
//!
//! Owns: what a token is, number and quoted-string literals (with their escapes), and telling
//! a keyword string (`abc`) from a function name (`abc(`, no space before the parenthesis, as in
//! YAQL). Must not: know operator precedence or evaluate anything.

use super::SyntaxError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(String),
    /// A bare identifier not followed by `(`: a keyword string, or a key after `.`.
    Word(String),
    /// An identifier directly followed by `(`; the `(` belongs to this token.
    Func(String),
    /// `$` (name empty) or `$name`.
    Dollar(String),
    True,
    False,
    Null,
    Not,
    And,
    Or,
    In,
    Mod,
    Dot,
    SafeDot,
    Plus,
    Minus,
    Star,
    Slash,
    Match,
    NotMatch,
    Gt,
    Lt,
    Ge,
    Le,
    Ne,
    Eq,
    Arrow,
    Pair,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Comma,
    End,
}

/// A token and the byte offset of its first character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub offset: usize,
}

/// Operators, longest first so that `=>` wins over `=`.
const OPERATORS: &[(&str, Tok)] = &[
    ("?.", Tok::SafeDot),
    ("=~", Tok::Match),
    ("!~", Tok::NotMatch),
    (">=", Tok::Ge),
    ("<=", Tok::Le),
    ("!=", Tok::Ne),
    ("->", Tok::Arrow),
    ("=>", Tok::Pair),
    (".", Tok::Dot),
    ("+", Tok::Plus),
    ("-", Tok::Minus),
    ("*", Tok::Star),
    ("/", Tok::Slash),
    (">", Tok::Gt),
    ("<", Tok::Lt),
    ("=", Tok::Eq),
    ("(", Tok::LParen),
    (")", Tok::RParen),
    ("[", Tok::LBracket),
    ("]", Tok::RBracket),
    ("{", Tok::LBrace),
    ("}", Tok::RBrace),
    (",", Tok::Comma),
];

/// How a token is named in messages.
pub(crate) fn describe(tok: &Tok) -> String {
    let symbol = match tok {
        Tok::Int(n) => return format!("number {n}"),
        Tok::Float(f) => return format!("number {f}"),
        Tok::Str(s) => return format!("string {s:?}"),
        Tok::Word(w) => return format!("'{w}'"),
        Tok::Func(f) => return format!("'{f}('"),
        Tok::Dollar(n) => return format!("'${n}'"),
        Tok::End => return "end of expression".to_string(),
        Tok::True => "true",
        Tok::False => "false",
        Tok::Null => "null",
        Tok::Not => "not",
        Tok::And => "and",
        Tok::Or => "or",
        Tok::In => "in",
        Tok::Mod => "mod",
        Tok::Dot => ".",
        Tok::SafeDot => "?.",
        Tok::Plus => "+",
        Tok::Minus => "-",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Match => "=~",
        Tok::NotMatch => "!~",
        Tok::Gt => ">",
        Tok::Lt => "<",
        Tok::Ge => ">=",
        Tok::Le => "<=",
        Tok::Ne => "!=",
        Tok::Eq => "=",
        Tok::Arrow => "->",
        Tok::Pair => "=>",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::Comma => ",",
    };
    format!("'{symbol}'")
}

fn is_word_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn error(message: impl Into<String>, offset: usize) -> SyntaxError {
    SyntaxError { message: message.into(), offset }
}

/// Splits `source` into tokens; the last one is always `Tok::End` at `source.len()`.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(c) = source[pos..].chars().next() {
        let rest = &source[pos..];
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            pos += 1;
            continue;
        }
        let (tok, len) = if c.is_ascii_digit() {
            number(rest, pos)?
        } else if is_word_start(c) {
            word(rest, pos)?
        } else if c == '$' {
            let len = 1 + rest[1..].find(|c: char| !is_word_char(c)).unwrap_or(rest.len() - 1);
            (Tok::Dollar(rest[1..len].to_string()), len)
        } else if c == '\'' || c == '"' {
            quoted(rest, pos, c)?
        } else if c == '`' {
            verbatim(rest, pos)?
        } else if let Some((text, tok)) = OPERATORS.iter().find(|(text, _)| rest.starts_with(text)) {
            (tok.clone(), text.len())
        } else {
            return Err(error(format!("unexpected character '{c}'"), pos));
        };
        tokens.push(Token { tok, offset: pos });
        pos += len;
    }
    tokens.push(Token { tok: Tok::End, offset: source.len() });
    Ok(tokens)
}

/// `\d+(\.\d+)?`, not directly followed by a letter.
fn number(rest: &str, offset: usize) -> Result<(Tok, usize), SyntaxError> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut len = digits(rest);
    let mut float = false;
    if rest[len..].starts_with('.') {
        let fraction = digits(&rest[len + 1..]);
        if fraction > 0 {
            len += 1 + fraction;
            float = true;
        }
    }
    if rest[len..].chars().next().is_some_and(is_word_char) {
        return Err(error(format!("invalid number '{}'", word_prefix(rest)), offset));
    }
    let text = &rest[..len];
    let tok = if float {
        Tok::Float(text.parse().map_err(|_| error(format!("invalid number '{text}'"), offset))?)
    } else {
        Tok::Int(text.parse().map_err(|_| error(format!("integer {text} is too large"), offset))?)
    };
    Ok((tok, len))
}

fn word_prefix(rest: &str) -> &str {
    &rest[..rest.find(|c: char| !is_word_char(c) && c != '.').unwrap_or(rest.len())]
}

fn word(rest: &str, offset: usize) -> Result<(Tok, usize), SyntaxError> {
    let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
    let text = &rest[..len];
    let tok = match text {
        "true" => Tok::True,
        "false" => Tok::False,
        "null" => Tok::Null,
        "not" => Tok::Not,
        "and" => Tok::And,
        "or" => Tok::Or,
        "in" => Tok::In,
        "mod" => Tok::Mod,
        _ if rest[len..].starts_with('(') => return Ok((Tok::Func(text.to_string()), len + 1)),
        _ if text.starts_with("__") => {
            return Err(error(format!("names starting with \"__\" are reserved ('{text}')"), offset));
        }
        _ => Tok::Word(text.to_string()),
    };
    Ok((tok, len))
}

/// A string in `'` or `"` with backslash escapes; unknown escapes are kept as written (as
/// Python's `unicode-escape` decoding in YAQL leaves them), so `'\d+'` stays `\d+`.
fn quoted(rest: &str, offset: usize, quote: char) -> Result<(Tok, usize), SyntaxError> {
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((Tok::Str(out), i + 1));
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((j, e)) = chars.next() else { break };
        let simple = match e {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let hex_len = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if hex_len > 0 {
            let digits = rest.get(j + 1..j + 1 + hex_len).unwrap_or("");
            let code = u32::from_str_radix(digits, 16).ok().filter(|_| digits.len() == hex_len);
            let decoded = code.and_then(char::from_u32);
            let Some(decoded) = decoded else {
                return Err(error(format!("invalid escape '\\{e}{digits}' in string"), offset + i));
            };
            out.push(decoded);
            for _ in 0..hex_len {
                chars.next();
            }
        } else if e.is_digit(8) {
            let mut code = e.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                match chars.peek() {
                    Some(&(_, d)) if d.is_digit(8) => {
                        code = code * 8 + d.to_digit(8).unwrap_or(0);
                        chars.next();
                    }
                    _ => break,
                }
            }
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
        } else {
            out.push('\\');
            out.push(e);
        }
    }
    Err(error("unterminated string", offset))
}

/// A string in backticks: verbatim, except that `` \` `` stands for a backtick.
fn verbatim(rest: &str, offset: usize) -> Result<(Tok, usize), SyntaxError> {
    let mut out = String::new();
    let mut chars = rest.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '`' => return Ok((Tok::Str(out), i + 1)),
            '\\' => match chars.next() {
                Some((_, '`')) => out.push('`'),
                Some((_, other)) => {
                    out.push('\\');
                    out.push(other);
                }
                None => break,
            },
            _ => out.push(c),
        }
    }
    Err(error("unterminated string", offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        tokenize(source).expect("test source lexes").into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens() {
        let table: Vec<(&str, Vec<Tok>)> = vec![
            ("", vec![Tok::End]),
            ("12 1.5", vec![Tok::Int(12), Tok::Float(1.5), Tok::End]),
            ("ctx(x)", vec![Tok::Func("ctx".into()), Tok::Word("x".into()), Tok::RParen, Tok::End]),
            ("ctx (x)", vec![Tok::Word("ctx".into()), Tok::LParen, Tok::Word("x".into()), Tok::RParen, Tok::End]),
            ("$ $x $1", vec![Tok::Dollar("".into()), Tok::Dollar("x".into()), Tok::Dollar("1".into()), Tok::End]),
            ("$.a", vec![Tok::Dollar("".into()), Tok::Dot, Tok::Word("a".into()), Tok::End]),
            (
                "a=>b->c",
                vec![
                    Tok::Word("a".into()),
                    Tok::Pair,
                    Tok::Word("b".into()),
                    Tok::Arrow,
                    Tok::Word("c".into()),
                    Tok::End,
                ],
            ),
            (
                "1 >= 2 != 3 = 4",
                vec![Tok::Int(1), Tok::Ge, Tok::Int(2), Tok::Ne, Tok::Int(3), Tok::Eq, Tok::Int(4), Tok::End],
            ),
            (
                "not x and y or z in w mod 2",
                vec![
                    Tok::Not,
                    Tok::Word("x".into()),
                    Tok::And,
                    Tok::Word("y".into()),
                    Tok::Or,
                    Tok::Word("z".into()),
                    Tok::In,
                    Tok::Word("w".into()),
                    Tok::Mod,
                    Tok::Int(2),
                    Tok::End,
                ],
            ),
            ("true false null", vec![Tok::True, Tok::False, Tok::Null, Tok::End]),
            ("x?.y", vec![Tok::Word("x".into()), Tok::SafeDot, Tok::Word("y".into()), Tok::End]),
            ("1.foo", vec![Tok::Int(1), Tok::Dot, Tok::Word("foo".into()), Tok::End]),
            ("région", vec![Tok::Word("région".into()), Tok::End]),
        ];
        for (source, expected) in table {
            assert_eq!(toks(source), expected, "source: {source:?}");
        }
    }

    #[test]
    fn strings() {
        let table = [
            (r#"'a\'b'"#, "a'b"),
            (r#""a\"b""#, "a\"b"),
            (r"'x\ny\tz\\'", "x\ny\tz\\"),
            (r"'\d+'", "\\d+"),
            (r"'\x41\u00e9\101'", "Aé\x41"),
            (r"`a\`b\n`", "a`b\\n"),
            ("'é'", "é"),
        ];
        for (source, expected) in table {
            assert_eq!(toks(source), vec![Tok::Str(expected.into()), Tok::End], "source: {source}");
        }
    }

    #[test]
    fn offsets() {
        let tokens = tokenize("ab + 'c'").expect("lexes");
        let offsets: Vec<usize> = tokens.iter().map(|t| t.offset).collect();
        assert_eq!(offsets, vec![0, 3, 5, 8]);
    }

    #[test]
    fn errors() {
        let table = [
            ("'unterminated", "unterminated string", 0),
            ("1 + \"abc", "unterminated string", 4),
            ("`abc", "unterminated string", 0),
            ("a @ b", "unexpected character '@'", 2),
            ("12abc", "invalid number '12abc'", 0),
            ("99999999999999999999", "too large", 0),
            ("'\\xZZ'", "invalid escape", 1),
            ("__x", "reserved", 0),
            ("'abc\\", "unterminated string", 0),
        ];
        for (source, message, offset) in table {
            let e = tokenize(source).expect_err("test source must not lex");
            assert!(e.message.contains(message), "{source}: {e:?}");
            assert_eq!(e.offset, offset, "{source}: {e:?}");
        }
    }
}
