//! Writing a pack's config, `<config-dir>/<pack>.yaml` (`st2 pack config`): the new values are
//! merged over the file's (or replace them), checked against the pack's `config.schema.yaml`,
//! and written atomically with mode 0640; nothing is written when they do not validate.
//!
//! Owns: that file write. Must not: read or write any other config (the loader reads them).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

use serde_json::{Map, Value};

use super::PackManager;
use super::source::check_ref;
use crate::reload::Cause;

impl PackManager {
    /// Sets the config of `pack` and reloads; returns the path written.
    pub async fn set_config(
        &self,
        pack: &str,
        values: Map<String, Value>,
        replace: bool,
    ) -> Result<std::path::PathBuf, String> {
        check_ref(pack)?;
        let registry = self.published().registry();
        let content = registry
            .pack(pack)
            .and_then(|e| e.content.clone())
            .ok_or_else(|| format!("pack \"{pack}\" is not installed"))?;
        let path = self.paths().config_dir.join(format!("{pack}.yaml"));
        let mut merged = if replace { Map::new() } else { read_values(&path)? };
        merged.extend(values);
        let schema = content.config_schema.as_ref().and_then(Value::as_object);
        let merged = Value::Object(merged);
        crate::pack::config::resolve(Some(&merged), schema)
            .map_err(|e| if e.field.is_empty() { e.message } else { format!("{}: {}", e.field, e.message) })?;
        let text = serde_yaml::to_string(&merged).map_err(|e| format!("cannot write the config as YAML: {e}"))?;
        write_atomically(&path, &format!("---\n{text}"))?;
        self.reload().reload(Cause::Packs, None).await.map_err(|e| e.to_string())?;
        Ok(path)
    }
}

fn read_values(path: &std::path::Path) -> Result<Map<String, Value>, String> {
    match std::fs::read_to_string(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
        Ok(text) => match st2d_core::yaml::parse(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Null) => Ok(Map::new()),
            Ok(_) => Err(format!("{} does not hold a mapping; pass --replace to overwrite it", path.display())),
            Err(error) => Err(format!("{}: {error}; pass --replace to overwrite it", path.display())),
        },
    }
}

fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), String> {
    let dir = path.parent().ok_or("a config path has a directory")?;
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let temp = dir.join(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temp)
        .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o640))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    std::fs::rename(&temp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
