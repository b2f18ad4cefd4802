//! What the web UI shows of an action beyond its record (StackStorm's
//! st2api/controllers/v1/action_views.py): its parameters merged with its runner's, attribute
//! by attribute, and the source of its entry point.
//!
//! Owns: the merged parameter view and finding an entry point's file inside its pack. Must not:
//! read a file outside the action's pack directory, or change the registry.

use std::path::PathBuf;

use serde_json::{Map, Value};
use st2d_core::pack::model::Action;
use st2d_core::pack::runners;

use super::ServiceError;
use crate::registry::Registry;

/// The action's parameters as StackStorm's `get_params_view(merged_only=True)` shows them: each
/// runner parameter with the attributes the action overrides laid over it, then the action's
/// own.
pub fn merged_parameters(action: &Action) -> Map<String, Value> {
    let Value::Object(mut own) = action.parameters.own() else { return Map::new() };
    let mut merged = Map::new();
    if let Some(runners::Resolved::Current(runner) | runners::Resolved::Legacy(runner)) =
        runners::resolve(&action.runner_type)
    {
        for (name, schema) in &runner.parameters {
            let mut schema = schema.clone();
            match (own.shift_remove(name), &mut schema) {
                (Some(Value::Object(overrides)), Value::Object(attributes)) => attributes.extend(overrides),
                (Some(other), _) => schema = other,
                (None, _) => {}
            }
            merged.insert(name.clone(), schema);
        }
    }
    merged.extend(own);
    merged
}

/// The action's entry point file, as text, with its path.
#[derive(Debug)]
pub struct EntryPoint {
    pub path: PathBuf,
    pub text: String,
}

/// Reads `action`'s entry point; an action without one, or one that leaves its pack, is
/// `NotFound`.
pub fn entry_point(registry: &Registry, action: &Action) -> Result<EntryPoint, ServiceError> {
    let none = || ServiceError::not_found(format!("Action ref_or_id={} has no entry_point to output", action.ref_));
    let path = crate::runner::entry_point(registry, action).ok_or_else(none)?;
    let pack = crate::runner::pack_dir(registry, action).ok_or_else(none)?;
    let (path, pack) = match (path.canonicalize(), pack.canonicalize()) {
        (Ok(path), Ok(pack)) => (path, pack),
        _ => return Err(none()),
    };
    if !path.starts_with(&pack) || !path.is_file() {
        return Err(none());
    }
    let bytes = std::fs::read(&path).map_err(|error| ServiceError::internal(format!("{}: {error}", path.display())))?;
    Ok(EntryPoint { path, text: String::from_utf8_lossy(&bytes).into_owned() })
}
