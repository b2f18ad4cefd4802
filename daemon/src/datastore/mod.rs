//! The key-value datastore (StackStorm's `st2kv`): system and per-user scopes, TTLs, secrets
//! encrypted at rest (AES-256-GCM under a key file created 0600 in the data dir), and the
//! `core.st2.key_value_pair.*` trigger instances for every change.
//!
//! Owns: items, scopes, expiry and encryption. Must not: use sled directly (`store` does) or
//! know about the journal (changes are announced through the `Changes` callback).

mod cipher;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use cipher::{Cipher, fingerprint_of, hex, unhex};

use crate::store::Store;

/// Which keys: the system's, or one user's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    System,
    User(String),
}

impl Scope {
    /// `system`/`st2kv.system` (or empty) and `user`/`st2kv.user` (for `user`).
    pub fn parse(scope: &str, user: &str) -> Result<Self, DatastoreError> {
        match scope {
            "" | "system" | "st2kv.system" => Ok(Scope::System),
            "user" | "st2kv.user" if !user.is_empty() => Ok(Scope::User(user.to_string())),
            "user" | "st2kv.user" => {
                Err(DatastoreError::Invalid("field \"user\" is required for the user scope".into()))
            }
            other => {
                Err(DatastoreError::Invalid(format!("field \"scope\": unknown scope \"{other}\" (system or user)")))
            }
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scope::System => "st2kv.system",
            Scope::User(_) => "st2kv.user",
        }
    }

    /// The store key of `name` in this scope (system keys are the bare names).
    fn key(&self, name: &str) -> String {
        match self {
            Scope::System => name.to_string(),
            Scope::User(user) => format!("{}{user}\u{0}{name}", USER_PREFIX),
        }
    }

    fn prefix(&self) -> String {
        match self {
            Scope::System => String::new(),
            Scope::User(user) => format!("{}{user}\u{0}", USER_PREFIX),
        }
    }
}

/// Store keys of user-scoped items start with this (no system key does).
const USER_PREFIX: &str = "\u{0}user\u{0}";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DatastoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Key(String),
    #[error("cannot decrypt the value of \"{0}\": it was not encrypted with this datastore's key")]
    Decrypt(String),
    #[error("datastore: {0}")]
    Store(String),
}

impl From<crate::store::StoreError> for DatastoreError {
    fn from(error: crate::store::StoreError) -> Self {
        DatastoreError::Store(error.to_string())
    }
}

/// One key as stored and as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub name: String,
    /// Ciphertext for a secret unless it was decrypted.
    pub value: String,
    pub secret: bool,
    /// Whether `value` is the ciphertext.
    pub encrypted: bool,
    pub scope: Scope,
    pub expire_timestamp: Option<DateTime<Utc>>,
}

impl Item {
    /// As StackStorm's API shows a key-value pair.
    pub fn to_json(&self) -> Value {
        let mut object = json!({
            "name": self.name,
            "value": self.value,
            "secret": self.secret,
            "encrypted": self.encrypted,
            "scope": self.scope.name(),
            "expire_timestamp": self.expire_timestamp.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        });
        if let Scope::User(user) = &self.scope {
            object["user"] = json!(user);
        }
        object
    }

    fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expire_timestamp.is_some_and(|t| t <= now)
    }
}

/// The stored record of an item (values written before records existed read as plain text).
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    value: String,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    expire_timestamp: Option<DateTime<Utc>>,
}

/// Whether a stored datastore record holds a secret (its value is ciphertext).
pub fn is_secret_record(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Record>(bytes).is_ok_and(|record| record.secret)
}

