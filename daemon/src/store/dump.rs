//! Every tree of the store as records, for backups: the walk an export writes (under the write
//! gate held alone, so it is one consistent view), the writes an import makes, whether a store
//! holds anything an import would mix with, and the records per tree that `store check` counts.
//!
//! Owns: the decoding of each tree's keys into `DumpKey` and back. Must not: know a file format
//! (`backup` does) or interpret a value (the modules that write each tree own their records).

// The one module that uses sled (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::executions::child_key;
use super::{
    ACTIVE_EXECUTIONS_TREE, AUTH_TREE, CHILDREN_TREE, ENFORCEMENTS_TREE, EXECUTIONS_TREE, IDS_ABOVE_KEY, KV_TREE,
    META_TREE, PACK_INSTALLS_TREE, REGISTRATION_TREE, RULE_TOGGLES_TREE, SENSOR_TOGGLES_TREE, Store, StoreError,
    TRIGGER_INSTANCES_TREE, WORKFLOWS_TREE, enforcement_key, id_of,
};

/// The trees of the store, in the order an export writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DumpTree {
    Meta,
    Registration,
    PackInstalls,
    SensorToggles,
    RuleToggles,
    Kv,
    Auth,
    TriggerInstances,
    Enforcements,
    Executions,
    ActiveExecutions,
    Children,
    Workflows,
}

/// How a tree's keys are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Name,
    Id,
    Pair,
    Enforcement,
}

impl DumpTree {
    pub const ALL: [DumpTree; 13] = [
        DumpTree::Meta,
        DumpTree::Registration,
        DumpTree::PackInstalls,
        DumpTree::SensorToggles,
        DumpTree::RuleToggles,
        DumpTree::Kv,
        DumpTree::Auth,
        DumpTree::TriggerInstances,
        DumpTree::Enforcements,
        DumpTree::Executions,
        DumpTree::ActiveExecutions,
        DumpTree::Children,
        DumpTree::Workflows,
    ];

    /// The tree's name in the store (and in an export).
    pub fn name(self) -> &'static str {
        match self {
            DumpTree::Meta => META_TREE,
            DumpTree::Registration => REGISTRATION_TREE,
            DumpTree::PackInstalls => PACK_INSTALLS_TREE,
            DumpTree::SensorToggles => SENSOR_TOGGLES_TREE,
            DumpTree::RuleToggles => RULE_TOGGLES_TREE,
            DumpTree::Kv => KV_TREE,
            DumpTree::Auth => AUTH_TREE,
            DumpTree::TriggerInstances => TRIGGER_INSTANCES_TREE,
            DumpTree::Enforcements => ENFORCEMENTS_TREE,
            DumpTree::Executions => EXECUTIONS_TREE,
            DumpTree::ActiveExecutions => ACTIVE_EXECUTIONS_TREE,
            DumpTree::Children => CHILDREN_TREE,
            DumpTree::Workflows => WORKFLOWS_TREE,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tree| tree.name() == name)
    }

    /// Whether an import may find records of this tree already there: what a daemon writes
    /// when it first starts (the packs it saw, its bookkeeping), which the import overwrites.
    fn written_at_start(self) -> bool {
        matches!(self, DumpTree::Meta | DumpTree::Registration | DumpTree::PackInstalls)
    }

    fn layout(self) -> Layout {
        match self {
            DumpTree::Meta
            | DumpTree::Registration
            | DumpTree::PackInstalls
            | DumpTree::SensorToggles
            | DumpTree::RuleToggles
            | DumpTree::Kv
            | DumpTree::Auth => Layout::Name,
            DumpTree::TriggerInstances | DumpTree::Executions | DumpTree::ActiveExecutions | DumpTree::Workflows => {
                Layout::Id
            }
            DumpTree::Children => Layout::Pair,
            DumpTree::Enforcements => Layout::Enforcement,
        }
    }
}

/// A record's key, decoded by its tree's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpKey {
    /// A text key: a pack, a sensor or rule ref, a datastore or auth key, a meta entry.
    Name(String),
    /// An execution, trigger instance or workflow id.
    Id(u64),
    /// A workflow and one of its children.
    Pair { parent: u64, child: u64 },
    /// A trigger instance and a rule it was enforced for.
    Enforcement { instance: u64, rule: String },
}

