//! The embedded store (sled): what is not in pack files: each pack's registration policy
//! (DESIGN.md 3.2), the trigger instance journal and the key-value datastore.
//!
//! Owns: the only use of sled, its trees and their encodings. Must not: be called on an async
//! runtime thread for batches of size (callers use `spawn_blocking`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::pack::model::ContentKind;

const REGISTRATION_TREE: &str = "pack_registration";
const TRIGGER_INSTANCES_TREE: &str = "trigger_instances";
const KV_TREE: &str = "kv";
const SENSOR_TOGGLES_TREE: &str = "sensor_toggles";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source} (is another st2d using the same data directory?)")]
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
    trigger_instances: sled::Tree,
    kv: sled::Tree,
    sensor_toggles: sled::Tree,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(path)
            .mode(sled::Mode::LowSpace)
            .cache_capacity(8 * 1024 * 1024)
            .open()
            .map_err(|source| StoreError::Open { path: path.display().to_string(), source })?;
        let registration = db.open_tree(REGISTRATION_TREE)?;
        let trigger_instances = db.open_tree(TRIGGER_INSTANCES_TREE)?;
        let kv = db.open_tree(KV_TREE)?;
        let sensor_toggles = db.open_tree(SENSOR_TOGGLES_TREE)?;
        Ok(Self { db, registration, trigger_instances, kv, sensor_toggles })
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
            .map_err(|message| StoreError::Corrupt { key: format!("{REGISTRATION_TREE}/{pack}"), message })
    }

    pub fn set_registration(&self, pack: &str, kinds: &BTreeSet<ContentKind>) -> Result<(), StoreError> {
        let text: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        self.registration.insert(pack, text.join(",").as_bytes())?;
        Ok(())
    }

    /// A new id, unique and increasing for the life of the store.
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    /// Writes trigger instances `(id, JSON record)` in one batch (not yet flushed).
    pub fn put_trigger_instances(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (id, record) in records {
            batch.insert(&id.to_be_bytes(), record.as_slice());
        }
        self.trigger_instances.apply_batch(batch)?;
        Ok(())
    }

    pub fn trigger_instance(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trigger_instances.get(id.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// The newest `limit` trigger instance records that `keep` accepts, newest first.
    pub fn recent_trigger_instances(
        &self,
        limit: usize,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut found = Vec::new();
        for entry in self.trigger_instances.iter().rev() {
            let (_, value) = entry?;
            if keep(&value) {
                found.push(value.to_vec());
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    pub fn kv_get(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.kv.get(name)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    pub fn kv_set(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.kv.insert(name, value.as_bytes())?;
        Ok(())
    }

    /// Whether the key existed.
    pub fn kv_delete(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.kv.remove(name)?.is_some())
    }

    /// `(name, value)` of every key starting with `prefix`, in key order.
    pub fn kv_list(&self, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.kv
            .scan_prefix(prefix)
            .map(|entry| {
                entry
                    .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), String::from_utf8_lossy(&v).into_owned()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// Sensors enabled or disabled through the API: `ref -> enabled`, overriding their files.
    pub fn sensor_toggles(&self) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        self.sensor_toggles
            .iter()
            .map(|entry| {
                entry
                    .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.as_ref() == b"1"))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    /// Sets (`Some`) or clears (`None`) a sensor's toggle, durably.
    pub fn set_sensor_toggle(&self, sensor: &str, enabled: Option<bool>) -> Result<(), StoreError> {
        match enabled {
            Some(enabled) => {
                self.sensor_toggles.insert(sensor, if enabled { &b"1"[..] } else { &b"0"[..] })?;
            }
            None => {
                self.sensor_toggles.remove(sensor)?;
            }
        }
        self.db.flush()?;
        Ok(())
    }

    /// Flushes to disk without blocking the runtime.
    pub async fn flush_async(&self) -> Result<(), StoreError> {
        self.db.flush_async().await?;
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
        let kinds: BTreeSet<ContentKind> = [ContentKind::Actions, ContentKind::Rules].into_iter().collect();
        {
            let store = Store::open(dir.path()).expect("open");
            assert_eq!(store.registration("demo").expect("read"), None);
            store.set_registration("demo", &kinds).expect("write");
            store.set_registration("empty", &BTreeSet::new()).expect("write");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.registration("demo").expect("read"), Some(kinds));
        assert_eq!(store.registration("empty").expect("read"), Some(BTreeSet::new()));
    }

    #[test]
    fn a_second_open_of_the_same_store_fails_clearly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _first = Store::open(dir.path()).expect("open");
        let error = Store::open(dir.path()).err().expect("locked");
        assert!(error.to_string().contains("another st2d"), "{error}");
    }
}
