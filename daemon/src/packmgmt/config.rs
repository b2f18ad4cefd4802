//! Writing a pack's config, `<config-dir>/<pack>.yaml` (`st2 pack config`): the new values are
//! merged over the file's (or replace them), checked against the pack's `config.schema.yaml`,
//! and written atomically with mode 0640; nothing is written when they do not validate.
//!
//! Owns: that file write. Must not: read or write any other config (the loader reads them).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use serde_json::{Map, Value};
use st2d_core::pack::fields::FieldError;
use st2d_core::yaml::YamlError;

use super::PackManager;
use super::source::{SourceError, check_ref};
use crate::reload::{Cause, ReloadStopped};

/// Why a pack config was not written; each names the pack, the file or the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Ref(#[from] SourceError),
    #[error("pack \"{pack}\" is not installed")]
    NotInstalled { pack: String },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} does not hold a mapping; pass --replace to overwrite it")]
    NotAMapping { path: PathBuf },
    #[error("{path}: {source}; pass --replace to overwrite it")]
    Parse { path: PathBuf, source: YamlError },
    #[error("{}", field_message(.0))]
    Invalid(#[source] FieldError),
    #[error("cannot write the config as YAML: {0}")]
    Yaml(#[source] serde_yaml::Error),
    #[error("a config path has a directory")]
    NoDirectory,
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Reload(#[from] ReloadStopped),
}

/// `field: message`, or the message alone for the document itself.
fn field_message(error: &FieldError) -> String {
    if error.field.is_empty() { error.message.clone() } else { format!("{}: {}", error.field, error.message) }
}

impl PackManager {
    /// Sets the config of `pack` and reloads; returns the path written.
    pub async fn set_config(
        &self,
        pack: &str,
        values: Map<String, Value>,
        replace: bool,
    ) -> Result<std::path::PathBuf, ConfigError> {
        check_ref(pack)?;
        let registry = self.published().registry();
        let content = registry
            .pack(pack)
            .and_then(|e| e.content.clone())
            .ok_or_else(|| ConfigError::NotInstalled { pack: pack.to_string() })?;
        let path = self.paths().config_dir.join(format!("{pack}.yaml"));
        let mut merged = if replace { Map::new() } else { read_values(&path)? };
        merged.extend(values);
        let schema = content.config_schema.as_ref().and_then(Value::as_object);
        let merged = Value::Object(merged);
        crate::pack::config::resolve(Some(&merged), schema).map_err(ConfigError::Invalid)?;
        let text = serde_yaml::to_string(&merged).map_err(ConfigError::Yaml)?;
        write_atomically(&path, &format!("---\n{text}"))?;
        self.reload().reload(Cause::Packs, None).await?;
        Ok(path)
    }
}

fn read_values(path: &std::path::Path) -> Result<Map<String, Value>, ConfigError> {
    match std::fs::read_to_string(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(source) => Err(ConfigError::Read { path: path.to_path_buf(), source }),
        Ok(text) => match st2d_core::yaml::parse(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(_) => Err(ConfigError::NotAMapping { path: path.to_path_buf() }),
            Err(source) => Err(ConfigError::Parse { path: path.to_path_buf(), source }),
        },
    }
}

fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), ConfigError> {
    let dir = path.parent().ok_or(ConfigError::NoDirectory)?;
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::Create { path: dir.to_path_buf(), source })?;
    let temp = dir.join(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temp)
        .map_err(|source| ConfigError::Write { path: temp.clone(), source })?;
    file.set_permissions(std::fs::Permissions::from_mode(0o640))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|source| ConfigError::Write { path: temp.clone(), source })?;
    std::fs::rename(&temp, path).map_err(|source| ConfigError::Write { path: path.to_path_buf(), source })
}