/// One record of one tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpRecord {
    pub tree: DumpTree,
    pub key: DumpKey,
    pub value: Vec<u8>,
}

impl DumpRecord {
    /// The largest id the key names (0 for a text key): the store's ids continue above it.
    pub fn largest_id(&self) -> u64 {
        match &self.key {
            DumpKey::Name(_) => 0,
            DumpKey::Id(id) => *id,
            DumpKey::Pair { parent, child } => (*parent).max(*child),
            DumpKey::Enforcement { instance, .. } => *instance,
        }
    }

    /// Whether the key is of the kind its tree's keys are.
    pub fn check(&self) -> Result<(), StoreError> {
        encode(self.tree, &self.key).map(|_| ())
    }
}

fn decode(tree: DumpTree, key: &[u8]) -> Result<DumpKey, StoreError> {
    let corrupt = |message: &str| StoreError::Corrupt {
        key: format!("{}/{}", tree.name(), String::from_utf8_lossy(key)),
        message: message.to_string(),
    };
    match tree.layout() {
        Layout::Name => {
            std::str::from_utf8(key).map(|name| DumpKey::Name(name.to_string())).map_err(|_| corrupt("not UTF-8"))
        }
        Layout::Id if key.len() == 8 => Ok(DumpKey::Id(id_of(key)?)),
        Layout::Pair if key.len() == 16 => {
            Ok(DumpKey::Pair { parent: id_of(key)?, child: id_of(key.get(8..).unwrap_or_default())? })
        }
        Layout::Enforcement if key.len() > 8 => Ok(DumpKey::Enforcement {
            instance: id_of(key)?,
            rule: std::str::from_utf8(key.get(8..).unwrap_or_default())
                .map_err(|_| corrupt("the rule is not UTF-8"))?
                .to_string(),
        }),
        Layout::Id | Layout::Pair | Layout::Enforcement => Err(corrupt("a key of the wrong length")),
    }
}

fn encode(tree: DumpTree, key: &DumpKey) -> Result<Vec<u8>, StoreError> {
    match (tree.layout(), key) {
        (Layout::Name, DumpKey::Name(name)) => Ok(name.as_bytes().to_vec()),
        (Layout::Id, DumpKey::Id(id)) => Ok(id.to_be_bytes().to_vec()),
        (Layout::Pair, DumpKey::Pair { parent, child }) => Ok(child_key(*parent, *child).to_vec()),
        (Layout::Enforcement, DumpKey::Enforcement { instance, rule }) => Ok(enforcement_key(*instance, rule)),
        _ => Err(StoreError::Corrupt {
            key: format!("{}/{key:?}", tree.name()),
            message: format!("not a key of {}", tree.name()),
        }),
    }
}

impl Store {
    fn tree(&self, tree: DumpTree) -> &sled::Tree {
        match tree {
            DumpTree::Meta => &self.meta,
            DumpTree::Registration => &self.registration,
            DumpTree::PackInstalls => &self.pack_installs,
            DumpTree::SensorToggles => &self.sensor_toggles,
            DumpTree::RuleToggles => &self.rule_toggles,
            DumpTree::Kv => &self.kv,
            DumpTree::Auth => &self.auth,
            DumpTree::TriggerInstances => &self.trigger_instances,
            DumpTree::Enforcements => &self.enforcements,
            DumpTree::Executions => &self.executions,
            DumpTree::ActiveExecutions => &self.active_executions,
            DumpTree::Children => &self.children,
            DumpTree::Workflows => &self.workflows,
        }
    }

