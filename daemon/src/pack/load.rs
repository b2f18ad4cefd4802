//! Loads one pack directory into a `PackContent`, keeping the last good version of anything that
//! fails (DESIGN.md 3.4).
//!
//! Owns: which files of a pack are read (top-level `*.yaml|*.yml` of each content directory,
//! sorted), turning parse and validation failures into `ContentError`s (what StackStorm's
//! registration refuses) and what it tolerates into warnings, and the fallback to a previous
//! good version. An Orquesta definition that reads but fails inspection is registered with its
//! problems as warnings, as StackStorm registers it, unless a last good version of its file
//! can stand in (then it is an error, as any failing file). Must not: decide which packs exist
//! (discovery is the registry's) or block an async runtime (callers run it on a blocking
//! thread).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::config;
use super::items::Items;
use st2d_core::pack::fields::FieldError;
use st2d_core::pack::model::{ContentError, PackConfig, PackContent, PackMeta};
use st2d_core::pack::validate;
use st2d_core::yaml;

/// Files at or above this count are parsed on every core.
const PARALLEL_THRESHOLD: usize = 64;

/// What loading a pack directory gave.
#[derive(Debug, Clone)]
pub enum PackLoad {
    Loaded(Arc<PackContent>),
    /// `pack.yaml` could not be read or validated. `previous` (the last good version, if any)
    /// stays live.
    Failed {
        ref_: String,
        dir: PathBuf,
        error: ContentError,
        previous: Option<Arc<PackContent>>,
    },
}

/// Whether `dir` is a pack: a directory with a `pack.yaml`.
pub fn is_pack_dir(dir: &Path) -> bool {
    dir.join("pack.yaml").is_file()
}

/// Loads the pack in `dir`, reading its config values from `config_dir`. `previous` is the
/// last good version, whose resources stand in for files that now fail.
pub fn load_pack(dir: &Path, config_dir: &Path, builtin: bool, previous: Option<&Arc<PackContent>>) -> PackLoad {
    let dir_name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut warnings = Vec::new();
    let meta = match read_yaml(dir, "pack.yaml").and_then(|(text, doc)| {
        validate::pack_meta(&doc, &dir_name, &mut warnings).map_err(|e| field_error("pack.yaml", &text, e))
    }) {
        Ok(meta) => meta,
        Err(mut error) => {
            error.kept_last_good = previous.is_some();
            return PackLoad::Failed {
                ref_: previous.map(|p| p.meta.ref_.clone()).unwrap_or(dir_name),
                dir: dir.to_path_buf(),
                error,
                previous: previous.cloned(),
            };
        }
    };
    PackLoad::Loaded(Arc::new(load_content(dir, config_dir, builtin, meta, warnings, previous.map(Arc::as_ref))))
}

