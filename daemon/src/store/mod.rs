//! The embedded store (sled): what is not in pack files: each pack's registration policy
//! (DESIGN.md 3.2), the trigger instance journal, rule enforcements, executions and workflow
//! states (`executions.rs`), toggles and the key-value datastore; the walk and restore of every
//! tree for backups (`dump.rs`) and the health of a store directory (`health.rs`).
//!
//! Owns: the only use of sled, its trees and their encodings, and the write gate: every write
//! holds it shared, a backup's walk holds it alone, so a backup sees the store as it was between
//! two writes. Must not: be called on an async runtime thread for batches of size (callers use
//! `spawn_blocking`).

// The one module that uses sled (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeSet;
use std::path::Path;

use st2d_core::pack::model::ContentKind;

mod auth;
mod dump;
mod executions;
mod health;

pub use dump::{DumpKey, DumpRecord, DumpTree};
pub use health::{Health, LockHolder};

const REGISTRATION_TREE: &str = "pack_registration";
/// How each installed pack was installed (JSON), and any virtualenv error.
const PACK_INSTALLS_TREE: &str = "pack_installs";
const TRIGGER_INSTANCES_TREE: &str = "trigger_instances";
const KV_TREE: &str = "kv";
const SENSOR_TOGGLES_TREE: &str = "sensor_toggles";
const RULE_TOGGLES_TREE: &str = "rule_toggles";
const EXECUTIONS_TREE: &str = "executions";
/// Ids of executions not yet completed: what a restart must look at.
const ACTIVE_EXECUTIONS_TREE: &str = "executions_active";
/// Keyed by (trigger instance id, rule ref): at most one enforcement per pair, ever.
const ENFORCEMENTS_TREE: &str = "rule_enforcements";
const META_TREE: &str = "meta";
/// Keyed by (workflow execution id, child execution id): the children of each workflow.
const CHILDREN_TREE: &str = "execution_children";
/// Keyed by workflow execution id: the conductor's state, written after every task transition.
const WORKFLOWS_TREE: &str = "workflow_states";
/// Issued auth tokens and API keys, by the digest of their secret (`auth` owns the layout).
const AUTH_TREE: &str = "auth";
/// Every trigger instance with an id up to this one has been processed.
const PROCESSED_THROUGH_KEY: &str = "trigger_instances_processed_through";
/// Every id this store gives out is above this one (set by an import, whose ids it keeps).
const IDS_ABOVE_KEY: &str = "ids_above";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: String, source: sled::Error },
    #[error("cannot open the store at {path}: it is locked by {holder} (another st2d using the same data directory?)")]
    Locked { path: String, holder: LockHolder },
    #[error(
        "cannot open the store at {path}: it is damaged: {reason} (`st2d store check` reports on it; restore an export into a new data directory with `st2d store import`)"
    )]
    Damaged { path: String, reason: String },
    #[error("cannot write the store's marker file {path}: {source}")]
    Marker { path: String, source: std::io::Error },
    #[error("store error: {0}")]
    Sled(#[from] sled::Error),
    #[error("corrupt record {key} in the store: {message}")]
    Corrupt { key: String, message: String },
    #[error("the store flush did not finish: {0}")]
    Flush(String),
}

/// A cheap clone of the open store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    /// Held shared by every write and alone by a backup's walk (`dump.rs`); it guards no data.
    gate: std::sync::Arc<std::sync::RwLock<()>>,
    /// Added to sled's id generator: above every id an import brought in.
    id_offset: u64,
    dir: std::sync::Arc<Path>,
    registration: sled::Tree,
    pack_installs: sled::Tree,
    trigger_instances: sled::Tree,
    kv: sled::Tree,
    sensor_toggles: sled::Tree,
    rule_toggles: sled::Tree,
    executions: sled::Tree,
    active_executions: sled::Tree,
    enforcements: sled::Tree,
    meta: sled::Tree,
    children: sled::Tree,
    workflows: sled::Tree,
    auth: sled::Tree,
}

/// One tree of history records keyed by increasing ids, for retention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    TriggerInstances,
    Executions,
    Enforcements,
}

