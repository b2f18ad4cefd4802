//! Encryption of datastore secrets: AES-256-GCM (ring) with a random nonce per value, stored as
//! hex of nonce, ciphertext and tag. The key is 32 random bytes, hex, in a key file created with
//! mode 0600 (its directory 0700) and reused afterwards.
//!
//! Owns: the key file and the cipher. Must not: know about items or scopes.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::DatastoreError;

pub struct Cipher {
    key: LessSafeKey,
    random: SystemRandom,
    file: PathBuf,
    fingerprint: String,
}

/// What a key's fingerprint is derived with (so it is no digest of the bare key).
const FINGERPRINT_CONTEXT: &[u8] = b"st2d datastore key fingerprint v1\0";

/// A key's fingerprint: 32 hex digits of SHA-256 over a context and the key; it tells two keys
/// apart and says nothing about either.
fn fingerprint(key: &[u8]) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(FINGERPRINT_CONTEXT);
    context.update(key);
    let digest = context.finish();
    hex(digest.as_ref().get(..16).unwrap_or_default())
}

/// The fingerprint of the key in `file`; `None` when there is no such file.
pub fn fingerprint_of(file: &Path) -> Result<Option<String>, DatastoreError> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(Some(fingerprint(&key_bytes(file, text.trim())?))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => {
            Err(DatastoreError::Key(format!("datastore key file {}: cannot read it: {error}", file.display())))
        }
    }
}

/// The 32 bytes of a key file's text.
fn key_bytes(file: &Path, hex_key: &str) -> Result<Vec<u8>, DatastoreError> {
    unhex(hex_key).filter(|b| b.len() == 32).ok_or_else(|| {
        DatastoreError::Key(format!(
            "datastore key file {}: not a key (expected 64 hex digits); restore the right file or move it away to start over (existing secrets then cannot be read)",
            file.display()
        ))
    })
}

impl Cipher {
    /// Reads the key in `file`, creating it (0600, in a 0700 directory) when it does not exist.
    pub fn load_or_create(file: &Path) -> Result<Self, DatastoreError> {
        let random = SystemRandom::new();
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            DatastoreError::Key(format!("datastore key file {}: {what}: {e}", file.display()))
        };
        let hex_key = match std::fs::read_to_string(file) {
            Ok(text) => text.trim().to_string(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = file.parent() {
                    std::fs::DirBuilder::new()
                        .recursive(true)
                        .mode(0o700)
                        .create(dir)
                        .map_err(|e| failed("cannot create its directory", &e))?;
                }
                let mut bytes = [0u8; 32];
                random.fill(&mut bytes).map_err(|_| failed("cannot generate a key", &"no randomness"))?;
                let text = hex(&bytes);
                let mut out = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(file)
                    .map_err(|e| failed("cannot create it", &e))?;
                out.write_all(format!("{text}\n").as_bytes()).map_err(|e| failed("cannot write it", &e))?;
                out.sync_all().map_err(|e| failed("cannot write it", &e))?;
                text
            }
            Err(error) => return Err(failed("cannot read it", &error)),
        };
        let bytes = key_bytes(file, &hex_key)?;
        let key =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| failed("cannot use the key", &"ring refused it"))?;
        Ok(Self { key: LessSafeKey::new(key), random, file: file.to_path_buf(), fingerprint: fingerprint(&bytes) })
    }

    /// The key's fingerprint (`fingerprint_of` its file).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn encrypt(&self, clear: &str) -> Result<String, DatastoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).map_err(|_| DatastoreError::Key("no randomness for a nonce".to_string()))?;
        let mut data = clear.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .map_err(|_| DatastoreError::Key(format!("cannot encrypt with {}", self.file.display())))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(hex(&out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<String, DatastoreError> {
        let failed = || DatastoreError::Decrypt(format!("{}...", stored.chars().take(8).collect::<String>()));
        let bytes = unhex(stored).ok_or_else(failed)?;
        if bytes.len() < NONCE_LEN {
            return Err(failed());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| failed())?;
        let mut sealed = sealed.to_vec();
        let clear = self.key.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| failed())?;
        String::from_utf8(clear.to_vec()).map_err(|_| failed())
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex text; `None` when it is not hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}
