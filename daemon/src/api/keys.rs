//! The datastore RPCs: GetKey, ListKeys, SetKey, DeleteKey.
//!
//! Owns: request checks and proto conversion for keys. Must not: store anything itself (the
//! datastore does).

use tonic::Status;

use super::service::Runtime;
use super::status;
use crate::datastore::{Item, Scope};
use st2d_core::template::SYSTEM_USER;
use st2d_proto::v1 as pb;

fn scope(scope: &str, user: &str) -> Result<Scope, Status> {
    let user = if user.is_empty() { SYSTEM_USER } else { user };
    Scope::parse(scope, user).map_err(Status::from)
}

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

fn required_name(name: &str) -> Result<&str, Status> {
    if name.is_empty() { Err(status::invalid_argument("field \"name\" is required")) } else { Ok(name) }
}

pub fn get_key(runtime: &Runtime, request: &pb::KeyRequest) -> Result<pb::KeyValuePair, Status> {
    let name = required_name(&request.name)?;
    let scope = scope(&request.scope, &request.user)?;
    match runtime.datastore.get(&scope, name, request.decrypt).map_err(Status::from)? {
        Some(item) => Ok(message(&item)),
        None => Err(status::not_found(format!("Resource with a name \"{name}\" not found"))),
    }
}

pub fn list_keys(runtime: &Runtime, request: &pb::ListKeysRequest) -> Result<pb::ListKeysResponse, Status> {
    let scopes = match request.scope.as_str() {
        "" | "all" => vec![Scope::System, scope("user", &request.user)?],
        other => vec![scope(other, &request.user)?],
    };
    let mut keys = Vec::new();
    for scope in scopes {
        for item in runtime.datastore.list(&scope, &request.prefix, request.decrypt).map_err(Status::from)? {
            keys.push(message(&item));
        }
    }
    Ok(pb::ListKeysResponse { keys })
}

pub fn set_key(runtime: &Runtime, request: &pb::SetKeyRequest) -> Result<pb::KeyValuePair, Status> {
    let name = required_name(&request.name)?;
    let scope = scope(&request.scope, &request.user)?;
    let ttl = (request.ttl_seconds > 0).then_some(request.ttl_seconds);
    let item = runtime.datastore.set(&scope, name, &request.value, request.encrypt, ttl).map_err(Status::from)?;
    Ok(message(&item))
}

pub fn delete_key(runtime: &Runtime, request: &pb::KeyRequest) -> Result<pb::DeleteKeyReply, Status> {
    let name = required_name(&request.name)?;
    let scope = scope(&request.scope, &request.user)?;
    if runtime.datastore.delete(&scope, name).map_err(Status::from)? {
        Ok(pb::DeleteKeyReply { deleted: true })
    } else {
        Err(status::not_found(format!("Resource with a name \"{name}\" not found")))
    }
}
