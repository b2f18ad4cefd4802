//! API keys as StackStorm keeps them: a random key shown once, at creation; the store keeps
//! only StackStorm's hash of it (SHA-512 over a fixed salt and the key, hex), so a key hash
//! exported from StackStorm (`st2 apikey load`) works here too. A key belongs to a user, has
//! metadata and can be disabled.
//!
//! Owns: making, finding, changing and removing keys. Must not: know about HTTP.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuthError;
use crate::store::Store;

const KEY_PREFIX: &str = "apikey:";

/// StackStorm's salt for API key hashes (st2common/util/hash.py).
const FIXED_SALT: &str = "saltnpepper";

/// The hash StackStorm keeps of an API key.
pub fn key_hash(key: &str) -> String {
    let mut context = ring::digest::Context::new(&ring::digest::SHA512);
    context.update(FIXED_SALT.as_bytes());
    context.update(key.as_bytes());
    context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// An API key as stored (without the key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user: String,
    pub key_hash: String,
    #[serde(default)]
    pub metadata: Value,
    pub created_at: DateTime<Utc>,
    pub enabled: bool,
}

/// The keys in the store.
#[derive(Clone)]
pub struct ApiKeys {
    store: Store,
}

fn store_error(error: impl std::fmt::Display) -> AuthError {
    AuthError::Store(error.to_string())
}

impl ApiKeys {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    fn put(&self, record: &ApiKeyRecord) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec(record).map_err(store_error)?;
        self.store.put_auth_record(&format!("{KEY_PREFIX}{}", record.key_hash), &bytes).map_err(store_error)
    }

    /// A new key for `user`: the key (shown once) and its record. With `key_hash` given (a key
    /// made elsewhere), that hash is kept and no key is made.
    pub fn create(
        &self,
        user: &str,
        metadata: Value,
        key_hash_given: Option<String>,
    ) -> Result<(Option<String>, ApiKeyRecord), AuthError> {
        let (key, hash) = match key_hash_given {
            Some(hash) => (None, hash),
            None => {
                let key = format!("{}{}", super::tokens::new_secret(), super::tokens::new_secret());
                let hash = key_hash(&key);
                (Some(key), hash)
            }
        };
        let record = ApiKeyRecord {
            id: super::tokens::new_secret()[..24].to_string(),
            user: user.to_string(),
            key_hash: hash,
            metadata,
            created_at: Utc::now(),
            enabled: true,
        };
        self.put(&record)?;
        Ok((key, record))
    }

    pub fn all(&self) -> Result<Vec<ApiKeyRecord>, AuthError> {
        let records = self.store.auth_records(KEY_PREFIX).map_err(store_error)?;
        let mut keys: Vec<ApiKeyRecord> =
            records.iter().filter_map(|(_, bytes)| serde_json::from_slice(bytes).ok()).collect();
        keys.sort_by_key(|k| k.created_at);
        Ok(keys)
    }

    /// The record of a presented key.
    pub fn by_key(&self, key: &str) -> Result<Option<ApiKeyRecord>, AuthError> {
        let record = self.store.auth_record(&format!("{KEY_PREFIX}{}", key_hash(key))).map_err(store_error)?;
        Ok(record.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// The record whose id, or whose key, is `id_or_key`.
    pub fn by_id_or_key(&self, id_or_key: &str) -> Result<ApiKeyRecord, AuthError> {
        if let Some(record) = self.all()?.into_iter().find(|k| k.id == id_or_key) {
            return Ok(record);
        }
        self.by_key(id_or_key)?.ok_or_else(|| AuthError::ApiKeyNotFound(id_or_key.to_string()))
    }

    /// Sets `enabled`, `user` and `metadata` of the key `id_or_key`.
    pub fn update(
        &self,
        id_or_key: &str,
        enabled: bool,
        user: Option<String>,
        metadata: Option<Value>,
    ) -> Result<ApiKeyRecord, AuthError> {
        let mut record = self.by_id_or_key(id_or_key)?;
        record.enabled = enabled;
        if let Some(user) = user.filter(|u| !u.is_empty()) {
            record.user = user;
        }
        if let Some(metadata) = metadata {
            record.metadata = metadata;
        }
        self.put(&record)?;
        Ok(record)
    }

    pub fn delete(&self, id_or_key: &str) -> Result<(), AuthError> {
        let record = self.by_id_or_key(id_or_key)?;
        self.store.remove_auth_record(&format!("{KEY_PREFIX}{}", record.key_hash)).map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stackstorms() {
        // python: hashlib.sha512(b"saltnpepper" + b"key").hexdigest()
        assert_eq!(
            key_hash("key"),
            "7adefaea50cb879557dd68958d5398fd5f16d2e7a3725ea622c83b18e304eeaa54d049b678cb320be02b0c3c2bdbd8349e5bb0ef568d1e399ddd6d3777f920e1"
        );
    }

    #[test]
    fn keys_are_found_by_key_or_id_and_only_their_hash_is_kept() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("data")).expect("store");
        let keys = ApiKeys::new(store.clone());
        let (key, record) = keys.create("jill", Value::Null, None).expect("created");
        let key = key.expect("a new key");
        assert_eq!(keys.by_key(&key).expect("read"), Some(record.clone()));
        assert_eq!(keys.by_id_or_key(&record.id).expect("by id").user, "jill");
        let kept = store.auth_records("").expect("records");
        assert!(kept.iter().all(|(k, v)| !k.contains(&key) && !String::from_utf8_lossy(v).contains(&key)));
        assert!(!keys.update(&record.id, false, None, None).expect("updated").enabled);
        keys.delete(&key).expect("deleted");
        assert!(matches!(keys.by_id_or_key(&record.id), Err(AuthError::ApiKeyNotFound(_))));
    }
}