/// What one commit of the rules engine writes, atomically: the enforcements of a batch of
/// trigger instances and the executions they request.
#[derive(Debug, Default)]
pub struct EnforcementBatch {
    /// `(trigger instance id, rule ref, record)`.
    pub enforcements: Vec<(u64, String, Vec<u8>)>,
    /// `(execution id, record)`; each is also marked active.
    pub executions: Vec<(u64, Vec<u8>)>,
}

/// The key of an enforcement: the instance id (big-endian, so keys sort by instance) and the rule.
fn enforcement_key(instance: u64, rule: &str) -> Vec<u8> {
    let mut key = instance.to_be_bytes().to_vec();
    key.extend_from_slice(rule.as_bytes());
    key
}

impl Store {
    /// Opens (or creates) the store in `path`. A store another process holds is `Locked`, one
    /// that sled cannot read `Damaged`, each naming the path.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = health::open_db(path)?;
        let registration = db.open_tree(REGISTRATION_TREE)?;
        let pack_installs = db.open_tree(PACK_INSTALLS_TREE)?;
        let trigger_instances = db.open_tree(TRIGGER_INSTANCES_TREE)?;
        let kv = db.open_tree(KV_TREE)?;
        let sensor_toggles = db.open_tree(SENSOR_TOGGLES_TREE)?;
        let rule_toggles = db.open_tree(RULE_TOGGLES_TREE)?;
        let executions = db.open_tree(EXECUTIONS_TREE)?;
        let active_executions = db.open_tree(ACTIVE_EXECUTIONS_TREE)?;
        let enforcements = db.open_tree(ENFORCEMENTS_TREE)?;
        let meta = db.open_tree(META_TREE)?;
        let children = db.open_tree(CHILDREN_TREE)?;
        let workflows = db.open_tree(WORKFLOWS_TREE)?;
        let auth = db.open_tree(AUTH_TREE)?;
        health::confirm_records(path, &db, &meta)?;
        let id_offset = match meta.get(IDS_ABOVE_KEY)?.and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok()) {
            Some(bytes) => u64::from_be_bytes(bytes).saturating_add(1),
            None => 0,
        };
        Ok(Self {
            db,
            gate: std::sync::Arc::default(),
            id_offset,
            dir: std::sync::Arc::from(path),
            registration,
            pack_installs,
            trigger_instances,
            kv,
            sensor_toggles,
            rule_toggles,
            executions,
            active_executions,
            enforcements,
            meta,
            children,
            workflows,
            auth,
        })
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
        let _writing = self.writing();
        let text: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        self.registration.insert(pack, text.join(",").as_bytes())?;
        Ok(())
    }

    pub fn remove_registration(&self, pack: &str) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.registration.remove(pack)?;
        Ok(())
    }

    /// The install record of `pack` (JSON), if it was installed by st2d.
    pub fn pack_install(&self, pack: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.pack_installs.get(pack)?.map(|bytes| bytes.to_vec()))
    }

    pub fn put_pack_install(&self, pack: &str, record: &[u8]) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.pack_installs.insert(pack, record)?;
        Ok(())
    }

    pub fn remove_pack_install(&self, pack: &str) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.pack_installs.remove(pack)?;
        Ok(())
    }

    /// A new id, unique and increasing for the life of the store (and above every imported one).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?.saturating_add(self.id_offset))
    }

    /// The directory the store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The write gate, held shared for one write (see the module header).
    fn writing(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        // The gate guards no data: a writer that panicked left nothing half-done behind it.
        self.gate.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes trigger instances `(id, JSON record)` in one batch (not yet flushed).
    pub fn put_trigger_instances(&self, records: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let _writing = self.writing();
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
        recent(&self.trigger_instances, limit, keep)
    }

    /// The datastore record under `key` (the datastore owns the layout).
    pub fn kv_record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.kv.get(key)?.map(|v| v.to_vec()))
    }

    /// Writes a datastore record; returns the one it replaced.
    pub fn put_kv_record(&self, key: &str, record: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let _writing = self.writing();
        Ok(self.kv.insert(key, record)?.map(|v| v.to_vec()))
    }

    /// Removes a datastore record; returns it when there was one.
    pub fn remove_kv_record(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let _writing = self.writing();
        Ok(self.kv.remove(key)?.map(|v| v.to_vec()))
    }

    /// `(key, record)` of every datastore record whose key starts with `prefix`, in key order.
    pub fn kv_records(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.kv
            .scan_prefix(prefix)
            .map(|entry| {
                entry.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.to_vec())).map_err(StoreError::from)
            })
            .collect()
    }

    /// Sensors enabled or disabled through the API: `ref -> enabled`, overriding their files.
    pub fn sensor_toggles(&self) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        toggles(&self.sensor_toggles)
    }

    /// Sets (`Some`) or clears (`None`) a sensor's toggle, durably.
    pub fn set_sensor_toggle(&self, sensor: &str, enabled: Option<bool>) -> Result<(), StoreError> {
        let _writing = self.writing();
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

    /// Rules enabled or disabled through the API: `ref -> enabled`, overriding their files.
    pub fn rule_toggles(&self) -> Result<std::collections::HashMap<String, bool>, StoreError> {
        toggles(&self.rule_toggles)
    }

    /// Sets a rule's toggle, durably.
    pub fn set_rule_toggle(&self, rule: &str, enabled: bool) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.rule_toggles.insert(rule, if enabled { &b"1"[..] } else { &b"0"[..] })?;
        self.db.flush()?;
        Ok(())
    }

    /// Forgets a rule's toggle, durably (its file's `enabled` holds again).
    pub fn clear_rule_toggle(&self, rule: &str) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.rule_toggles.remove(rule)?;
        self.db.flush()?;
        Ok(())
    }

    /// The id through which every trigger instance has been processed (0 when none).
    pub fn processed_through(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get(PROCESSED_THROUGH_KEY)?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    pub fn set_processed_through(&self, id: u64) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.meta.insert(PROCESSED_THROUGH_KEY, &id.to_be_bytes())?;
        Ok(())
    }

    /// Trigger instance records with ids above `after`, in id order.
    pub fn trigger_instances_after(&self, after: u64) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.trigger_instances
            .range((after.saturating_add(1)).to_be_bytes()..)
            .map(|entry| {
                let (key, value) = entry?;
                Ok((id_of(&key)?, value.to_vec()))
            })
            .collect()
    }

    /// Whether the (instance, rule) pair was already enforced.
    pub fn enforced(&self, instance: u64, rule: &str) -> Result<bool, StoreError> {
        Ok(self.enforcements.contains_key(enforcement_key(instance, rule))?)
    }

    /// Writes a batch of enforcements and the executions they request in one transaction, and
    /// flushes it: once this returns, a replay of these instances fires none of these rules again.
    pub async fn commit_enforcements(&self, batch: &EnforcementBatch) -> Result<(), StoreError> {
        use sled::Transactional;
        let writing = self.writing();
        let result: sled::transaction::TransactionResult<(), ()> =
            (&self.enforcements, &self.executions, &self.active_executions).transaction(
                |(enforcements, executions, active)| {
                    for (instance, rule, record) in &batch.enforcements {
                        enforcements.insert(enforcement_key(*instance, rule), record.as_slice())?;
                    }
                    for (id, record) in &batch.executions {
                        executions.insert(&id.to_be_bytes(), record.as_slice())?;
                        active.insert(&id.to_be_bytes(), &[])?;
                    }
                    Ok(())
                },
            );
        result.map_err(|error| match error {
            sled::transaction::TransactionError::Storage(error) => StoreError::Sled(error),
            sled::transaction::TransactionError::Abort(()) => {
                StoreError::Corrupt { key: ENFORCEMENTS_TREE.to_string(), message: "transaction aborted".to_string() }
            }
        })?;
        drop(writing);
        self.flush_async().await
    }

    /// The newest `limit` enforcement records that `keep` accepts, newest first.
    pub fn recent_enforcements(&self, limit: usize, keep: impl Fn(&[u8]) -> bool) -> Result<Vec<Vec<u8>>, StoreError> {
        recent(&self.enforcements, limit, keep)
    }

    /// The enforcement records of one trigger instance.
    pub fn enforcements_of(&self, instance: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.enforcements
            .scan_prefix(instance.to_be_bytes())
            .map(|entry| entry.map(|(_, v)| v.to_vec()).map_err(StoreError::from))
            .collect()
    }

    /// Deletes the oldest records of `history`: beyond the newest `keep_newest`, and those that
    /// `expired` says are too old (records are in time order, so the scan stops at the first
    /// one kept). Active executions are never deleted. Returns how many were deleted.
    pub fn prune(
        &self,
        history: History,
        keep_newest: usize,
        expired: impl Fn(&[u8]) -> bool,
    ) -> Result<usize, StoreError> {
        let _writing = self.writing();
        let tree = match history {
            History::TriggerInstances => &self.trigger_instances,
            History::Executions => &self.executions,
            History::Enforcements => &self.enforcements,
        };
        let mut doomed = Vec::new();
        // Beyond the count limit: everything older than the newest `keep_newest`.
        if let Some(entry) = tree.iter().rev().nth(keep_newest) {
            let (boundary, _) = entry?;
            for entry in tree.range(..=boundary) {
                doomed.push(entry?.0);
            }
        }
        let count_cut = doomed.len();
        for entry in tree.iter().skip(count_cut) {
            let (key, value) = entry?;
            if !expired(&value) {
                break;
            }
            doomed.push(key);
        }
        let mut batch = sled::Batch::default();
        let mut deleted = 0;
        for key in doomed {
            if history == History::Executions {
                if self.active_executions.contains_key(&key)? {
                    continue;
                }
                self.forget_workflow(&key)?;
            }
            batch.remove(key);
            deleted += 1;
        }
        tree.apply_batch(batch)?;
        Ok(deleted)
    }

    /// Flushes to disk without blocking the runtime.
    ///
    /// A blocking flush on tokio's blocking pool: sled 0.34's own `flush_async` parks runtime
    /// threads when several flushes are under way, which stalls the whole runtime.
    pub async fn flush_async(&self) -> Result<(), StoreError> {
        let db = self.db.clone();
        match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(flushed) => flushed.map(|_| ()).map_err(StoreError::from),
            Err(error) => Err(StoreError::Flush(error.to_string())),
        }
    }

    /// Writes everything to disk; called after changes that must survive a crash.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// A toggles tree as `name -> enabled`.
