//! The `packs.*` actions as executions: their parameters read from the job, the pack manager
//! called, and results shaped as StackStorm's actions shape them (python actions
//! `{result, stdout, stderr, exit_code}`, the install workflow `{output: {...}}`, its
//! `warning_list` holding what each pack's load tolerated, also as `warnings` per pack), with
//! the progress lines in `stdout`.
//!
//! Owns: parameter reading and result shapes of the built-in `packs` pack. Must not: do the
//! work (the manager does).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::install::{InstallError, InstallRequest, Placed};
use super::register::RegisterError;
use super::remove::RemoveError;
use super::source::{Location, SourceError, check_ref, parse};
use super::venv::{self, VenvJob};
use super::{PackManager, Progress, Stages};
use crate::reload::ReloadStopped;
use crate::runner::Job;
use crate::runner::Outcome;
use st2d_core::pack::model::ContentKind;
use st2d_core::status::ExecutionStatus;

/// The pack whose actions are handled here.
pub const PACK: &str = "packs";

/// Component names `restart_component` accepts for the sensor container, as StackStorm
/// spells them now and did before.
pub const SENSOR_CONTAINER: &[&str] = &["sensor_container", "st2sensorcontainer", "sensorcontainer"];

/// StackStorm's other components, which st2d runs in its own process.
const IN_PROCESS_COMPONENTS: &[&str] = &[
    "st2actionrunner",
    "st2api",
    "st2stream",
    "st2auth",
    "st2garbagecollector",
    "st2notifier",
    "st2rulesengine",
    "rules_engine",
    "st2timersengine",
    "st2workflowengine",
    "st2scheduler",
    "st2chatops",
];

