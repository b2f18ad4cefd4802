//! Random values from the operating system's CSPRNG (through `ring`): secret tokens, unique
//! names for files and trace tags, and the random numbers workflows and back-off jitter ask for.
//!
//! Owns: every random value the daemon makes. Must not: derive one from the clock, a counter or
//! a hasher's seed.

use ring::rand::{SecureRandom, SystemRandom};

/// `N` random bytes. The system generator failing (no `getrandom`, no `/dev/urandom`) leaves
/// nothing safe to run on.
fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).expect("the operating system's random number generator works");
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

/// A secret: 128 random bits as 32 hex digits.
pub fn token() -> String {
    hex(&bytes::<16>())
}

/// A name no other file or tag has: 64 random bits as 16 hex digits.
pub fn unique_name() -> String {
    hex(&bytes::<8>())
}

/// 64 random bits.
pub fn next_u64() -> u64 {
    u64::from_le_bytes(bytes::<8>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_fresh_and_shaped() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(unique_name().len(), 16);
        assert_ne!(next_u64(), next_u64());
    }
}
