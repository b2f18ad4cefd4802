//! Auth records in the store: issued tokens and API keys, each under a key the `auth` module
//! makes (a kind and the digest of the secret; the secret itself is never stored).
//!
//! Owns: the tree's reads and writes, flushed before a write returns (a token handed out must
//! survive a restart). Must not: interpret a record (`auth` owns the JSON).

// The one module that uses sled (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::{Store, StoreError};

impl Store {
    pub fn auth_record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.auth.get(key)?.map(|v| v.to_vec()))
    }

    /// Writes an auth record and flushes it.
    pub fn put_auth_record(&self, key: &str, record: &[u8]) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.auth.insert(key, record)?;
        self.auth.flush()?;
        Ok(())
    }

    /// Removes an auth record (flushed); whether there was one.
    pub fn remove_auth_record(&self, key: &str) -> Result<bool, StoreError> {
        let _writing = self.writing();
        let removed = self.auth.remove(key)?.is_some();
        self.auth.flush()?;
        Ok(removed)
    }

    /// `(key, record)` of every auth record whose key starts with `prefix`, in key order.
    pub fn auth_records(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.auth
            .scan_prefix(prefix)
            .map(|entry| {
                entry.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec())).map_err(StoreError::from)
            })
            .collect()
    }
}
