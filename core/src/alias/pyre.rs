//! Python's regular expressions as an alias format uses them, on `fancy_regex`: the spellings
//! that differ (`\Z`, a `{` that is not a repetition, superfluous escapes) translated, and
//! StackStorm's `search_regex_tokens` (is there a beginning or an end anchor, as `sre_parse`
//! shapes the pattern) answered from the pattern's text.
//!
//! Owns: the translation and the anchor search. Must not: build an alias's pattern (`parser`
//! does) or know about aliases.

/// `pattern` in fancy_regex's spelling: `\Z` is `\z`, a `{` or `}` that is not part of a
/// repetition (`{m}`, `{m,n}`, `{m,}`, `{,n}`) is a literal, and an escaped punctuation
/// character is that character. Character classes are copied as written.
pub fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let next = chars[i + 1];
                match next {
                    'Z' => out.push_str(r"\z"),
                    n if n.is_ascii_alphanumeric() => {
                        out.push('\\');
                        out.push(n);
                    }
                    n => out.push_str(&regex::escape(&n.to_string())),
                }
                i += 2;
            }
            '[' => {
                let end = class_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
            }
            '{' => match repetition_end(&chars, i) {
                Some(end) => {
                    out.extend(&chars[i..end]);
                    i = end;
                }
                None => {
                    out.push_str(r"\{");
                    i += 1;
                }
            },
            '}' => {
                out.push_str(r"\}");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The index after the character class opening at `start` (its end, or the pattern's).
fn class_end(chars: &[char], start: usize) -> usize {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    // A `]` first in the class is a member.
    if chars.get(i) == Some(&']') {
        i += 1;
    }
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            ']' => return i + 1,
            _ => i += 1,
        }
    }
    chars.len()
}

/// The index after the repetition `{m}`, `{m,}`, `{,n}` or `{m,n}` opening at `start`, when it
/// is one (Python reads any other `{` as a literal).
fn repetition_end(chars: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let digits = |i: &mut usize| {
        let from = *i;
        while chars.get(*i).is_some_and(char::is_ascii_digit) {
            *i += 1;
        }
        *i > from
    };
    let low = digits(&mut i);
    let mut high = false;
    if chars.get(i) == Some(&',') {
        i += 1;
        high = digits(&mut i);
    }
    (chars.get(i) == Some(&'}') && (low || high)).then_some(i + 1)
}

/// One item of a pattern as far as the anchor search cares.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// `^` or `\A`.
    Begin,
    /// `$`, `\Z` or `\z`.
    End,
    /// A group the search looks into (capturing, non-capturing, with scoped flags).
    Group(Vec<Token>),
    /// Alternatives that did not share a first item.
    Branch(Vec<Vec<Token>>),
    /// Anything else (a literal, a class, a repeated item, a look-around), by its text.
    Other(String),
}

/// Whether `pattern` has a beginning anchor (`^`, `\A`) where StackStorm's
/// `search_regex_tokens` finds one.
pub fn has_begin_anchor(pattern: &str) -> bool {
    search(&Tokens::parse(pattern), &Token::Begin)
}

/// Whether `pattern` has an end anchor (`$`, `\Z`) where StackStorm's search finds one.
pub fn has_end_anchor(pattern: &str) -> bool {
    search(&Tokens::parse(pattern), &Token::End)
}

/// `search_regex_tokens`: the items, the groups' items, and of a branch only its second
/// alternative (StackStorm reads `rtoken[1][1]`).
fn search(tokens: &[Token], needle: &Token) -> bool {
    tokens.iter().any(|token| match token {
        Token::Group(inner) => search(inner, needle),
        Token::Branch(alternatives) => alternatives.get(1).is_some_and(|second| search(second, needle)),
        other => other == needle,
    })
}

struct Tokens {
    chars: Vec<char>,
    at: usize,
}

impl Tokens {
    fn parse(pattern: &str) -> Vec<Token> {
        let mut tokens = Tokens { chars: pattern.chars().collect(), at: 0 };
        tokens.alternatives()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        text.chars().enumerate().all(|(k, c)| self.chars.get(self.at + k) == Some(&c))
    }

