//! Pack administration as the doors offer it (StackStorm's st2api `packs.py`, `pack_views.py`,
//! `pack_configs.py`, `pack_config_schemas.py`): install and uninstall as executions of the
//! built-in `packs.install`/`packs.uninstall`, registration with StackStorm's counts, the pack
//! index and its search, config schemas and configs (secrets masked unless asked), writing a
//! config, and a pack's files.
//!
//! Owns: what these requests mean (required fields, defaults, which kinds a registration adds,
//! masking). Must not: do pack management itself (`packmgmt` does, and the executor runs its
//! actions), see HTTP or proto types, or read files on the async runtime (the file and index
//! readers here are blocking; callers run them on blocking threads).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use st2d_core::pack::model::{ContentKind, ENFORCED_POLICY_TYPES};

use super::executions::{self, RunRequest};
use super::{Runtime, ServiceError, Services, catalog};
use crate::execution::Execution;
use crate::packmgmt::files::{self, FileRead, PackFile};
use crate::packmgmt::index::{self, IndexStatus};
use crate::registry::{PackEntry, Registry};

/// An install asked for through the API (StackStorm's `PacksInstall`).
#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    pub packs: Vec<String>,
    pub force: bool,
    pub skip_dependencies: bool,
    /// Empty means the system user.
    pub user: String,
}

fn required_packs(packs: &[String]) -> Result<Vec<String>, ServiceError> {
    let packs: Vec<String> = packs.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    if packs.is_empty() {
        return Err(ServiceError::invalid("'packs' is a required property (field \"packs\")"));
    }
    Ok(packs)
}

/// Creates an execution of `packs.install` with the parameters StackStorm's API passes:
/// `packs`, and `force`/`skip_dependencies` only when set.
pub async fn install(runtime: &Runtime, request: InstallRequest) -> Result<Execution, ServiceError> {
    let mut parameters = Map::new();
    parameters.insert("packs".into(), json!(required_packs(&request.packs)?));
    if request.force {
        parameters.insert("force".into(), json!(true));
    }
    if request.skip_dependencies {
        parameters.insert("skip_dependencies".into(), json!(true));
    }
    let run = RunRequest { action: "packs.install".into(), parameters, user: request.user, ..RunRequest::default() };
    executions::run(runtime, run).await
}

/// Creates an execution of `packs.uninstall` for `packs`, acting as `user`.
pub async fn uninstall(runtime: &Runtime, packs: &[String], user: String) -> Result<Execution, ServiceError> {
    let mut parameters = Map::new();
    parameters.insert("packs".into(), json!(required_packs(packs)?));
    let run = RunRequest { action: "packs.uninstall".into(), parameters, user, ..RunRequest::default() };
    executions::run(runtime, run).await
}

/// A registration asked for through the API (StackStorm's `PacksRegister`).
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    /// Every installed pack when empty.
    pub packs: Vec<String>,
    /// StackStorm's content types (`action`, `rules`, `all`...); none means st2d's default set.
    pub types: Vec<String>,
    pub fail_on_failure: bool,
}

/// Registers content of packs and counts it as StackStorm's `POST /packs/register` answers:
/// one count per kind asked for, plus `runners`, `rule_types` and `policy_types` when actions,
/// rules or policies (or those types themselves) are asked for. Without `types`, the kinds are
/// `packs.load`'s default (all but rules: st2d registers rules only when asked).
pub async fn register(runtime: &Runtime, request: RegisterRequest) -> Result<BTreeMap<String, usize>, ServiceError> {
    let types: Vec<String> = request.types.iter().map(|t| t.trim().to_ascii_lowercase()).collect();
    let kinds = if types.is_empty() {
        ContentKind::default_set(false)
    } else {
        crate::packmgmt::actions::parse_register(&types.join(",")).map_err(|error| match error {
            crate::packmgmt::actions::ActionError::Kinds(reason) => {
                ServiceError::invalid(format!("field \"types\": {reason}"))
            }
            other => ServiceError::invalid(other),
        })?
    };
    let packs: Vec<String> = request.packs.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let registered = runtime.packs.register(&packs, kinds.clone()).await?;
    if request.fail_on_failure && !registered.problems.is_empty() {
        return Err(ServiceError::invalid(format!("Failed to register packs: {}", registered.problems.join("; "))));
    }
    let asked = |names: &[&str]| types.is_empty() || types.iter().any(|t| t == "all" || names.contains(&t.as_str()));
    let mut counts: BTreeMap<String, usize> = registered
        .counts
        .iter()
        .filter(|(kind, _)| types.is_empty() || kinds.iter().any(|k| k.as_str() == **kind))
        .map(|(kind, count)| (kind.to_string(), *count))
        .collect();
    if asked(&["runner", "runners", "action", "actions"]) {
        counts.insert("runners".into(), st2d_core::pack::runners::names().len());
    }
    if asked(&["rule_type", "rule_types", "rule", "rules"]) {
        counts.insert("rule_types".into(), 2);
    }
    if asked(&["policy_type", "policy_types", "policy", "policies"]) {
        counts.insert("policy_types".into(), ENFORCED_POLICY_TYPES.len());
    }
    Ok(counts)
}

/// The pack index (the `--index` files) and how each file read.
#[derive(Debug, Clone)]
pub struct PackIndex {
    pub packs: Map<String, Value>,
    pub statuses: Vec<IndexStatus>,
}

