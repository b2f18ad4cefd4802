//! Structure-aware mutation: byte-level changes plus insertions of a grammar's own tokens,
//! nesting, huge numbers and awkward unicode, stacked a few at a time.
//!
//! Owns: how an input becomes the next one. Must not: know what a target does with it (each
//! target names its tokens and nesting pairs).

use crate::rng::Rng;

/// The largest input a mutation produces; longer results are cut.
pub const MAX_INPUT: usize = 64 * 1024;

/// Numbers and texts that break parsers: limits of integer types, float edge cases, unicode
/// that changes width, direction or normal form, control characters.
pub const INTERESTING: &[&str] = &[
    "0",
    "-1",
    "1e309",
    "-1e309",
    "1e-400",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
    "340282366920938463463374607431768211457",
    "99999999999999999999999999999999999999999999999999",
    "1000000000",
    "100000000000",
    "0.1e99999",
    "NaN",
    "inf",
    "-0",
    "0x7fffffff",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "\u{202e}",
    "\u{200d}",
    "é",
    "e\u{301}",
    "\u{1d518}",
    "\u{10ffff}",
    "🦀",
    "\r\n",
    "\t",
    "\\",
    "\\u0000",
    "\\ud800",
    "%",
    "%%",
    "%s",
    "{0}",
    "'",
    "\"",
    "`",
    "$",
    "#",
    "&a",
    "*a",
    "!!binary",
    "!!python/object:os.system",
    "<<: *a",
];

/// What a target tells the mutator about its grammar.
#[derive(Debug, Clone, Copy)]
pub struct Grammar {
    /// Keywords, operators and punctuation worth inserting.
    pub tokens: &'static [&'static str],
    /// Pairs that nest (`(` `)`), used to wrap a part of the input many times.
    pub nesting: &'static [(&'static str, &'static str)],
}

/// Mutates `input` with one to four stacked changes; `others` are inputs to splice from.
pub fn mutate(input: &[u8], others: &[Vec<u8>], grammar: &Grammar, rng: &mut Rng) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        one(&mut out, others, grammar, rng);
        if out.len() > MAX_INPUT {
            out.truncate(MAX_INPUT);
        }
    }
    out
}

fn one(out: &mut Vec<u8>, others: &[Vec<u8>], grammar: &Grammar, rng: &mut Rng) {
    let len = out.len();
    let at = rng.below(len + 1);
    match rng.below(14) {
        0 if len > 0 => {
            let i = rng.below(len);
            out[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            out[i] = rng.next_u64() as u8;
        }
        2 => out.insert(at, rng.next_u64() as u8),
        3 if len > 0 => {
            let start = rng.below(len);
            let end = (start + 1 + rng.below(16)).min(len);
            out.drain(start..end);
        }
        4 if len > 0 => {
            // Duplicate a chunk.
            let start = rng.below(len);
            let end = (start + 1 + rng.below(64)).min(len);
            let chunk = out[start..end].to_vec();
            splice_in(out, at, &chunk);
        }
        5 => {
            // Splice a part of another input.
            if let Some(other) = rng.pick(others).filter(|o| !o.is_empty()) {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(256)).min(other.len());
                let chunk = other[start..end].to_vec();
                if rng.one_in(2) && len > 0 {
                    let cut = rng.below(len);
                    out.truncate(cut);
                    out.extend_from_slice(&other[start..]);
                } else {
                    splice_in(out, at, &chunk);
                }
            }
        }
        6..=8 => {
            if let Some(token) = rng.pick(grammar.tokens) {
                let at = boundary(out, at);
                splice_in(out, at, token.as_bytes());
            }
        }
        9 => {
            if let Some(text) = rng.pick(INTERESTING) {
                let at = boundary(out, at);
                splice_in(out, at, text.as_bytes());
            }
        }
        10 => {
            // Deep nesting around a part of the input (or nothing).
            if let Some((open, close)) = rng.pick(grammar.nesting) {
                let depth = match rng.below(4) {
                    0 => 1 + rng.below(8),
                    1 => 32 + rng.below(96),
                    2 => 128 + rng.below(512),
                    _ => 1000 + rng.below(4000),
                };
                let start = boundary(out, rng.below(len + 1));
                let end = boundary(out, (start + rng.below(64)).min(out.len()));
                let inner = out[start..end].to_vec();
                let mut nested = Vec::with_capacity(inner.len() + depth * (open.len() + close.len()));
                for _ in 0..depth {
                    nested.extend_from_slice(open.as_bytes());
                }
                nested.extend_from_slice(&inner);
                for _ in 0..depth {
                    nested.extend_from_slice(close.as_bytes());
                }
                out.splice(start..end, nested);
            }
        }
        11 if len > 0 => {
            // Repeat a chunk many times.
            let start = rng.below(len);
            let end = (start + 1 + rng.below(32)).min(len);
            let chunk = out[start..end].to_vec();
            let times = 2 + rng.below(2000);
            let mut repeated = Vec::with_capacity(chunk.len() * times);
            for _ in 0..times {
                repeated.extend_from_slice(&chunk);
                if repeated.len() > MAX_INPUT {
                    break;
                }
            }
            splice_in(out, at, &repeated);
        }
        12 => {
            // Replace a run of digits with a huge or odd number.
            if let Some((start, end)) = digits_near(out, at)
                && let Some(number) = rng.pick(&INTERESTING[..18])
            {
                out.splice(start..end, number.bytes());
            }
        }
        _ if len > 1 => {
            // Swap two chunks' order by moving one.
            let start = rng.below(len);
            let end = (start + 1 + rng.below(32)).min(len);
            let chunk: Vec<u8> = out.drain(start..end).collect();
            let at = rng.below(out.len() + 1);
            splice_in(out, at, &chunk);
        }
        _ => out.push(rng.next_u64() as u8),
    }
}

fn splice_in(out: &mut Vec<u8>, at: usize, chunk: &[u8]) {
    let at = at.min(out.len());
    out.splice(at..at, chunk.iter().copied());
}

/// `at` moved back to the start of a UTF-8 character, so insertions keep text valid more often.
fn boundary(out: &[u8], mut at: usize) -> usize {
    at = at.min(out.len());
    while at > 0 && at < out.len() && (out[at] & 0xC0) == 0x80 {
        at -= 1;
    }
    at
}

/// The run of ASCII digits at or after `at`, if any.
fn digits_near(out: &[u8], at: usize) -> Option<(usize, usize)> {
    let start = (at..out.len()).chain(0..at.min(out.len())).find(|&i| out[i].is_ascii_digit())?;
    let end = (start..out.len()).find(|&i| !out[i].is_ascii_digit()).unwrap_or(out.len());
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_deterministic_and_bounded() {
        let grammar = Grammar { tokens: &["(", ")"], nesting: &[("(", ")")] };
        let seeds = vec![b"range(1, 10).select($ * 2)".to_vec()];
        let run = |seed| {
            let mut rng = Rng::new(seed);
            let mut input = seeds[0].clone();
            for _ in 0..500 {
                input = mutate(&input, &seeds, &grammar, &mut rng);
                assert!(input.len() <= MAX_INPUT);
            }
            input
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
