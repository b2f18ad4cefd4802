//! Executions in the store: the records, the set of active ones a restart looks at, the
//! children of each workflow, and each workflow's conductor state.
//!
//! Owns: the encodings of those trees. Must not: interpret a record (callers own the JSON).

// The one module that uses sled (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use super::{Store, StoreError, id_of, recent};

impl Store {
    /// Writes an execution record; `active` keeps it in the set a restart looks at.
    pub fn put_execution(&self, id: u64, record: &[u8], active: bool) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.executions.insert(id.to_be_bytes(), record)?;
        if active {
            self.active_executions.insert(id.to_be_bytes(), &[])?;
        } else {
            self.active_executions.remove(id.to_be_bytes())?;
        }
        Ok(())
    }

    pub fn execution(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.executions.get(id.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// The records of executions not yet completed, in id order.
    pub fn active_executions(&self) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let mut found = Vec::new();
        for entry in self.active_executions.iter() {
            let (key, _) = entry?;
            let id = id_of(&key)?;
            match self.executions.get(&key)? {
                Some(record) => found.push((id, record.to_vec())),
                None => {
                    let _writing = self.writing();
                    self.active_executions.remove(&key)?;
                }
            }
        }
        Ok(found)
    }

    /// The newest `limit` execution records that `keep` accepts, newest first.
    pub fn recent_executions(&self, limit: usize, keep: impl Fn(&[u8]) -> bool) -> Result<Vec<Vec<u8>>, StoreError> {
        recent(&self.executions, limit, keep)
    }

    /// Records `child` as a child of workflow `parent`.
    pub fn put_child(&self, parent: u64, child: u64) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.children.insert(child_key(parent, child), &[])?;
        Ok(())
    }

    /// The children of workflow `parent`, in id (creation) order.
    pub fn children(&self, parent: u64) -> Result<Vec<u64>, StoreError> {
        self.children
            .scan_prefix(parent.to_be_bytes())
            .map(|entry| entry.map_err(StoreError::from).and_then(|(key, _)| id_of(key.get(8..).unwrap_or_default())))
            .collect()
    }

    /// Writes workflow `id`'s conductor state (the caller flushes).
    pub fn put_workflow_state(&self, id: u64, state: &[u8]) -> Result<(), StoreError> {
        let _writing = self.writing();
        self.workflows.insert(id.to_be_bytes(), state)?;
        Ok(())
    }

    pub fn workflow_state(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.workflows.get(id.to_be_bytes())?.map(|v| v.to_vec()))
    }

    /// Drops what is kept beside a pruned execution: its conductor state and children links.
    pub(super) fn forget_workflow(&self, key: &[u8]) -> Result<(), StoreError> {
        self.workflows.remove(key)?;
        let links: Vec<sled::IVec> = self.children.scan_prefix(key).keys().collect::<Result<_, _>>()?;
        for link in links {
            self.children.remove(link)?;
        }
        Ok(())
    }
}

pub(super) fn child_key(parent: u64, child: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&parent.to_be_bytes());
    key[8..].copy_from_slice(&child.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::History;

    #[test]
    fn children_and_workflow_states_go_with_their_pruned_workflow() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path()).expect("open");
        for id in 1..=4u64 {
            store.put_execution(id, b"{}", false).expect("write");
        }
        store.put_child(1, 3).expect("link");
        store.put_child(1, 2).expect("link");
        store.put_child(4, 5).expect("link");
        store.put_workflow_state(1, b"{\"next\": 2}").expect("state");
        assert_eq!(store.children(1).expect("children"), vec![2, 3]);
        assert_eq!(store.workflow_state(1).expect("state").as_deref(), Some(&b"{\"next\": 2}"[..]));
        // Keep the newest three: execution 1 goes, with what hangs on it.
        assert_eq!(store.prune(History::Executions, 3, |_| false).expect("prune"), 1);
        assert_eq!(store.children(1).expect("children"), Vec::<u64>::new());
        assert_eq!(store.workflow_state(1).expect("state"), None);
        assert_eq!(store.children(4).expect("children"), vec![5]);
    }
}