/// The compiled index; blocking (it reads the files). With `allow_empty` false, an index
/// without packs is refused as StackStorm refuses it.
pub fn pack_index(runtime: &Runtime, allow_empty: bool) -> Result<PackIndex, ServiceError> {
    let files = &runtime.packs.paths().index_files;
    let (packs, statuses) = index::compile(files);
    if packs.is_empty() && !allow_empty {
        let tried: Vec<String> = statuses.iter().map(|s| s.url.clone()).collect();
        let problems: Vec<String> =
            statuses.iter().map(|s| format!("{}: {}", s.url, s.message.as_deref().unwrap_or_default())).collect();
        return Err(ServiceError::invalid(format!(
            "No results from the {}: tried {}.{}",
            if files.len() == 1 { "index" } else { "indexes" },
            if tried.is_empty() {
                "none (st2d reads pack indexes given with --index FILE)".to_string()
            } else {
                tried.join(", ")
            },
            if problems.is_empty() { String::new() } else { format!("\nStatus: {}", problems.join("; ")) },
        )));
    }
    Ok(PackIndex { packs, statuses })
}

/// What an index search asks (StackStorm's `PacksSearchShow`: one of the two).
#[derive(Debug, Clone)]
pub enum IndexQuery {
    /// Packs with any field matching, case-insensitively.
    Query(String),
    /// The index entry of one pack.
    Pack(String),
}

/// What an index search found.
#[derive(Debug, Clone)]
pub enum Found {
    Packs(Vec<Value>),
    Pack(Option<Value>),
}

/// Searches the index; blocking (it reads the files).
pub fn search_index(runtime: &Runtime, query: &IndexQuery) -> Result<Found, ServiceError> {
    match query {
        IndexQuery::Query(text) if text.trim().is_empty() => Err(ServiceError::invalid("Query must be specified.")),
        IndexQuery::Pack(name) if name.trim().is_empty() => Err(ServiceError::invalid("Pack name must be specified.")),
        IndexQuery::Query(text) => Ok(Found::Packs(index::search(&pack_index(runtime, false)?.packs, text))),
        IndexQuery::Pack(name) => Ok(Found::Pack(pack_index(runtime, false)?.packs.get(name.trim()).cloned())),
    }
}

fn no_config(pack_ref: &str) -> ServiceError {
    ServiceError::not_found(format!("Unable to identify resource with pack_ref \"{}\".", pack_ref.trim()))
}

/// A pack's config schema (`config.schema.yaml`).
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigSchema {
    pub pack: String,
    pub attributes: Value,
}

fn schema_of(entry: &PackEntry) -> Option<ConfigSchema> {
    let schema = entry.content.as_ref()?.config_schema.clone()?;
    Some(ConfigSchema { pack: entry.ref_.clone(), attributes: schema })
}

/// The config schemas of every pack that has one, in pack order.
pub fn config_schemas(registry: &Registry) -> Vec<ConfigSchema> {
    registry.packs().filter_map(schema_of).collect()
}

pub fn config_schema(registry: &Registry, pack_ref: &str) -> Result<ConfigSchema, ServiceError> {
    schema_of(catalog::pack(registry, pack_ref)?).ok_or_else(|| no_config(pack_ref))
}

/// A pack's config values as shown: `secret` keys masked unless secrets were asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct PackConfig {
    pub pack: String,
    pub values: Map<String, Value>,
}

fn config_of(entry: &PackEntry, show_secrets: bool) -> Option<PackConfig> {
    let content = entry.content.as_ref()?;
    content.config.source.as_ref()?;
    let values = if show_secrets {
        content.config.values.clone()
    } else {
        let schema = content.config_schema.as_ref().and_then(Value::as_object);
        crate::pack::config::mask_secrets(&content.config.values, schema)
    };
    Some(PackConfig { pack: entry.ref_.clone(), values })
}

/// The configs of every pack that has a config file, in pack order.
pub fn configs(registry: &Registry, show_secrets: bool) -> Vec<PackConfig> {
    registry.packs().filter_map(|entry| config_of(entry, show_secrets)).collect()
}

pub fn config(registry: &Registry, pack_ref: &str, show_secrets: bool) -> Result<PackConfig, ServiceError> {
    let entry = registry.pack(pack_ref.trim()).ok_or_else(|| no_config(pack_ref))?;
    config_of(entry, show_secrets).ok_or_else(|| no_config(pack_ref))
}

/// Replaces the config of `pack_ref` with `values` (checked against its schema; nothing is
/// written when they do not pass) and reloads; answers the config now live.
pub async fn set_config(
    services: &Services,
    pack_ref: &str,
    values: Map<String, Value>,
    show_secrets: bool,
) -> Result<PackConfig, ServiceError> {
    let pack_ref = pack_ref.trim();
    services.runtime.packs.set_config(pack_ref, values.clone(), true).await?;
    let registry = services.published.registry();
    let live = registry.pack(pack_ref).and_then(|entry| config_of(entry, show_secrets));
    Ok(live.unwrap_or(PackConfig { pack: pack_ref.to_string(), values }))
}

fn pack_dir(registry: &Registry, ref_or_id: &str) -> Result<(String, std::path::PathBuf), ServiceError> {
    let entry = catalog::pack(registry, ref_or_id)?;
    let dir = entry.content.as_ref().map_or_else(|| entry.dir.clone(), |c| c.dir.clone());
    Ok((entry.ref_.clone(), dir))
}

/// The text of a pack's files (binary and large ones left out); blocking.
pub fn pack_files(registry: &Registry, ref_or_id: &str) -> Result<Vec<PackFile>, ServiceError> {
    let (_, dir) = pack_dir(registry, ref_or_id)?;
    Ok(files::read_all(&dir)?)
}

/// One file of a pack, by its path relative to the pack; blocking.
pub fn pack_file(registry: &Registry, ref_or_id: &str, path: &str) -> Result<FileRead, ServiceError> {
    let (_, dir) = pack_dir(registry, ref_or_id)?;
    Ok(files::read_one(&dir, path)?)
}
