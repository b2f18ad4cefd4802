//! jsonpath-rw's reading of a query: its lexer (fields, quoted fields, numbers, `where`,
//! back-quoted named operators) and its grammar with its precedence, and its error texts.
//!
//! Owns: turning a query into a `Path`, of at most `MAX_TOKENS` tokens. Must not: evaluate it.

use super::super::FunctionError;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Path {
    Root,
    This,
    Parent,
    /// Named fields of a dict; `*` is every field.
    Fields(Vec<String>),
    Index(i64),
    /// `[start:end]`; `[*]` has neither.
    Slice(Option<i64>, Option<i64>),
    Child(Box<Path>, Box<Path>),
    Descendants(Box<Path>, Box<Path>),
    Where(Box<Path>, Box<Path>),
    Union(Box<Path>, Box<Path>),
    Intersect(Box<Path>, Box<Path>),
}

/// The most tokens a query may have, so that neither parsing nor finding recurses too deep
/// *(here: jsonpath-rw has no limit)*.
const MAX_TOKENS: usize = 1000;

/// Reads `query` whole.
pub(super) fn parse(query: &str) -> Result<Path, FunctionError> {
    let tokens = lex(query)?;
    if tokens.len() > MAX_TOKENS {
        return Err(FunctionError::InvalidJsonPath(format!("the query has more than {MAX_TOKENS} tokens")));
    }
    let mut parser = Parser { tokens, at: 0 };
    let path = parser.path(0)?;
    match parser.tokens.get(parser.at) {
        Some(token) => Err(token.unexpected()),
        None => Ok(path),
    }
}

/// A lexical token with its line and 0-based column, as jsonpath-rw's lexer counts them.
#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: Kind,
    line: usize,
    column: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// One of `*.[]()$,:|&`.
    Literal(char),
    DoubleDot,
    Where,
    Number(i64),
    Id(String),
    Named(String),
}

impl Token {
    /// jsonpath-rw's parse error for this token.
    fn unexpected(&self) -> FunctionError {
        let (value, kind) = match &self.kind {
            Kind::Literal(c) => (c.to_string(), c.to_string()),
            Kind::DoubleDot => ("..".to_string(), "DOUBLEDOT".to_string()),
            Kind::Where => ("where".to_string(), "WHERE".to_string()),
            Kind::Number(n) => (n.to_string(), "NUMBER".to_string()),
            Kind::Id(id) => (id.clone(), "ID".to_string()),
            Kind::Named(name) => (name.clone(), "NAMED_OPERATOR".to_string()),
        };
        FunctionError::InvalidJsonPath(format!(
            "Parse error at {}:{} near token {value} ({kind})",
            self.line, self.column
        ))
    }
}

