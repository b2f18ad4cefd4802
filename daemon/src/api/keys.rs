//! The datastore RPCs: GetKey, ListKeys, SetKey, DeleteKey.
//!
//! Owns: proto conversion for keys. Must not: decide what a request means (`service::keys`
//! does) or store anything itself (the datastore does).

use tonic::Status;

use crate::datastore::{Item, Scope};
use crate::service::Runtime;
use crate::service::keys::{self, KeyRef, NewValue};
use st2d_proto::v1 as pb;

fn message(item: &Item) -> pb::KeyValuePair {
    pb::KeyValuePair {
        name: item.name.clone(),
        value: item.value.clone(),
        secret: item.secret,
        encrypted: item.encrypted,
        scope: item.scope.name().to_string(),
        user: match &item.scope {
            Scope::User(user) => user.clone(),
            Scope::System => String::new(),
        },
        expire_timestamp: item
            .expire_timestamp
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default(),
    }
}

fn key_ref(request: &pb::KeyRequest) -> KeyRef {
    KeyRef { name: request.name.clone(), scope: request.scope.clone(), user: request.user.clone() }
}

pub fn get_key(runtime: &Runtime, request: &pb::KeyRequest) -> Result<pb::KeyValuePair, Status> {
    Ok(message(&keys::get(&runtime.datastore, &key_ref(request), request.decrypt)?))
}

pub fn list_keys(runtime: &Runtime, request: &pb::ListKeysRequest) -> Result<pb::ListKeysResponse, Status> {
    let items = keys::list(&runtime.datastore, &request.scope, &request.user, &request.prefix, request.decrypt)?;
    Ok(pb::ListKeysResponse { keys: items.iter().map(message).collect() })
}

pub fn set_key(runtime: &Runtime, request: &pb::SetKeyRequest) -> Result<pb::KeyValuePair, Status> {
    let key = KeyRef { name: request.name.clone(), scope: request.scope.clone(), user: request.user.clone() };
    let value = NewValue {
        value: request.value.clone(),
        secret: request.encrypt,
        ttl_seconds: Some(request.ttl_seconds).filter(|ttl| *ttl > 0),
    };
    Ok(message(&keys::set(&runtime.datastore, &key, &value)?))
}

pub fn delete_key(runtime: &Runtime, request: &pb::KeyRequest) -> Result<pb::DeleteKeyReply, Status> {
    keys::delete(&runtime.datastore, &key_ref(request))?;
    Ok(pb::DeleteKeyReply { deleted: true })
}