/// Why a `packs.*` action failed; the text is the execution's `error`, and names the parameter
/// or pack.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("packs.{name} is not an action st2d provides")]
    UnknownAction { name: String },
    #[error("parameter \"{name}\" is required")]
    Missing { name: &'static str },
    #[error("parameter \"{name}\" must be a list of packs, found {found}")]
    NotAList { name: String, found: Value },
    #[error("parameter \"{name}\" needs at least one pack")]
    NoPacks { name: String },
    #[error("repo_url: {0}")]
    RepoUrl(#[source] SourceError),
    #[error("repo_url: \"{url}\" is a pack name, not a repository")]
    RepoUrlIsAName { url: String },
    #[error("packs: with repo_url, give the version on repo_url (URL=version), not on \"{name}\"")]
    VersionOnPack { name: String },
    #[error("packs: {0}")]
    Packs(#[source] SourceError),
    #[error(transparent)]
    Ref(#[from] SourceError),
    /// The reason comes from `ContentKind`'s parser.
    #[error("register: {0}")]
    Kinds(String),
    #[error("pack \"{pack}\" is not installed")]
    NotInstalled { pack: String },
    #[error("Failed to register packs: {}", .0.join("; "))]
    Registration(Vec<String>),
    /// Packs that failed while others went ahead, each with its reason.
    #[error("{}", .0.join("; "))]
    Failures(Vec<String>),
    #[error(
        "Invalid component provided: \"{name}\"; valid components: {sensor_container}, {in_process}",
        sensor_container = SENSOR_CONTAINER.join(", "),
        in_process = IN_PROCESS_COMPONENTS.join(", ")
    )]
    Component { name: String },
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error(transparent)]
    Remove(#[from] RemoveError),
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Reload(#[from] ReloadStopped),
}

/// Runs one `packs.*` action.
pub async fn run(manager: Option<&PackManager>, job: &Job<'_>, stages: Option<&dyn Stages>) -> Outcome {
    let Some(manager) = manager else {
        return Outcome::failed("pack management is not available in this process");
    };
    let progress = Progress::with_stages(job.output, stages);
    let done = match job.action.name.as_str() {
        "install" => install(manager, job, &progress, true).await,
        "download" => install(manager, job, &progress, false).await,
        "load" => load(manager, job, &progress).await,
        "unload" => match packs(job, "packs") {
            Ok(packs) => manager
                .unload(&packs, &progress)
                .await
                .map(|()| json!(format!("Unloaded {}", packs.join(", "))))
                .map_err(ActionError::from),
            Err(error) => Err(error),
        },
        "delete" => match packs(job, "packs") {
            Ok(packs) => manager
                .delete(&packs, flag(job, "delete_env", true), &progress)
                .await
                .map(|()| json!(format!("Deleted {}", packs.join(", "))))
                .map_err(ActionError::from),
            Err(error) => Err(error),
        },
        "uninstall" => match packs(job, "packs") {
            Ok(packs) => manager
                .uninstall(&packs, &progress)
                .await
                .map(|()| json!(format!("Uninstalled {}", packs.join(", "))))
                .map_err(ActionError::from),
            Err(error) => Err(error),
        },
        "setup_virtualenv" => setup_virtualenv(manager, job, &progress).await,
        "restart_component" => restart_component(manager, job, &progress),
        "get" => get(manager, job),
        "list" => Ok(list(manager)),
        other => Err(ActionError::UnknownAction { name: other.to_string() }),
    };
    progress.end_stages(done.as_ref().err().map(ToString::to_string).as_deref());
    match done {
        // The install workflow's result is its output; the other actions are python actions.
        Ok(output) if job.action.name == "install" => {
            Outcome { status: ExecutionStatus::Succeeded, result: json!({"output": output, "stdout": progress.text()}) }
        }
        Ok(result) => Outcome {
            status: ExecutionStatus::Succeeded,
            result: json!({"result": result, "stdout": progress.text(), "stderr": "", "exit_code": 0}),
        },
        Err(error) => Outcome {
            status: ExecutionStatus::Failed,
            result: json!({"error": error.to_string(), "stdout": progress.text()}),
        },
    }
}

async fn install(
    manager: &PackManager,
    job: &Job<'_>,
    progress: &Progress<'_>,
    full: bool,
) -> Result<Value, ActionError> {
    let given = packs(job, "packs")?;
    let repo_url = text(job, "repo_url");
    let (args, repo) = match &repo_url {
        Some(url) => {
            let repo = parse(url).map_err(ActionError::RepoUrl)?;
            if matches!(repo.location, Location::Index(_)) {
                return Err(ActionError::RepoUrlIsAName { url: url.clone() });
            }
            for name in &given {
                if name.contains('=') {
                    return Err(ActionError::VersionOnPack { name: name.clone() });
                }
                check_ref(name).map_err(ActionError::Packs)?;
            }
            (Vec::new(), Some((repo, given.clone())))
        }
        None => (given.iter().map(|p| parse(p).map_err(ActionError::Packs)).collect::<Result<_, _>>()?, None),
    };
    let request = InstallRequest {
        args,
        repo,
        register: if full { register_kinds(job)? } else { BTreeSet::new() },
        force: flag(job, "force", false),
        skip_dependencies: !full || flag(job, "skip_dependencies", false),
        virtualenvs: full,
        env: env(job),
        verify_ssl: flag(job, "verifyssl", true),
        timeout: timeout(job, 600),
    };
    let report = manager.install(&request, progress, job.cancel).await?;
    let refs: Vec<&str> = report.placed.iter().map(|p| p.ref_.as_str()).collect();
    if !report.failures.is_empty() {
        return Err(ActionError::Failures(report.failures));
    }
    if !full {
        let statuses: Map<String, Value> = refs.iter().map(|r| (r.to_string(), json!("Success."))).collect();
        return Ok(Value::Object(statuses));
    }
    Ok(json!({
        "packs_list": refs,
        "message": format!("Successfully installed packs: {}", refs.join(", ")),
        "conflict_list": [],
        "warning_list": warning_list(&report.placed),
        "warnings": report.placed.iter().map(|p| (p.ref_.clone(), json!(p.warnings))).collect::<Map<String, Value>>(),
    }))
}

/// StackStorm's `warning_list` (one line each, as its `packs.get_pack_warnings` gives them),
/// with what each pack's load tolerated.
fn warning_list(placed: &[Placed]) -> Vec<String> {
    placed.iter().flat_map(|p| p.warnings.iter().map(move |w| format!("{}: {w}", p.ref_))).collect()
}

async fn load(manager: &PackManager, job: &Job<'_>, progress: &Progress<'_>) -> Result<Value, ActionError> {
    let packs = optional_packs(job, "packs")?;
    let registered = manager.register(&packs, register_kinds(job)?).await?;
    for line in &registered.lines {
        progress.line(line);
    }
    progress.line(&format!("Registry generation {}", registered.generation));
    if !registered.problems.is_empty() {
        return Err(ActionError::Registration(registered.problems));
    }
    Ok(json!(registered.counts))
}

async fn setup_virtualenv(manager: &PackManager, job: &Job<'_>, progress: &Progress<'_>) -> Result<Value, ActionError> {
    let packs = packs(job, "packs")?;
    let registry = manager.published().registry();
    for pack in &packs {
        super::source::check_removable_ref(pack)?;
        if registry.pack(pack).and_then(|e| e.content.as_ref()).is_none() {
            return Err(ActionError::NotInstalled { pack: pack.clone() });
        }
    }
    let _guards = manager.lock(packs.iter().cloned()).await;
    let mut failures = Vec::new();
    for pack in &packs {
        let Some(dir) = registry.pack(pack).and_then(|e| e.content.as_ref()).map(|c| c.dir.clone()) else {
            continue;
        };
        let venv_job = VenvJob {
            python: &manager.paths().python,
            virtualenvs_dir: &manager.paths().virtualenvs_dir,
            pack,
            pack_dir: &dir,
            update: flag(job, "update", false),
            env: env(job),
            timeout: timeout(job, 600),
            cancel: job.cancel,
            progress: &|line| progress.line(line),
        };
        match venv::setup(&venv_job).await {
            Ok(_) => {
                manager.mark_setup_error(&registry, pack, "");
                for sensor in registry.sensors(Some(pack)) {
                    manager.sensors().restart(&sensor.ref_);
                }
            }
            Err(error) => {
                let error = error.to_string();
                manager.mark_setup_error(&registry, pack, &error);
                failures.push(error);
            }
        }
    }
    // The marks show in `pack get` once the registry is rebuilt.
    let _ = manager.reload().refresh().await;
    if !failures.is_empty() {
        return Err(ActionError::Failures(failures));
    }
    Ok(json!(format!("Successfully set up virtualenv for the following packs: {}", packs.join(", "))))
}

fn restart_component(manager: &PackManager, job: &Job<'_>, progress: &Progress<'_>) -> Result<Value, ActionError> {
    let name = text(job, "servicename").ok_or(ActionError::Missing { name: "servicename" })?.to_ascii_lowercase();
    if SENSOR_CONTAINER.contains(&name.as_str()) {
        let restarted = manager.sensors().restart_all();
        progress.line(&format!("Restarted {restarted} sensors"));
        return Ok(json!({"component": "sensor_container", "restarted": restarted}));
    }
    if IN_PROCESS_COMPONENTS.contains(&name.as_str()) {
        progress.line(&format!("{name} runs inside st2d; there is no separate process to restart"));
        return Ok(json!({"component": name, "restarted": 0}));
    }
    Err(ActionError::Component { name })
}

fn get(manager: &PackManager, job: &Job<'_>) -> Result<Value, ActionError> {
    let pack = text(job, "pack").ok_or(ActionError::Missing { name: "pack" })?;
    check_ref(&pack)?;
    let registry = manager.published().registry();
    let Some(entry) = registry.pack(&pack).filter(|e| e.content.is_some()) else {
        return Ok(json!({"pack": null, "git_status": null}));
    };
    let meta = entry.content.as_ref().map(|c| c.meta.raw.clone()).unwrap_or(Value::Null);
    let status = entry.install.as_ref().map(|install| {
        let mut text = format!("installed from {}", install.source);
        if let Some(resolved) = &install.resolved {
            text.push_str(&format!(" at {resolved}"));
        }
        if let Some(commit) = &install.commit {
            text.push_str(&format!(" ({commit})"));
        }
        if let Some(error) = &install.setup_error {
            text.push_str(&format!("; virtualenv error: {error}"));
        }
        text
    });
    Ok(json!({"pack": meta, "git_status": status}))
}

fn list(manager: &PackManager) -> Value {
    let registry = manager.published().registry();
    let packs: Map<String, Value> = registry
        .packs()
        .filter_map(|entry| {
            let content = entry.content.as_ref()?;
            Some((
                entry.ref_.clone(),
                json!({
                    "name": content.meta.name,
                    "version": content.meta.version,
                    "description": content.meta.description,
                    "author": content.meta.author,
                    "status": entry.status(),
                }),
            ))
        })
        .collect();
    Value::Object(packs)
}

fn text(job: &Job<'_>, name: &str) -> Option<String> {
    match job.params.get(name) {
        Some(Value::String(text)) if !text.trim().is_empty() => Some(text.trim().to_string()),
        _ => None,
    }
}

fn flag(job: &Job<'_>, name: &str, default: bool) -> bool {
    match job.params.get(name) {
        Some(Value::Bool(flag)) => *flag,
        _ => default,
    }
}

fn timeout(job: &Job<'_>, default: u64) -> Duration {
    let seconds = match job.params.get("timeout") {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(default as f64),
        _ => job.timeout_seconds(default),
    };
    if seconds > 0.0 { Duration::from_secs_f64(seconds.min(86_400.0)) } else { Duration::from_secs(86_400) }
}

fn env(job: &Job<'_>) -> BTreeMap<String, String> {
    match job.params.get("env") {
        Some(Value::Object(map)) => {
            map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), String::from))).collect()
        }
        _ => BTreeMap::new(),
    }
}