fn toggles(tree: &sled::Tree) -> Result<std::collections::HashMap<String, bool>, StoreError> {
    tree.iter()
        .map(|entry| {
            entry.map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v.as_ref() == b"1")).map_err(StoreError::from)
        })
        .collect()
}

pub(super) fn recent(
    tree: &sled::Tree,
    limit: usize,
    keep: impl Fn(&[u8]) -> bool,
) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut found = Vec::new();
    for entry in tree.iter().rev() {
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

pub(super) fn id_of(key: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(key.get(..8).unwrap_or_default())
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt { key: format!("{key:?}"), message: "not an 8-byte id".to_string() })
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
        // sled's flusher thread lets go of the file lock a moment after the last handle drops.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(store) => break store,
                Err(error) if std::time::Instant::now() < deadline && error.to_string().contains("lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => panic!("reopen: {error}"),
            }
        };
        assert_eq!(store.registration("demo").expect("read"), Some(kinds));
        assert_eq!(store.registration("empty").expect("read"), Some(BTreeSet::new()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_flushes_all_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        let tasks: Vec<_> = (0..8u64)
            .map(|worker| {
                let store = store.clone();
                tokio::spawn(async move {
                    for n in 0..250u64 {
                        store.put_execution(worker * 1000 + n, b"{}", false).expect("write");
                        store.flush_async().await.expect("flush");
                    }
                })
            })
            .collect();
        let all = async {
            for task in tasks {
                task.await.expect("task");
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), all).await.expect("every flush completes");
    }

    #[test]
    fn a_second_open_of_the_same_store_fails_clearly() {
        let dir = tempfile::tempdir().expect("temp dir");
        let _first = Store::open(dir.path()).expect("open");
        let error = Store::open(dir.path()).err().expect("locked");
        assert!(error.to_string().contains("another st2d"), "{error}");
    }
}
