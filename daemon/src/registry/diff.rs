//! What changed between two registry snapshots: packs added, removed and changed.
//!
//! Owns: the comparison. Must not: act on it (the reload actor and, later, the sensor
//! supervisor decide what a change means for them).

use std::sync::Arc;

use super::Registry;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryDiff {
    pub packs_added: Vec<String>,
    pub packs_removed: Vec<String>,
    pub packs_changed: Vec<String>,
}

impl RegistryDiff {
    pub fn is_empty(&self) -> bool {
        self.packs_added.is_empty() && self.packs_removed.is_empty() && self.packs_changed.is_empty()
    }
}

/// Compares `old` with `new`, pack by pack.
pub fn diff(old: &Registry, new: &Registry) -> RegistryDiff {
    let mut result = RegistryDiff::default();
    for entry in new.packs() {
        match old.pack(&entry.ref_) {
            None => result.packs_added.push(entry.ref_.clone()),
            Some(before) => {
                let same_content = match (&before.content, &entry.content) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a == b,
                    (None, None) => true,
                    _ => false,
                };
                if !same_content
                    || before.pack_error != entry.pack_error
                    || before.registered != entry.registered
                    || before.dir != entry.dir
                {
                    result.packs_changed.push(entry.ref_.clone());
                }
            }
        }
    }
    result.packs_removed =
        old.packs().filter(|entry| new.pack(&entry.ref_).is_none()).map(|entry| entry.ref_.clone()).collect();
    result
}
