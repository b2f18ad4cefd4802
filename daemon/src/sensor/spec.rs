//! What it takes to run one sensor, built from a registry snapshot, with a fingerprint that
//! changes exactly when a restart is needed: metadata, entry-point file, the pack's `lib/`
//! files, the resolved config or the interpreter.
//!
//! Owns: the fingerprint and interpreter choice. Must not: start anything.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::registry::Registry;
use st2d_core::pack::model::Sensor;

#[derive(Debug, Clone)]
pub struct SensorSpec {
    pub sensor: Arc<Sensor>,
    pub pack_dir: PathBuf,
    pub config: Map<String, Value>,
    pub python: PathBuf,
    pub fingerprint: u64,
    /// Trigger dicts for `add_trigger` (not part of the fingerprint: changes reach the running
    /// sensor as `add_trigger`/`remove_trigger`, without a restart).
    pub triggers: Vec<Value>,
}

impl SensorSpec {
    pub fn ref_(&self) -> &str {
        &self.sensor.ref_
    }

    /// The `welcome` message of the shim protocol, with the triggers to replay.
    pub fn welcome(&self, triggers: &[Value]) -> Value {
        json!({
            "op": "welcome",
            "kind": "sensor",
            "pack": self.sensor.pack,
            "class_name": self.sensor.class_name,
            "file": self.sensor.entry_point_path,
            "config": self.config,
            // Whole seconds as an integer, as StackStorm's wrapper passes them.
            "poll_interval": self.sensor.poll_interval.map(|i| if i.fract() == 0.0 { json!(i as i64) } else { json!(i) }),
            "local_prefix": format!("{}.{}:", self.sensor.pack, self.sensor.class_name),
            "triggers": triggers,
        })
    }
}

/// The real executable behind `python` (version managers such as pyenv put a slow shell script
/// on PATH; starting the interpreter directly halves sensor start time), as `user` (the action
/// user; `None`: st2d's own) runs it. Falls back to `python`.
pub async fn resolve_interpreter(python: &Path, user: Option<&crate::process::RunAs>) -> PathBuf {
    let spec = crate::process::ProcessSpec::new(python, "/")
        .inherit_environment()
        .arg("-c")
        .arg("import sys; print(sys.executable)")
        .run_as(user);
    match spec.command().output().await {
        Ok(output) if output.status.success() => {
            let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
            if text.is_empty() { python.to_path_buf() } else { PathBuf::from(text) }
        }
        _ => {
            tracing::warn!(python = %python.display(), "cannot run the Python interpreter; sensors will fail to start until it exists");
            python.to_path_buf()
        }
    }
}

/// The interpreter: the pack's virtualenv python when it exists, else `default`.
pub fn python_for(pack: &str, virtualenvs: &Path, default: &Path) -> PathBuf {
    let venv = virtualenvs.join(pack).join("bin").join("python");
    if venv.exists() { venv } else { default.to_path_buf() }
}

/// Which sensors may run: the toggles set through the API (overriding each sensor file's
/// `enabled`), and optionally one sensor alone (`st2d --sensor-ref`).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub toggles: std::collections::HashMap<String, bool>,
    pub only: Option<String>,
}

impl Selection {
    /// Whether `sensor` is enabled, its toggle first, then its file.
    pub fn enabled(&self, sensor: &Sensor) -> bool {
        self.toggles.get(&sensor.ref_).copied().unwrap_or(sensor.enabled)
    }

    fn runs(&self, sensor: &Sensor) -> bool {
        self.enabled(sensor) && self.only.as_ref().is_none_or(|only| *only == sensor.ref_)
    }
}

/// The enabled sensors of packs that register sensors, in registry order. Reads file metadata,
/// so call it off the async runtime.
pub fn desired(
    registry: &Registry,
    selection: &Selection,
    virtualenvs: &Path,
    default_python: &Path,
    base_libraries: Option<&Path>,
) -> Vec<SensorSpec> {
    registry
        .packs()
        .filter(|entry| entry.registers(st2d_core::pack::model::ContentKind::Sensors))
        .filter_map(|entry| entry.content.as_ref())
        .flat_map(|content| {
            content.sensors.iter().filter(|s| selection.runs(s)).map(move |sensor| {
                let python = python_for(&sensor.pack, virtualenvs, default_python);
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                format!("{sensor:?}").hash(&mut hasher);
                Value::Object(content.config.values.clone()).to_string().hash(&mut hasher);
                python.hash(&mut hasher);
                base_libraries.hash(&mut hasher);
                file_stamp(&sensor.entry_point_path).hash(&mut hasher);
                for stamp in tree_stamps(&content.dir.join("lib")) {
                    stamp.hash(&mut hasher);
                }
                SensorSpec {
                    sensor: sensor.clone(),
                    pack_dir: content.dir.clone(),
                    config: content.config.values.clone(),
                    python,
                    fingerprint: hasher.finish(),
                    triggers: crate::trigger::triggers::for_sensor(registry, &sensor.trigger_types),
                }
            })
        })
        .collect()
}

/// (path, length, modification time) of a file; absent files stamp as zero.
fn file_stamp(path: &Path) -> (PathBuf, u64, u128) {
    let meta = std::fs::metadata(path).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    (path.to_path_buf(), meta.map_or(0, |m| m.len()), modified)
}

fn tree_stamps(dir: &Path) -> Vec<(PathBuf, u64, u128)> {
    let mut stamps = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if name == "__pycache__" || name.to_string_lossy().ends_with(".pyc") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                stamps.push(file_stamp(&path));
            }
        }
    }
    stamps.sort();
    stamps
}
