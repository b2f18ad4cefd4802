//! `st2kv` in templates: `st2kv.system.<key>` and `st2kv.user.<key>` look keys up in the
//! datastore when the template uses them. Dotted paths name one key (`st2kv.system.a.b` is the
//! key `a.b`), a missing key renders as `""`, and a secret renders as its stored (encrypted)
//! text unless it goes through `decrypt_kv`.
//!
//! Owns: the lookup objects and the `KeyValueSource` interface. Must not: store keys.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Object, ObjectRepr};

/// Which keys a lookup reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvScope {
    System,
    /// The keys of this user (`st2kv.user`).
    User(String),
}

/// A stored value; `value` is the stored text (ciphertext for a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvValue {
    pub value: String,
    pub secret: bool,
}

/// Why the datastore could not answer a lookup; the store's message, shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The key could not be read.
    #[error("{0}")]
    Read(String),
    /// The stored text could not be decrypted.
    #[error("{0}")]
    Decrypt(String),
    #[error("there is no datastore to decrypt with")]
    NoDatastore,
}

/// Where templates read the datastore.
pub trait KeyValueSource: Send + Sync {
    fn get(&self, scope: &KvScope, name: &str) -> Result<Option<KvValue>, KvError>;
    /// The clear text of a secret's stored text.
    fn decrypt(&self, stored: &str) -> Result<String, KvError>;
}

/// A source with no keys (offline tools, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKeyValues;

impl KeyValueSource for NoKeyValues {
    fn get(&self, _: &KvScope, _: &str) -> Result<Option<KvValue>, KvError> {
        Ok(None)
    }

    fn decrypt(&self, _: &str) -> Result<String, KvError> {
        Err(KvError::NoDatastore)
    }
}

/// The `st2kv` object of one render.
pub(crate) fn root(source: Arc<dyn KeyValueSource>, user: &str) -> minijinja::Value {
    minijinja::Value::from_object(Root { source, user: user.to_string() })
}

struct Root {
    source: Arc<dyn KeyValueSource>,
    user: String,
}

impl fmt::Debug for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("st2kv")
    }
}

impl Object for Root {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let scope = match key.as_str()? {
            "system" => KvScope::System,
            "user" => KvScope::User(self.user.clone()),
            _ => return None,
        };
        Some(minijinja::Value::from_object(Lookup { source: self.source.clone(), scope, key: String::new() }))
    }
}

/// `st2kv.<scope>` followed by part of a key; renders as the key's value.
pub(crate) struct Lookup {
    source: Arc<dyn KeyValueSource>,
    scope: KvScope,
    key: String,
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "st2kv lookup of {:?}", self.key)
    }
}

impl Lookup {
    /// The stored value (empty when missing).
    pub(crate) fn value(&self) -> Result<Option<KvValue>, KvError> {
        if self.key.is_empty() {
            return Ok(None);
        }
        self.source.get(&self.scope, &self.key)
    }

    pub(crate) fn decrypt(&self, stored: &str) -> Result<String, KvError> {
        self.source.decrypt(stored)
    }
}

impl Object for Lookup {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let part = key.as_str().map(str::to_string).unwrap_or_else(|| key.to_string());
        let key = if self.key.is_empty() { part } else { format!("{}.{}", self.key, part) };
        Some(minijinja::Value::from_object(Lookup { source: self.source.clone(), scope: self.scope.clone(), key }))
    }

    fn is_true(self: &Arc<Self>) -> bool {
        self.value().ok().flatten().is_some_and(|v| !v.value.is_empty())
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Ok(Some(found)) => f.write_str(&found.value),
            Ok(None) => Ok(()),
            Err(error) => {
                tracing::warn!(key = %self.key, error = %error, "cannot read the datastore for a template");
                Ok(())
            }
        }
    }
}