fn optional_packs(job: &Job<'_>, name: &str) -> Result<Vec<String>, ActionError> {
    let list: Vec<String> = match job.params.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)).collect()
        }
        Some(Value::String(text)) => vec![text.clone()],
        Some(other) => return Err(ActionError::NotAList { name: name.to_string(), found: other.clone() }),
    };
    Ok(list.iter().flat_map(|p| p.split(',')).map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect())
}

fn packs(job: &Job<'_>, name: &str) -> Result<Vec<String>, ActionError> {
    let packs = optional_packs(job, name)?;
    if packs.is_empty() {
        return Err(ActionError::NoPacks { name: name.to_string() });
    }
    Ok(packs)
}

/// `register`: `all`, or a comma-separated list of kinds (singular or plural). Runners, rule
/// types and policy types are st2d's own and always present, so they are accepted and ignored.
fn register_kinds(job: &Job<'_>) -> Result<BTreeSet<ContentKind>, ActionError> {
    let text = text(job, "register").unwrap_or_default();
    parse_register(&text)
}

pub fn parse_register(text: &str) -> Result<BTreeSet<ContentKind>, ActionError> {
    let mut kinds = BTreeSet::new();
    for token in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        match token.to_ascii_lowercase().as_str() {
            "all" => kinds.extend(ContentKind::ALL),
            "runner" | "runners" | "rule_type" | "rule_types" | "policy_type" | "policy_types" | "policiy_types" => {}
            other => {
                kinds.insert(other.parse::<ContentKind>().map_err(ActionError::Kinds)?);
            }
        }
    }
    Ok(kinds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_takes_stackstorm_spellings() {
        let kinds = |text: &str| parse_register(text).map(|k| k.into_iter().map(|k| k.as_str()).collect::<Vec<_>>());
        assert_eq!(kinds("all").expect("parses").len(), ContentKind::ALL.len());
        assert_eq!(kinds("rules").expect("parses"), ["rules"]);
        assert_eq!(kinds("actions, sensor,runners,policiy_types").expect("parses"), ["actions", "sensors"]);
        assert_eq!(kinds("").expect("parses"), Vec::<&str>::new());
        assert!(kinds("rulez").expect_err("refused").to_string().contains("rulez"));
    }
}