fn load_content(
    dir: &Path,
    config_dir: &Path,
    builtin: bool,
    meta: PackMeta,
    mut warnings: Vec<String>,
    previous: Option<&PackContent>,
) -> PackContent {
    let mut errors = Vec::new();
    let mut items = Items::default();
    for kind in Kind::ALL {
        let files = list_yaml(&dir.join(kind.dir()), kind == Kind::Action);
        let results = map_maybe_parallel(&files, |file| load_file(dir, &meta.ref_, kind, file));
        for (file, result) in files.iter().zip(results) {
            match result {
                Ok(FileLoad { items: found, warnings: file_warnings, unrunnable: Some(mut unrunnable) }) => {
                    // A definition that reads but cannot run registers (as in StackStorm), unless
                    // a last good version of the file stands in for it.
                    match previous.map(|p| Items::from_file(p, file)).filter(is_last_good) {
                        Some(kept) => {
                            unrunnable.error.kept_last_good = true;
                            items.extend(kept);
                            errors.push(unrunnable.error);
                        }
                        None => {
                            warnings.extend(file_warnings);
                            warnings.extend(unrunnable.problems);
                            items.extend(found);
                        }
                    }
                }
                Ok(FileLoad { items: found, warnings: file_warnings, unrunnable: None }) => {
                    warnings.extend(file_warnings);
                    items.extend(found);
                }
                Err(mut error) => {
                    let kept = previous.map(|p| Items::from_file(p, file)).unwrap_or_default();
                    error.kept_last_good = !kept.is_empty();
                    items.extend(kept);
                    errors.push(error);
                }
            }
        }
    }
    items.drop_duplicates(&mut warnings);
    items.not_run_notes(&mut warnings);
    let (config_schema, config) = load_config(dir, config_dir, &meta.ref_, previous, &mut errors, &mut warnings);
    PackContent {
        meta,
        dir: dir.to_path_buf(),
        builtin,
        actions: items.actions,
        trigger_types: items.trigger_types,
        sensors: items.sensors,
        rules: items.rules,
        aliases: items.aliases,
        policies: items.policies,
        config_schema,
        config,
        errors,
        warnings,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Action,
    Sensor,
    Trigger,
    Rule,
    Alias,
    Policy,
}

impl Kind {
    const ALL: [Kind; 6] = [Kind::Trigger, Kind::Sensor, Kind::Action, Kind::Rule, Kind::Alias, Kind::Policy];

    fn dir(self) -> &'static str {
        match self {
            Kind::Action => "actions",
            Kind::Sensor => "sensors",
            Kind::Trigger => "triggers",
            Kind::Rule => "rules",
            Kind::Alias => "aliases",
            Kind::Policy => "policies",
        }
    }
}

/// What one content file gave.
struct FileLoad {
    items: Items,
    warnings: Vec<String>,
    unrunnable: Option<Unrunnable>,
}

/// An Orquesta action whose definition reads but cannot run.
struct Unrunnable {
    /// Recorded (with the last good version kept) when one stands in for the file.
    error: ContentError,
    /// Listed as warnings when the action registers as it is.
    problems: Vec<String>,
}

/// Whether a previous version of a file is a last good one: it defined something, and each
/// of its actions can run.
fn is_last_good(items: &Items) -> bool {
    !items.is_empty() && items.actions.iter().all(|action| validate::definition_runs(action))
}

/// Reads, parses and validates one content file (`file` is relative to the pack directory).
fn load_file(pack_dir: &Path, pack: &str, kind: Kind, file: &str) -> Result<FileLoad, ContentError> {
    let (text, doc) = read_yaml(pack_dir, file)?;
    let ctx = validate::FileCtx { pack, pack_dir, file };
    let mut warnings = Vec::new();
    let mut items = Items::default();
    let mut unrunnable = None;
    let result = match kind {
        Kind::Action => validate::action(&doc, &ctx, &mut warnings).map(|valid| {
            if let Some(first) = valid.workflow_problems.first() {
                let error = field_error(file, &text, FieldError::new("entry_point", first.clone()));
                unrunnable = Some(Unrunnable { error, problems: valid.workflow_problems });
            }
            items.actions.push(Arc::new(valid.action));
        }),
        Kind::Sensor => validate::sensor(&doc, &ctx).map(|(sensor, types)| {
            items.sensors.push(Arc::new(sensor));
            items.trigger_types.extend(types.into_iter().map(Arc::new));
        }),
        Kind::Trigger => validate::trigger_type(&doc, &ctx).map(|t| items.trigger_types.push(Arc::new(t))),
        Kind::Rule => validate::rule(&doc, &ctx).map(|r| items.rules.push(Arc::new(r))),
        Kind::Alias => validate::alias(&doc, &ctx).map(|a| items.aliases.push(Arc::new(a))),
        Kind::Policy => validate::policy(&doc, &ctx).map(|p| items.policies.push(Arc::new(p))),
    };
    result.map_err(|e| field_error(file, &text, e))?;
    Ok(FileLoad { items, warnings, unrunnable })
}