/// Announces a change: the trigger type's ref and its payload.
pub type Changes = Arc<dyn Fn(&'static str, Value) + Send + Sync>;

/// A cheap handle to the datastore.
#[derive(Clone)]
pub struct Datastore {
    store: Store,
    cipher: Arc<Cipher>,
    changes: Option<Changes>,
}

impl Datastore {
    /// Opens the datastore on `store`, with the key in `key_file` (created, 0600, when missing).
    pub fn open(store: Store, key_file: &Path) -> Result<Self, DatastoreError> {
        Ok(Self { store, cipher: Arc::new(Cipher::load_or_create(key_file)?), changes: None })
    }

    /// The fingerprint of the key that encrypts this datastore's secrets.
    pub fn key_fingerprint(&self) -> &str {
        self.cipher.fingerprint()
    }

    /// Every set and delete from now on is announced to `changes`.
    pub fn with_changes(mut self, changes: Changes) -> Self {
        self.changes = Some(changes);
        self
    }

    pub fn get(&self, scope: &Scope, name: &str, decrypt: bool) -> Result<Option<Item>, DatastoreError> {
        check_name(name)?;
        let Some(bytes) = self.store.kv_record(&scope.key(name))? else { return Ok(None) };
        let item = item(scope.clone(), name, &bytes);
        if item.expired(Utc::now()) {
            return Ok(None);
        }
        self.shown(item, decrypt).map(Some)
    }

    /// Items of `scope` whose names start with `prefix`, in name order.
    pub fn list(&self, scope: &Scope, prefix: &str, decrypt: bool) -> Result<Vec<Item>, DatastoreError> {
        let now = Utc::now();
        let scope_prefix = scope.prefix();
        let mut items = Vec::new();
        for (key, bytes) in self.store.kv_records(&format!("{scope_prefix}{prefix}"))? {
            if *scope == Scope::System && key.starts_with(USER_PREFIX) {
                continue;
            }
            let name = key[scope_prefix.len()..].to_string();
            let item = item(scope.clone(), &name, &bytes);
            if !item.expired(now) {
                items.push(self.shown(item, decrypt)?);
            }
        }
        Ok(items)
    }

    /// Sets `name` (encrypted when `secret`), expiring after `ttl_seconds` when given.
    pub fn set(
        &self,
        scope: &Scope,
        name: &str,
        value: &str,
        secret: bool,
        ttl_seconds: Option<u64>,
    ) -> Result<Item, DatastoreError> {
        check_name(name)?;
        let expire_timestamp = match ttl_seconds {
            Some(0) | None => None,
            Some(ttl) => Some(
                i64::try_from(ttl)
                    .ok()
                    .and_then(chrono::Duration::try_seconds)
                    .and_then(|ttl| Utc::now().checked_add_signed(ttl))
                    .ok_or_else(|| DatastoreError::Invalid(format!("field \"ttl\": {ttl} seconds is too long")))?,
            ),
        };
        let stored = if secret { self.cipher.encrypt(value)? } else { value.to_string() };
        let record = Record { value: stored.clone(), secret, expire_timestamp };
        let bytes = serde_json::to_vec(&record).map_err(|e| DatastoreError::Store(e.to_string()))?;
        let previous = self.store.put_kv_record(&scope.key(name), &bytes)?;
        let new = Item {
            name: name.to_string(),
            value: stored,
            secret,
            encrypted: secret,
            scope: scope.clone(),
            expire_timestamp,
        };
        match previous.map(|old| item(scope.clone(), name, &old)).filter(|old| !old.expired(Utc::now())) {
            Some(old) => {
                self.announce("core.st2.key_value_pair.update", json!({"object": new.to_json()}));
                if old.value != new.value {
                    self.announce(
                        "core.st2.key_value_pair.value_change",
                        json!({"old_object": old.to_json(), "new_object": new.to_json()}),
                    );
                }
            }
            None => self.announce("core.st2.key_value_pair.create", json!({"object": new.to_json()})),
        }
        Ok(new)
    }

    /// Deletes `name`; false when there was no such key.
    pub fn delete(&self, scope: &Scope, name: &str) -> Result<bool, DatastoreError> {
        check_name(name)?;
        let Some(old) = self.store.remove_kv_record(&scope.key(name))? else { return Ok(false) };
        let old = item(scope.clone(), name, &old);
        if old.expired(Utc::now()) {
            return Ok(false);
        }
        self.announce("core.st2.key_value_pair.delete", json!({"object": old.to_json()}));
        Ok(true)
    }

    /// Removes every expired item; returns how many.
    pub fn sweep(&self) -> Result<usize, DatastoreError> {
        let now = Utc::now();
        let mut removed = 0;
        for (key, bytes) in self.store.kv_records("")? {
            let expired = serde_json::from_slice::<Record>(&bytes)
                .ok()
                .and_then(|r| r.expire_timestamp)
                .is_some_and(|t| t <= now);
            if expired && self.store.remove_kv_record(&key)?.is_some() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The clear text of a secret's stored value.
    pub fn decrypt(&self, stored: &str) -> Result<String, DatastoreError> {
        self.cipher.decrypt(stored)
    }

    fn shown(&self, mut item: Item, decrypt: bool) -> Result<Item, DatastoreError> {
        if item.secret && decrypt {
            item.value = self.cipher.decrypt(&item.value).map_err(|_| DatastoreError::Decrypt(item.name.clone()))?;
            item.encrypted = false;
        }
        Ok(item)
    }

    fn announce(&self, trigger: &'static str, payload: Value) {
        if let Some(changes) = &self.changes {
            changes(trigger, payload);
        }
    }
}

/// Changes journaled as `core.st2.key_value_pair.*` trigger instances.
pub fn journal_changes(journal: crate::trigger::journal::Journal) -> Changes {
    Arc::new(move |trigger: &'static str, payload: Value| {
        let journal = journal.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                journal.append(trigger.to_string(), payload, None, None, Box::new(|_| {})).await;
            });
        }
    })
}