    fn text(&self, from: usize) -> String {
        self.chars[from..self.at.min(self.chars.len())].iter().collect()
    }

    /// Alternatives up to a `)` or the end, shaped as `sre_parse._parse_sub` shapes them: a
    /// first item every alternative shares moves out in front of the branch.
    fn alternatives(&mut self) -> Vec<Token> {
        let mut items = vec![self.sequence()];
        while self.peek() == Some('|') {
            self.at += 1;
            items.push(self.sequence());
        }
        if items.len() == 1 {
            return items.pop().unwrap_or_default();
        }
        let mut shaped = Vec::new();
        while let Some(first) = items[0].first().cloned()
            && items.iter().all(|item| item.first() == Some(&first))
        {
            for item in &mut items {
                item.remove(0);
            }
            shaped.push(first);
        }
        shaped.push(Token::Branch(items));
        shaped
    }

    fn sequence(&mut self) -> Vec<Token> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let from = self.at;
            let Some(item) = self.item() else { continue };
            if self.repetition() {
                items.push(Token::Other(self.text(from)));
            } else {
                items.push(item);
            }
        }
        items
    }

    /// Consumes a repetition after an item; true when there was one.
    fn repetition(&mut self) -> bool {
        let repeated = match self.peek() {
            Some('*' | '+' | '?') => {
                self.at += 1;
                true
            }
            Some('{') => match repetition_end(&self.chars, self.at) {
                Some(end) => {
                    self.at = end;
                    true
                }
                None => false,
            },
            _ => false,
        };
        if repeated && matches!(self.peek(), Some('?' | '+')) {
            self.at += 1;
        }
        repeated
    }

    /// One item; `None` for what makes no token (a comment, global flags).
    fn item(&mut self) -> Option<Token> {
        let from = self.at;
        let c = self.peek()?;
        self.at += 1;
        match c {
            '^' => Some(Token::Begin),
            '$' => Some(Token::End),
            '\\' => {
                let escaped = self.peek();
                self.at += 1;
                match escaped {
                    Some('A') => Some(Token::Begin),
                    Some('Z' | 'z') => Some(Token::End),
                    _ => Some(Token::Other(self.text(from))),
                }
            }
            '[' => {
                self.at = class_end(&self.chars, from);
                Some(Token::Other(self.text(from)))
            }
            '(' => self.group(from),
            _ => Some(Token::Other(self.text(from))),
        }
    }

    fn group(&mut self, from: usize) -> Option<Token> {
        if self.peek() != Some('?') {
            return Some(Token::Group(self.inside()));
        }
        self.at += 1;
        if self.starts_with("P<") || (self.starts_with("<") && !self.starts_with("<=") && !self.starts_with("<!")) {
            while self.peek().is_some_and(|c| c != '>') {
                self.at += 1;
            }
            self.at += 1;
            return Some(Token::Group(self.inside()));
        }
        if self.starts_with("#") {
            while self.peek().is_some_and(|c| c != ')') {
                self.at += 1;
            }
            self.at += 1;
            return None;
        }
        if self.starts_with(":") {
            self.at += 1;
            return Some(Token::Group(self.inside()));
        }
        if self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '-') {
            // Flags: `(?i)` for the whole pattern, or `(?i:...)` scoped.
            while self.peek().is_some_and(|c| c.is_ascii_alphabetic() || c == '-') {
                self.at += 1;
            }
            if self.peek() == Some(':') {
                self.at += 1;
                return Some(Token::Group(self.inside()));
            }
            self.at += 1;
            return None;
        }
        // Look-arounds, back-references, conditionals, atomic groups: not looked into.
        let _ = self.inside();
        Some(Token::Other(self.text(from)))
    }

    /// The alternatives of a group up to its `)`, which is consumed.
    fn inside(&mut self) -> Vec<Token> {
        let tokens = self.alternatives();
        if self.peek() == Some(')') {
            self.at += 1;
        }
        tokens
    }
}
