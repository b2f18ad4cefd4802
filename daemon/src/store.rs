//! The embedded store (sled): what is not in pack files. For now, each pack's registration
//! policy (DESIGN.md 3.2); history and the datastore join it later.
//!
//! Owns: the only use of sled, its trees and their encodings. Must not: be called on an async
//! runtime thread for batches of size (callers use `spawn_blocking`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::pack::model::ContentKind;

const REGISTRATION_TREE: &str = "pack_registration";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "cannot open the store at {path}: {source} (is another st2d using the same data directory?)"
    )]
    Open { path: String, source: sled::Error },
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record {key} in the store: {message}")]
    Corrupt { key: String, message: String },
}

/// A cheap clone of the open store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    registration: sled::Tree,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(8 * 1024 * 1024)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.display().to_string(),
                source,
            })?;
        let registration = db.open_tree(REGISTRATION_TREE)?;
        Ok(Self { db, registration })
    }

    /// The content kinds `pack` registers; `None` when the pack has never been seen.
    pub fn registration(&self, pack: &str) -> Result<Option<BTreeSet<ContentKind>>, StoreError> {
        let Some(bytes) = self.registration.get(pack)? else {
            return Ok(None);
        };
        let text = String::from_utf8_lossy(&bytes);
        text.split(',')
            .filter(|kind| !kind.is_empty())
            .map(|kind| kind.parse::<ContentKind>())
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Some)
            .map_err(|message| StoreError::Corrupt {
                key: format!("{REGISTRATION_TREE}/{pack}"),
                message,
            })
    }

    pub fn set_registration(
        &self,
        pack: &str,
        kinds: &BTreeSet<ContentKind>,
    ) -> Result<(), StoreError> {
        let text: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        self.registration.insert(pack, text.join(",").as_bytes())?;
        Ok(())
    }

    /// Writes everything to disk; called after changes that must survive a crash.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_survives_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let kinds: BTreeSet<ContentKind> = [ContentKind::Actions, ContentKind::Rules]
            .into_iter()
            .collect();
        {
            let store = Store::open(dir.path()).expect("open");
            assert_eq!(store.registration("demo").expect("read"), None);
            store.set_registration("demo", &kinds).expect("write");
            store
                .set_registration("empty", &BTreeSet::new())
                .expect("write");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.registration("demo").expect("read"), Some(kinds));
        assert_eq!(
            store.registration("empty").expect("read"),
            Some(BTreeSet::new())
        );
    }

    #[test]
    fn a_second_open_of_the_same_store_fails_clearly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _first = Store::open(dir.path()).expect("open");
        let error = Store::open(dir.path()).err().expect("locked");
        assert!(error.to_string().contains("another st2d"), "{error}");
    }
}