    /// Hands every record of `trees` to `visit`, tree by tree in key order, with every write
    /// held off until it returns: the records are the store as it was between two writes (as
    /// after a crash with everything flushed). Writers wait meanwhile, so `visit` must be quick
    /// (a local file, not a network peer).
    pub fn dump<E: From<StoreError>>(
        &self,
        trees: &[DumpTree],
        mut visit: impl FnMut(DumpRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        // The gate guards no data: a writer that panicked left nothing half-done behind it.
        let _alone = self.gate.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for &tree in trees {
            for entry in self.tree(tree).iter() {
                let (key, value) = entry.map_err(StoreError::from)?;
                visit(DumpRecord { tree, key: decode(tree, &key)?, value: value.to_vec() })?;
            }
        }
        Ok(())
    }

    /// The first tree, with its record count, that holds records an import would mix with
    /// (anything but what a daemon writes at its first start).
    pub fn history_present(&self) -> Result<Option<(DumpTree, usize)>, StoreError> {
        for tree in DumpTree::ALL.into_iter().filter(|tree| !tree.written_at_start()) {
            if !self.tree(tree).is_empty() {
                return Ok(Some((tree, self.tree(tree).len())));
            }
        }
        Ok(None)
    }

    /// Records per tree, in export order.
    pub fn counts(&self) -> Vec<(DumpTree, usize)> {
        DumpTree::ALL.into_iter().map(|tree| (tree, self.tree(tree).len())).collect()
    }

    /// Empties every tree (an import with `--force`).
    pub fn clear_all(&self) -> Result<(), StoreError> {
        let _writing = self.writing();
        for tree in DumpTree::ALL {
            self.tree(tree).clear()?;
        }
        super::health::mark(&self.meta)
    }

    /// Writes one record as an export gave it (not flushed: `finish_restore` does).
    pub fn restore(&self, record: &DumpRecord) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.tree(record.tree).insert(encode(record.tree, &record.key)?, record.value.as_slice())?;
        Ok(())
    }

    /// Ends an import: the ids the store gives out from its next open continue above
    /// `largest_id`, and everything is flushed.
    pub fn finish_restore(&self, largest_id: u64) -> Result<(), StoreError> {
        {
            let _writing = self.writing();
            let previous = self
                .meta
                .get(IDS_ABOVE_KEY)?
                .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            // Ids given out before the import (with `--force`) stay below too.
            let above = largest_id.max(previous).max(self.db.generate_id()?.saturating_add(self.id_offset));
            self.meta.insert(IDS_ABOVE_KEY, &above.to_be_bytes())?;
            // `--force` emptied `meta` too, and an export may come from a store without one.
            super::health::mark(&self.meta)?;
        }
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(store: &Store) -> Vec<DumpRecord> {
        let mut records = Vec::new();
        store
            .dump::<StoreError>(&DumpTree::ALL, |record| {
                records.push(record);
                Ok(())
            })
            .expect("dump");
        records
    }

    #[tokio::test]
    async fn a_dump_restored_into_a_new_store_is_the_same_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        let source = Store::open(&dir.path().join("a")).expect("open");
        let id = source.next_id().expect("id");
        source.put_execution(id, b"{\"status\":\"running\"}", true).expect("write");
        source.put_child(id, id + 1).expect("link");
        source.put_workflow_state(id, b"{}").expect("state");
        source.put_kv_record("system:x", b"{\"value\":\"1\"}").expect("kv");
        source.set_rule_toggle("demo.rule", false).expect("toggle");
        source.set_registration("demo", &std::collections::BTreeSet::new()).expect("registration");
        let mut batch = super::super::EnforcementBatch::default();
        batch.enforcements.push((id, "demo.rule".to_string(), b"{}".to_vec()));
        source.commit_enforcements(&batch).await.expect("enforce");
        let records = collect(&source);
        assert!(records.iter().any(|r| r.key == DumpKey::Enforcement { instance: id, rule: "demo.rule".into() }));
        assert!(records.iter().any(|r| r.key == DumpKey::Pair { parent: id, child: id + 1 }));

        let target = Store::open(&dir.path().join("b")).expect("open");
        assert_eq!(target.history_present().expect("look"), None);
        for record in &records {
            target.restore(record).expect("restore");
        }
        let largest = records.iter().map(DumpRecord::largest_id).max().unwrap_or(0);
        target.finish_restore(largest).expect("finish");
        assert_eq!(
            collect(&target).into_iter().filter(|r| r.tree != DumpTree::Meta).collect::<Vec<_>>(),
            records.into_iter().filter(|r| r.tree != DumpTree::Meta).collect::<Vec<_>>()
        );
        assert_eq!(target.history_present().expect("look").map(|(tree, _)| tree), Some(DumpTree::RuleToggles));
    }

    #[test]
    fn ids_continue_above_the_imported_ones_after_reopening() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("open");
            store
                .restore(&DumpRecord { tree: DumpTree::Executions, key: DumpKey::Id(5_000_000), value: b"{}".to_vec() })
                .expect("restore");
            store.finish_restore(5_000_000).expect("finish");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(store) => break store,
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(error) => panic!("reopen: {error}"),
            }
        };
        assert!(store.next_id().expect("id") > 5_000_000);
    }
}
