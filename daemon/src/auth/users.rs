//! The users file (`--auth-users FILE`): StackStorm's flat-file authentication backend, an
//! htpasswd file of `user:hash` lines. Hashes are bcrypt (`htpasswd -B`, `$2y$`, `$2b$`,
//! `$2a$`) or SHA-1 (`htpasswd -s`, `{SHA}`), as the backend's documentation recommends.
//!
//! Owns: reading and re-reading the file (the last good one stays when a re-read fails) and
//! checking a password. Must not: issue tokens (`auth::tokens` does) or keep a password.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

/// Why the users file cannot be used; each names the file, and the line when one is wrong.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: expected \"user:hash\" (an htpasswd line)")]
    Malformed { path: PathBuf, line: usize },
    #[error(
        "{path}:{line}: the hash of user \"{user}\" is neither bcrypt nor {{SHA}}; make it with `htpasswd -B` (bcrypt) or `htpasswd -s`"
    )]
    UnsupportedHash { path: PathBuf, line: usize, user: String },
    #[error("{path} holds no user")]
    Empty { path: PathBuf },
}

#[derive(Debug, Clone)]
enum Hash {
    Bcrypt(String),
    Sha1([u8; 20]),
}

impl Hash {
    fn parse(text: &str) -> Option<Self> {
        if ["$2y$", "$2b$", "$2a$", "$2x$"].iter().any(|prefix| text.starts_with(prefix)) {
            return Some(Self::Bcrypt(text.to_string()));
        }
        let encoded = text.strip_prefix("{SHA}")?;
        let bytes = base64_decode(encoded)?;
        <[u8; 20]>::try_from(bytes.as_slice()).ok().map(Self::Sha1)
    }

    fn verify(&self, password: &str) -> bool {
        match self {
            Self::Bcrypt(hash) => bcrypt::verify(password, hash).unwrap_or(false),
            Self::Sha1(expected) => {
                let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, password.as_bytes());
                digest.as_ref().iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
            }
        }
    }
}

/// Standard base64 (with padding), as htpasswd writes `{SHA}` hashes.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = text.trim_end_matches('=');
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for byte in text.bytes() {
        let value = ALPHABET.iter().position(|c| *c == byte)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// The users of one reading of the file.
#[derive(Debug, Default)]
struct Users {
    hashes: HashMap<String, Hash>,
}

impl Users {
    fn read(path: &Path) -> Result<Self, UsersError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| UsersError::Read { path: path.to_path_buf(), source })?;
        let mut hashes = HashMap::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let number = index + 1;
            let Some((user, hash)) = line.split_once(':').filter(|(user, _)| !user.is_empty()) else {
                return Err(UsersError::Malformed { path: path.to_path_buf(), line: number });
            };
            let hash = Hash::parse(hash).ok_or_else(|| UsersError::UnsupportedHash {
                path: path.to_path_buf(),
                line: number,
                user: user.to_string(),
            })?;
            hashes.insert(user.to_string(), hash);
        }
        if hashes.is_empty() {
            return Err(UsersError::Empty { path: path.to_path_buf() });
        }
        Ok(Self { hashes })
    }
}

/// The users file, re-readable while in use (SIGHUP).
#[derive(Debug)]
pub struct UsersFile {
    path: PathBuf,
    current: ArcSwap<Users>,
}

impl UsersFile {
    pub fn open(path: &Path) -> Result<Arc<Self>, UsersError> {
        let users = Users::read(path)?;
        Ok(Arc::new(Self { path: path.to_path_buf(), current: ArcSwap::from_pointee(users) }))
    }

    /// Whether `user` is in the file with `password`. An unknown user costs a bcrypt check
    /// too, so the time taken does not tell which users exist.
    pub fn check(&self, user: &str, password: &str) -> bool {
        let users = self.current.load();
        match users.hashes.get(user) {
            Some(hash) => hash.verify(password),
            None => {
                let _ = bcrypt::verify(password, decoy_hash());
                false
            }
        }
    }
}

/// A bcrypt hash of a random password, checked for unknown users.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| bcrypt::hash(crate::auth::tokens::new_secret(), bcrypt::DEFAULT_COST).unwrap_or_default())
}

impl crate::signal::Reread for UsersFile {
    fn reread(&self) {
        match Users::read(&self.path) {
            Ok(users) => {
                tracing::info!(path = %self.path.display(), count = users.hashes.len(), "users file re-read");
                self.current.store(Arc::new(users));
            }
            Err(error) => tracing::error!(error = %error, "users file not re-read; the previous users stay"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("htpasswd");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn bcrypt_and_sha_hashes_from_htpasswd_are_checked() {
        let bcrypt = bcrypt::hash("Ch@ngeMe", 4).expect("hash");
        // `htpasswd -nbs st2admin Ch@ngeMe`
        let text = format!("# users\nst2admin:{{SHA}}hNDPBN5LIlHhoHC/cA2TxDWFe/w=\njill:{bcrypt}\n");
        let (_dir, path) = file(&text);
        let users = UsersFile::open(&path).expect("readable");
        assert!(users.check("st2admin", "Ch@ngeMe"));
        assert!(users.check("jill", "Ch@ngeMe"));
        assert!(!users.check("st2admin", "wrong"));
        assert!(!users.check("jill", "ch@ngeme"));
        assert!(!users.check("nobody", "Ch@ngeMe"));
    }

    #[test]
    fn a_bad_line_is_named() {
        let (_dir, path) = file("st2admin:{SHA}hNDPBN5LIlHhoHC/cA2TxDWFe/w=\njack\n");
        let error = UsersFile::open(&path).expect_err("malformed").to_string();
        assert!(error.ends_with("htpasswd:2: expected \"user:hash\" (an htpasswd line)"), "{error}");
        let (_dir, path) = file("bob:$apr1$abc$def\n");
        let error = UsersFile::open(&path).expect_err("md5").to_string();
        assert!(error.contains("htpasswd:1: the hash of user \"bob\"") && error.contains("htpasswd -B"), "{error}");
    }
}
