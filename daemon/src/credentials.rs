//! Secrets callers present: API keys and bearer tokens read from files (one a line, blank lines
//! and `#` comments skipped), kept as SHA-256 digests and checked in constant time.
//!
//! Owns: reading credential files, re-reading them (the last good set stays when a re-read
//! fails), and saying whether a presented secret is known. Must not: know about HTTP or gRPC
//! (each door takes the secret out of its request), or keep a secret in clear.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use ring::digest::{SHA256, digest};

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no credential")]
    Empty { path: PathBuf },
}

/// A set of secrets, as digests.
#[derive(Debug, Default)]
pub struct Secrets {
    digests: Vec<[u8; 32]>,
}

impl Secrets {
    /// Reads `path`; a file without any secret is an error (it would admit nobody).
    pub fn read(path: &Path) -> Result<Self, CredentialsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CredentialsError::Read { path: path.to_path_buf(), source })?;
        let secrets = Self::from_text(&text);
        if secrets.is_empty() {
            return Err(CredentialsError::Empty { path: path.to_path_buf() });
        }
        Ok(secrets)
    }

    /// The secrets of a file's text.
    fn from_text(text: &str) -> Self {
        let digests = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(fingerprint)
            .collect();
        Self { digests }
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `given` is one of the secrets. Every digest is compared in full, so the time
    /// taken says nothing about which bytes matched.
    pub fn admits(&self, given: &str) -> bool {
        let given = fingerprint(given);
        self.digests.iter().fold(false, |found, known| found | equal_in_constant_time(known, &given))
    }
}

fn fingerprint(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

fn equal_in_constant_time(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A credentials file that can be re-read while it is in use (SIGHUP).
#[derive(Debug)]
pub struct SecretsFile {
    path: PathBuf,
    current: ArcSwap<Secrets>,
}

impl SecretsFile {
    pub fn open(path: &Path) -> Result<Arc<Self>, CredentialsError> {
        let secrets = Secrets::read(path)?;
        Ok(Arc::new(Self { path: path.to_path_buf(), current: ArcSwap::from_pointee(secrets) }))
    }

    pub fn admits(&self, given: &str) -> bool {
        self.current.load().admits(given)
    }

    /// Reads the file again; when that fails the previous secrets stay and the error is logged.
    pub fn reread(&self) {
        match Secrets::read(&self.path) {
            Ok(secrets) => {
                tracing::info!(path = %self.path.display(), count = secrets.digests.len(), "credentials re-read");
                self.current.store(Arc::new(secrets));
            }
            Err(error) => {
                tracing::error!(error = %error, "credentials not re-read; the previous ones stay in force");
            }
        }
    }
}

impl crate::signal::Reread for SecretsFile {
    fn reread(&self) {
        SecretsFile::reread(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_lines_without_comments_or_blanks() {
        let secrets = Secrets::from_text("# tokens\n  alpha  \n\nbeta\n#gamma\n");
        assert!(secrets.admits("alpha") && secrets.admits("beta"));
        for refused in ["gamma", "# tokens", "", "alph", "alphaa", "ALPHA"] {
            assert!(!secrets.admits(refused), "{refused:?}");
        }
        assert!(Secrets::from_text("# only a comment\n").is_empty());
    }

    #[test]
    fn a_failed_reread_keeps_the_previous_secrets() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "first\n").expect("write");
        let file = SecretsFile::open(&path).expect("readable");
        assert!(file.admits("first"));
        std::fs::write(&path, "second\n").expect("write");
        file.reread();
        assert!(file.admits("second") && !file.admits("first"));
        std::fs::write(&path, "\n").expect("write");
        file.reread();
        assert!(file.admits("second"), "an empty file is refused and the last good set stays");
        std::fs::remove_file(&path).expect("remove");
        file.reread();
        assert!(file.admits("second"));
        let error = Secrets::read(&path).expect_err("missing");
        assert!(error.to_string().starts_with(&format!("cannot read {}: ", path.display())), "{error}");
    }
}