/// Reads and parses `dir/file`, returning its text too (for line numbers of later errors).
fn read_yaml(dir: &Path, file: &str) -> Result<(String, Value), ContentError> {
    let path = dir.join(file);
    let text = std::fs::read(&path).map_err(|e| content_error(file, None, format!("cannot read the file: {e}")))?;
    let text = String::from_utf8(text).map_err(|e| {
        content_error(file, None, format!("the file is not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()))
    })?;
    let doc = yaml::parse(&text).map_err(|e| content_error(file, e.line, format!("invalid YAML: {}", e.message)))?;
    Ok((text, doc))
}

fn content_error(file: &str, line: Option<u32>, message: String) -> ContentError {
    ContentError { file: file.to_string(), line, message, kept_last_good: false }
}

fn field_error(file: &str, text: &str, error: FieldError) -> ContentError {
    let line = if error.field.is_empty() { None } else { yaml::field_line(text, &error.field) };
    content_error(file, line, error.message)
}

/// Top-level `*.yaml`/`*.yml` files of `dir`, sorted, as paths relative to the pack
/// (`actions/x.yaml`). `actions/config.yaml` is never an action.
fn list_yaml(dir: &Path, skip_config: bool) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| !name.starts_with('.') && (name.ends_with(".yaml") || name.ends_with(".yml")))
        .filter(|name| !(skip_config && name == "config.yaml"))
        .collect();
    names.sort_unstable();
    names.into_iter().map(|name| format!("{prefix}/{name}")).collect()
}

/// `map` over `items`, split across the machine's cores when there are many.
fn map_maybe_parallel<I: Sync, O: Send>(items: &[I], f: impl Fn(&I) -> O + Sync) -> Vec<O> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if items.len() < PARALLEL_THRESHOLD || threads < 2 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let handles: Vec<_> =
            items.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<O>>())).collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// The config schema and resolved config values; a failing file keeps the previous good one.
fn load_config(
    dir: &Path,
    config_dir: &Path,
    pack_ref: &str,
    previous: Option<&PackContent>,
    errors: &mut Vec<ContentError>,
    warnings: &mut Vec<String>,
) -> (Option<Value>, PackConfig) {
    let schema = if dir.join("config.schema.yaml").exists() {
        match read_yaml(dir, "config.schema.yaml")
            .and_then(|(text, doc)| config::schema(&doc).map_err(|e| field_error("config.schema.yaml", &text, e)))
        {
            Ok(schema) => Some(schema),
            Err(mut error) => {
                let kept = previous.and_then(|p| p.config_schema.as_ref()).and_then(Value::as_object).cloned();
                error.kept_last_good = kept.is_some();
                errors.push(error);
                kept
            }
        }
    } else {
        None
    };
    let config_file = config_dir.join(format!("{pack_ref}.yaml"));
    let (values_dir, values_file) = if config_file.is_file() {
        (config_dir.to_path_buf(), format!("{pack_ref}.yaml"))
    } else if dir.join("config.yaml").is_file() {
        warnings.push(format!(
            "config.yaml inside the pack is a legacy config: it is used because {} does not exist",
            config_file.display()
        ));
        (dir.to_path_buf(), "config.yaml".to_string())
    } else {
        (PathBuf::new(), String::new())
    };
    let source = (!values_file.is_empty()).then(|| values_dir.join(&values_file));
    let shown_file =
        source.as_ref().map(|p| if p.starts_with(dir) { values_file.clone() } else { p.display().to_string() });
    let resolved = match &source {
        None => {
            config::resolve(None, schema.as_ref()).map_err(|e| content_error("config.schema.yaml", None, e.message))
        }
        Some(_) => read_yaml(&values_dir, &values_file)
            .map_err(|mut e| {
                e.file = shown_file.clone().unwrap_or_default();
                e
            })
            .and_then(|(text, doc)| {
                config::resolve(Some(&doc), schema.as_ref())
                    .map_err(|e| field_error(shown_file.as_deref().unwrap_or_default(), &text, e))
            }),
    };
    let config = match resolved {
        Ok(values) => PackConfig { values, source },
        Err(mut error) => {
            let kept = previous.map(|p| p.config.clone());
            error.kept_last_good = kept.is_some();
            errors.push(error);
            kept.unwrap_or(PackConfig { values: Map::new(), source: None })
        }
    };
    (schema.map(Value::Object), config)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
