//! The datastore verbs: `key set|get|list|delete|load`, as StackStorm's `st2 key` takes them.
//!
//! Owns: key arguments, the `key load` file shapes, and key output. Must not: encrypt or
//! store anything (the daemon does).

use std::path::Path;

use serde_json::{Value, json};
use st2d_proto::v1 as pb;

use crate::cli::KeyVerb;
use crate::commands::call;
use crate::connect::Client;
use crate::output::{outln, print_json, print_list, print_one};

const KEY_COLUMNS: &[&str] = &["name", "value", "secret", "encrypted", "scope", "user", "expire_timestamp"];

pub async fn key(client: &mut Client, verb: &KeyVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        KeyVerb::List { prefix, decrypt, scope, user } => {
            let request = pb::ListKeysRequest {
                prefix: prefix.clone().unwrap_or_default(),
                scope: scope.clone(),
                user: user.clone().unwrap_or_default(),
                decrypt: *decrypt,
            };
            let keys = call(client.list_keys(request)).await?.keys;
            print_list("key-value pairs", KEY_COLUMNS, keys.iter().map(key_json), as_json);
        }
        KeyVerb::Get { name, decrypt, scope, user } => {
            let request = pb::KeyRequest {
                name: name.clone(),
                scope: scope.clone(),
                user: user.clone().unwrap_or_default(),
                decrypt: *decrypt,
            };
            print_one(&key_json(&call(client.get_key(request)).await?), as_json);
        }
        KeyVerb::Set { name, value, encrypt, ttl, scope, user } => {
            let request = pb::SetKeyRequest {
                name: name.clone(),
                value: value.clone(),
                scope: scope.clone(),
                user: user.clone().unwrap_or_default(),
                ttl_seconds: ttl.unwrap_or(0),
                encrypt: *encrypt,
            };
            print_one(&key_json(&call(client.set_key(request)).await?), as_json);
        }
        KeyVerb::Delete { name, scope, user } => {
            let request = pb::KeyRequest {
                name: name.clone(),
                scope: scope.clone(),
                user: user.clone().unwrap_or_default(),
                decrypt: false,
            };
            call(client.delete_key(request)).await?;
            if as_json {
                print_json(&json!({"name": name, "deleted": true}));
            } else {
                outln!("Resource with id \"{name}\" has been successfully deleted.");
            }
        }
        KeyVerb::Load { file, convert } => {
            let requests = load_file(file, *convert).map_err(anyhow::Error::msg)?;
            let mut loaded = Vec::new();
            for request in requests {
                loaded.push(call(client.set_key(request)).await?);
            }
            print_list("key-value pairs", KEY_COLUMNS, loaded.iter().map(key_json), as_json);
        }
    }
    Ok(())
}

fn key_json(k: &pb::KeyValuePair) -> Value {
    let optional = |text: &str| if text.is_empty() { Value::Null } else { json!(text) };
    json!({
        "name": k.name,
        "value": k.value,
        "secret": k.secret,
        "encrypted": k.encrypted,
        "scope": k.scope,
        "user": optional(&k.user),
        "expire_timestamp": optional(&k.expire_timestamp),
    })
}

/// The pairs of a `key load` file: JSON or YAML, one object or a list of them, each with
/// `name` and `value` and optionally `secret`/`encrypted`, `ttl`, `scope`, `user`. A value that
/// is not a string is refused unless `convert`, which stores it as JSON.
pub fn load_file(path: &Path, convert: bool) -> Result<Vec<pb::SetKeyRequest>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let document = st2d_core::yaml::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let items = match document {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return Err(format!("{}: expected a key-value object or a list of them", path.display())),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let at = |field: &str| format!("{}: item {index}: field \"{field}\"", path.display());
            let name = item.get("name").and_then(Value::as_str).ok_or_else(|| format!("{} is required", at("name")))?;
            let value = match item.get("value") {
                Some(Value::String(text)) => text.clone(),
                Some(other) if convert => other.to_string(),
                Some(_) => return Err(format!("{} is not a string (use --convert to store it as JSON)", at("value"))),
                None => return Err(format!("{} is required", at("value"))),
            };
            let flag = |field: &str| item.get(field).and_then(Value::as_bool).unwrap_or(false);
            Ok(pb::SetKeyRequest {
                name: name.to_string(),
                value,
                scope: item.get("scope").and_then(Value::as_str).unwrap_or_default().to_string(),
                user: item.get("user").and_then(Value::as_str).unwrap_or_default().to_string(),
                ttl_seconds: item.get("ttl").and_then(Value::as_u64).unwrap_or(0),
                encrypt: flag("secret") || flag("encrypted"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_files_take_stackstorms_shapes() {
        let dir = std::env::temp_dir().join(format!("st2ctl-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let list = dir.join("list.yaml");
        std::fs::write(
            &list,
            "- {name: a, value: x}\n- {name: b, value: {k: 1}, secret: true, ttl: 60, scope: user, user: u}\n",
        )
        .expect("write");
        let error = load_file(&list, false).expect_err("an object value needs --convert");
        assert!(error.contains("item 1") && error.contains("--convert"), "{error}");
        let loaded = load_file(&list, true).expect("loads");
        assert_eq!(loaded.len(), 2);
        assert_eq!((loaded[1].value.as_str(), loaded[1].encrypt, loaded[1].ttl_seconds), (r#"{"k":1}"#, true, 60));
        assert_eq!((loaded[1].scope.as_str(), loaded[1].user.as_str()), ("user", "u"));
        let one = dir.join("one.json");
        std::fs::write(&one, r#"{"name": "solo", "value": "v"}"#).expect("write");
        assert_eq!(load_file(&one, false).expect("loads")[0].name, "solo");
        let bad = dir.join("bad.json");
        std::fs::write(&bad, r#"[{"value": "v"}]"#).expect("write");
        assert!(load_file(&bad, false).expect_err("no name").contains("field \"name\" is required"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