/// How often expired keys are removed (they are invisible from the moment they expire).
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Removes expired keys until `stop`.
pub async fn sweep_expired(datastore: Datastore, stop: tokio_util::sync::CancellationToken) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        let datastore = datastore.clone();
        match tokio::task::spawn_blocking(move || datastore.sweep()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(removed)) => tracing::debug!(removed, "expired datastore keys removed"),
            Ok(Err(error)) => tracing::warn!(error = %error, "cannot remove expired datastore keys"),
            Err(error) => tracing::warn!(error = %error, "the datastore sweep failed"),
        }
    }
}

fn item(scope: Scope, name: &str, bytes: &[u8]) -> Item {
    let record = serde_json::from_slice::<Record>(bytes).unwrap_or_else(|_| Record {
        value: String::from_utf8_lossy(bytes).into_owned(),
        secret: false,
        expire_timestamp: None,
    });
    Item {
        name: name.to_string(),
        value: record.value,
        secret: record.secret,
        encrypted: record.secret,
        scope,
        expire_timestamp: record.expire_timestamp,
    }
}

fn check_name(name: &str) -> Result<(), DatastoreError> {
    if name.is_empty() {
        return Err(DatastoreError::Invalid("field \"name\" is empty".to_string()));
    }
    if name.contains('\u{0}') {
        return Err(DatastoreError::Invalid("field \"name\" contains a NUL character".to_string()));
    }
    Ok(())
}

/// `st2kv` in templates reads the datastore (secrets stay encrypted unless `decrypt_kv`).
impl st2d_core::template::KeyValueSource for Datastore {
    fn get(
        &self,
        scope: &st2d_core::template::KvScope,
        name: &str,
    ) -> Result<Option<st2d_core::template::KvValue>, st2d_core::template::KvError> {
        let scope = match scope {
            st2d_core::template::KvScope::System => Scope::System,
            st2d_core::template::KvScope::User(user) => Scope::User(user.clone()),
        };
        Datastore::get(self, &scope, name, false)
            .map(|found| found.map(|item| st2d_core::template::KvValue { value: item.value, secret: item.secret }))
            .map_err(|e| st2d_core::template::KvError::Read(e.to_string()))
    }

    fn decrypt(&self, stored: &str) -> Result<String, st2d_core::template::KvError> {
        Datastore::decrypt(self, stored).map_err(|e| st2d_core::template::KvError::Decrypt(e.to_string()))
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
