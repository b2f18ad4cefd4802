//! The datastore's verbs as the doors offer them: get, list, set and delete a key in a scope
//! (StackStorm's st2api/controllers/v1/keyvalue.py).
//!
//! Owns: the scope a request means, required names and the not-found wording. Must not: store
//! or encrypt anything itself (the datastore does).

use super::{ServiceError, acting_user};
use crate::datastore::{Datastore, Item, Scope};

/// Which key a request names: `scope` is `system` (or empty), `user` or `all`; `user` is the
/// user a `user` scope belongs to (the acting user when empty).
#[derive(Debug, Clone, Default)]
pub struct KeyRef {
    pub name: String,
    pub scope: String,
    pub user: String,
}

/// A value to set.
#[derive(Debug, Clone, Default)]
pub struct NewValue {
    pub value: String,
    pub secret: bool,
    pub ttl_seconds: Option<u64>,
}

fn scope(scope: &str, user: &str) -> Result<Scope, ServiceError> {
    Ok(Scope::parse(scope, acting_user(user))?)
}

fn required_name(name: &str) -> Result<&str, ServiceError> {
    if name.is_empty() { Err(ServiceError::invalid("field \"name\" is required")) } else { Ok(name) }
}

fn missing(name: &str) -> ServiceError {
    ServiceError::not_found(format!("Resource with a name \"{name}\" not found"))
}

pub fn get(datastore: &Datastore, key: &KeyRef, decrypt: bool) -> Result<Item, ServiceError> {
    let name = required_name(&key.name)?;
    datastore.get(&scope(&key.scope, &key.user)?, name, decrypt)?.ok_or_else(|| missing(name))
}

/// Keys whose names start with `prefix`: in one scope, or in the system scope and the user's
/// (`all`, or no scope named).
pub fn list(
    datastore: &Datastore,
    scope_name: &str,
    user: &str,
    prefix: &str,
    decrypt: bool,
) -> Result<Vec<Item>, ServiceError> {
    let scopes = match scope_name {
        "" | "all" | "st2kv.all" => vec![Scope::System, scope("user", user)?],
        other => vec![scope(other, user)?],
    };
    let mut items = Vec::new();
    for scope in scopes {
        items.extend(datastore.list(&scope, prefix, decrypt)?);
    }
    Ok(items)
}

pub fn set(datastore: &Datastore, key: &KeyRef, value: &NewValue) -> Result<Item, ServiceError> {
    let name = required_name(&key.name)?;
    Ok(datastore.set(&scope(&key.scope, &key.user)?, name, &value.value, value.secret, value.ttl_seconds)?)
}

pub fn delete(datastore: &Datastore, key: &KeyRef) -> Result<(), ServiceError> {
    let name = required_name(&key.name)?;
    if datastore.delete(&scope(&key.scope, &key.user)?, name)? { Ok(()) } else { Err(missing(name)) }
}