fn lex(query: &str) -> Result<Vec<Token>, FunctionError> {
    let chars: Vec<char> = query.chars().collect();
    let mut tokens = Vec::new();
    let (mut line, mut line_start) = (1, 0);
    let mut at = 0;
    let lexer_error = |message: String| FunctionError::JsonPathLexer(message);
    while at < chars.len() {
        let c = chars[at];
        let column = at - line_start;
        let token = |kind: Kind| Token { kind, line, column };
        match c {
            ' ' | '\t' => at += 1,
            '\n' => {
                line += 1;
                line_start = at;
                at += 1;
            }
            '.' if chars.get(at + 1) == Some(&'.') => {
                tokens.push(token(Kind::DoubleDot));
                at += 2;
            }
            '*' | '.' | '[' | ']' | '(' | ')' | '$' | ',' | ':' | '|' | '&' => {
                tokens.push(token(Kind::Literal(c)));
                at += 1;
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == '@' => {
                let end = (at..chars.len())
                    .find(|&i| !(chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '@' | '-')))
                    .unwrap_or(chars.len());
                let word: String = chars[at..end].iter().collect();
                tokens.push(token(if word == "where" { Kind::Where } else { Kind::Id(word) }));
                at = end;
            }
            c if c.is_ascii_digit() || (c == '-' && chars.get(at + 1).is_some_and(char::is_ascii_digit)) => {
                let end = (at + 1..chars.len()).find(|&i| !chars[i].is_ascii_digit()).unwrap_or(chars.len());
                let digits: String = chars[at..end].iter().collect();
                let number = digits.parse().map_err(|_| lexer_error(format!("number out of range: {digits}")))?;
                tokens.push(token(Kind::Number(number)));
                at = end;
            }
            '\'' | '"' | '`' => {
                let mut text = String::new();
                let mut end = at + 1;
                loop {
                    match chars.get(end) {
                        None => return Err(lexer_error("Unexpected EOF in string literal or identifier".to_string())),
                        Some('\\') if end + 1 < chars.len() => {
                            text.push(chars[end + 1]);
                            end += 2;
                        }
                        Some(&close) if close == c => break,
                        Some(&other) => {
                            text.push(other);
                            end += 1;
                        }
                    }
                }
                tokens.push(token(if c == '`' { Kind::Named(text) } else { Kind::Id(text) }));
                at = end + 1;
            }
            other => {
                return Err(lexer_error(format!("Error on line {line}, col {column}: Unexpected character: {other} ")));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Binary operators from the loosest: `..`, `.`, `|`, `&`, `where`.
fn binding(kind: &Kind) -> Option<u8> {
    match kind {
        Kind::DoubleDot => Some(1),
        Kind::Literal('.') => Some(2),
        Kind::Literal('|') => Some(3),
        Kind::Literal('&') => Some(4),
        Kind::Where => Some(5),
        _ => None,
    }
}

impl Parser {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.at).map(|t| &t.kind)
    }

    fn next(&mut self) -> Result<Token, FunctionError> {
        let token = self.tokens.get(self.at).cloned().ok_or_else(|| {
            // jsonpath-rw's parser fails on a missing token this way.
            FunctionError::NoAttribute("'NoneType' object has no attribute 'lineno'".to_string())
        })?;
        self.at += 1;
        Ok(token)
    }

    fn expect(&mut self, c: char) -> Result<(), FunctionError> {
        let token = self.next()?;
        if token.kind == Kind::Literal(c) { Ok(()) } else { Err(token.unexpected()) }
    }

    /// Operators binding tighter than `min` (all left-associative). Nesting is bounded by
    /// the query's length, which callers keep small.
    fn path(&mut self, min: u8) -> Result<Path, FunctionError> {
        let mut left = self.postfix()?;
        while let Some(level) = self.peek().and_then(binding).filter(|&level| level > min) {
            let operator = self.next()?.kind;
            let right = Box::new(self.path(level)?);
            let l = Box::new(left);
            left = match operator {
                Kind::DoubleDot => Path::Descendants(l, right),
                Kind::Literal('.') => Path::Child(l, right),
                Kind::Literal('|') => Path::Union(l, right),
                Kind::Literal('&') => Path::Intersect(l, right),
                _ => Path::Where(l, right),
            };
        }
        Ok(left)
    }

    /// An atom and the brackets that follow it.
    fn postfix(&mut self) -> Result<Path, FunctionError> {
        let mut path = self.atom()?;
        while self.peek() == Some(&Kind::Literal('[')) {
            self.at += 1;
            path = Path::Child(Box::new(path), Box::new(self.bracket()?));
        }
        Ok(path)
    }

    fn atom(&mut self) -> Result<Path, FunctionError> {
        let token = self.next()?;
        match token.kind {
            Kind::Literal('$') => Ok(Path::Root),
            Kind::Literal('*') => Ok(Path::Fields(vec!["*".to_string()])),
            Kind::Id(first) => Ok(Path::Fields(self.fields(first)?)),
            Kind::Named(name) => match name.as_str() {
                "this" => Ok(Path::This),
                "parent" => Ok(Path::Parent),
                _ => Err(FunctionError::InvalidJsonPath(format!(
                    "Unknown named operator `{name}` at {}:{}",
                    token.line, token.column
                ))),
            },
            Kind::Literal('[') => self.bracket(),
            Kind::Literal('(') => {
                let inner = self.path(0)?;
                self.expect(')')?;
                Ok(inner)
            }
            _ => Err(token.unexpected()),
        }
    }

    /// `first` and any `, name` after it.
    fn fields(&mut self, first: String) -> Result<Vec<String>, FunctionError> {
        let mut names = vec![first];
        while self.peek() == Some(&Kind::Literal(',')) {
            self.at += 1;
            let token = self.next()?;
            match token.kind {
                Kind::Id(name) => names.push(name),
                _ => return Err(token.unexpected()),
            }
        }
        Ok(names)
    }

    /// What follows `[`: an index, a slice, `*` or field names, and the `]`.
    fn bracket(&mut self) -> Result<Path, FunctionError> {
        let token = self.next()?;
        let path = match token.kind {
            Kind::Literal('*') => Path::Slice(None, None),
            Kind::Id(first) => Path::Fields(self.fields(first)?),
            Kind::Number(n) if self.peek() == Some(&Kind::Literal(':')) => {
                self.at += 1;
                Path::Slice(Some(n), self.slice_end())
            }
            Kind::Number(n) => Path::Index(n),
            Kind::Literal(':') => Path::Slice(None, self.slice_end()),
            _ => return Err(token.unexpected()),
        };
        self.expect(']')?;
        Ok(path)
    }

    fn slice_end(&mut self) -> Option<i64> {
        match self.peek() {
            Some(Kind::Number(n)) => {
                let n = *n;
                self.at += 1;
                Some(n)
            }
            _ => None,
        }
    }
}
