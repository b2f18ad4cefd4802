//! Validated pack content: the domain types every other module reads.
//!
//! Owns: the shape of a loaded pack and of each resource in it, and content kinds.
//! Must not: read files, or hold anything that changes after loading (a `PackContent` is
//! immutable once built and shared through `Arc`).

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The kinds of content a pack can register, as StackStorm's `register` argument names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContentKind {
    Actions,
    Triggers,
    Sensors,
    Configs,
    Rules,
    Aliases,
    Policies,
}

impl ContentKind {
    pub const ALL: [ContentKind; 7] = [
        ContentKind::Actions,
        ContentKind::Triggers,
        ContentKind::Sensors,
        ContentKind::Configs,
        ContentKind::Rules,
        ContentKind::Aliases,
        ContentKind::Policies,
    ];

    /// What a pack installed or discovered registers: everything but rules (DESIGN.md 3.2).
    pub fn default_set(rules_by_default: bool) -> BTreeSet<ContentKind> {
        Self::ALL.into_iter().filter(|kind| rules_by_default || *kind != ContentKind::Rules).collect()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContentKind::Actions => "actions",
            ContentKind::Triggers => "triggers",
            ContentKind::Sensors => "sensors",
            ContentKind::Configs => "configs",
            ContentKind::Rules => "rules",
            ContentKind::Aliases => "aliases",
            ContentKind::Policies => "policies",
        }
    }
}

impl fmt::Display for ContentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContentKind {
    type Err = String;

    /// Singular or plural, as StackStorm's `register` accepts them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let kind = match text.trim().to_ascii_lowercase().as_str() {
            "action" | "actions" => ContentKind::Actions,
            "trigger" | "triggers" => ContentKind::Triggers,
            "sensor" | "sensors" => ContentKind::Sensors,
            "config" | "configs" => ContentKind::Configs,
            "rule" | "rules" => ContentKind::Rules,
            "alias" | "aliases" => ContentKind::Aliases,
            "policy" | "policies" => ContentKind::Policies,
            other => return Err(format!("unknown content kind \"{other}\"")),
        };
        Ok(kind)
    }
}

/// A problem with one file of a pack that StackStorm's registration would refuse (tolerated
/// problems are `PackContent::warnings`).
#[derive(Debug, Clone, PartialEq)]
pub struct ContentError {
    /// Relative to the pack directory, or absolute for files outside it (configs).
    pub file: String,
    pub line: Option<u32>,
    pub message: String,
    /// A previous good version of what the file defines is still live.
    pub kept_last_good: bool,
}

impl fmt::Display for ContentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message)?,
            None => write!(f, "{}: {}", self.file, self.message)?,
        }
        if self.kept_last_good {
            f.write_str(" (the last good version stays live)")?;
        }
        Ok(())
    }
}

/// `pack.yaml`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct PackMeta {
    pub ref_: String,
    pub name: String,
    pub description: String,
    pub version: String,
    pub author: String,
    pub email: String,
    pub keywords: Vec<String>,
    pub dependencies: Vec<String>,
    /// The whole document as written, unknown keys included.
    pub raw: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub description: String,
    /// The runner's current name (legacy names are resolved at load).
    pub runner_type: String,
    pub enabled: bool,
    pub entry_point: String,
    /// Effective parameters: the runner's merged with the action's (runner first).
    pub parameters: ActionParameters,
    pub output_schema: Value,
    pub tags: Value,
    pub notify: Value,
    pub metadata_file: String,
    /// An Orquesta action's workflow definition, as read and checked with the action (so the
    /// last good definition stays with the last good action).
    pub workflow: Option<std::sync::Arc<Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerType {
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub description: String,
    pub payload_schema: Value,
    pub parameters_schema: Value,
    pub tags: Value,
    pub metadata_file: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sensor {
    pub ref_: String,
    pub pack: String,
    pub class_name: String,
    pub description: String,
    pub enabled: bool,
    /// As written, relative to the metadata file's directory.
    pub entry_point: String,
    /// Absolute path of the Python file.
    pub entry_point_path: PathBuf,
    pub poll_interval: Option<f64>,
    /// Refs of the trigger types the sensor declares.
    pub trigger_types: Vec<String>,
    pub metadata_file: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    Standard,
    Backstop,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Standard => "standard",
            RuleType::Backstop => "backstop",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub description: String,
    /// As written; a rule without `enabled` is disabled, as in StackStorm.
    pub enabled: bool,
    pub trigger_type: String,
    pub trigger_parameters: Map<String, Value>,
    pub criteria: Map<String, Value>,
    pub action_ref: String,
    pub action_parameters: Map<String, Value>,
    pub rule_type: RuleType,
    pub tags: Value,
    pub context: Value,
    pub metadata_file: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub action_ref: String,
    /// Each entry of `formats`, normalized as StackStorm's `normalise_alias_format_string`.
    pub formats: Vec<AliasFormat>,
    /// `formats` as written (strings and `{display, representation}` maps), for the API.
    pub formats_raw: Value,
    /// `ack` as written (`{enabled, format, extra, append_url}`), or null.
    pub ack: Value,
    /// `result` as written (`{enabled, format, extra}`), or null.
    pub result: Value,
    /// `extra` as written (adapter-specific), or null.
    pub extra: Value,
    /// Parameters given to the action on every execution (Jinja rendered).
    pub immutable_parameters: Map<String, Value>,
    pub metadata_file: String,
}

/// One entry of an alias's `formats`: a string (its own display and only representation), or
/// `{display, representation: [...], match_multiple}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AliasFormat {
    /// The help text; `None` for a map without `display`.
    pub display: Option<String>,
    /// The format strings commands are matched against; none for a display-only map.
    pub representations: Vec<String>,
    /// Every occurrence in a command is an execution (`finditer`), not only the first.
    pub match_multiple: bool,
}

impl Alias {
    /// The format strings an alias execution may name (StackStorm's `get_format_strings`):
    /// the representations, or the display of a format without any.
    pub fn format_strings(&self) -> Vec<String> {
        self.formats
            .iter()
            .flat_map(|format| {
                if format.representations.is_empty() {
                    format.display.clone().into_iter().collect()
                } else {
                    format.representations.clone()
                }
            })
            .collect()
    }
}

/// The policy types st2d enforces (the daemon's `policy` module); a pack's other policies are
/// listed with a warning.
pub const ENFORCED_POLICY_TYPES: [&str; 3] = ["action.concurrency", "action.concurrency.attr", "action.retry"];

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub ref_: String,
    pub pack: String,
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub resource_ref: String,
    pub policy_type: String,
    pub parameters: Value,
    pub metadata_file: String,
}

/// A pack's config values with the schema's defaults applied.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PackConfig {
    pub values: Map<String, Value>,
    /// The file the values came from; `None` when the pack has no config file.
    pub source: Option<PathBuf>,
}

/// Everything loaded from one pack directory.
#[derive(Debug, Clone, PartialEq)]
pub struct PackContent {
    pub meta: PackMeta,
    /// The directory the pack was loaded from.
    pub dir: PathBuf,
    /// Shipped inside the binary (`core`, `packs`).
    pub builtin: bool,
    pub actions: Vec<Arc<Action>>,
    pub trigger_types: Vec<Arc<TriggerType>>,
    pub sensors: Vec<Arc<Sensor>>,
    pub rules: Vec<Arc<Rule>>,
    pub aliases: Vec<Arc<Alias>>,
    pub policies: Vec<Arc<Policy>>,
    pub config_schema: Option<Value>,
    pub config: PackConfig,
    /// What StackStorm's registration refuses (a file that does not parse or validate, a bad
    /// config): the file is skipped or kept at its last good version, and an install of the
    /// pack is refused.
    pub errors: Vec<ContentError>,
    /// What StackStorm tolerates (a ref defined twice, unknown `pack.yaml` keys, legacy names,
    /// content st2d lists but does not run), each starting with its file: shown on the pack,
    /// never a reason to refuse it.
    pub warnings: Vec<String>,
}

impl PackContent {
    /// "ok" or "degraded" (some files failed and were skipped or kept at their last good version).
    pub fn status(&self) -> &'static str {
        if self.errors.is_empty() { "ok" } else { "degraded" }
    }
}

/// A JSON document kept as compact text: a fraction of the memory of a parsed `Value`, and
/// already in the form the API sends. `parse` when the structure is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(Box<str>);

impl JsonText {
    pub fn new(value: &Value) -> Self {
        Self(value.to_string().into_boxed_str())
    }

    pub fn from_map(map: &Map<String, Value>) -> Self {
        Self(serde_json::to_string(map).unwrap_or_else(|_| "{}".to_string()).into_boxed_str())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document; text made by `new` always parses.
    pub fn parse(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

/// An action's effective parameters: its runner's, with the action's own declarations merged in
/// (runner first, then the action's new ones). Only the action's part is kept, as compact text;
/// the runner's is shared by every action of that runner, so thousands of actions stay small.
/// `parse` when the structure is needed.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionParameters {
    runner: &'static Map<String, Value>,
    /// The entries of the merged parameters that are not the runner's unchanged.
    own: JsonText,
}

impl ActionParameters {
    pub fn new(runner: &'static Map<String, Value>, merged: &Map<String, Value>) -> Self {
        let own: Map<String, Value> = merged
            .iter()
            .filter(|(name, schema)| runner.get(*name) != Some(*schema))
            .map(|(n, s)| (n.clone(), s.clone()))
            .collect();
        Self { runner, own: JsonText::from_map(&own) }
    }

    /// The merged parameters as one object.
    pub fn parse(&self) -> Value {
        let mut own = match self.own.parse() {
            Value::Object(own) => own,
            _ => Map::new(),
        };
        let mut merged = Map::with_capacity(self.runner.len() + own.len());
        for (name, schema) in self.runner {
            let schema = own.shift_remove(name).unwrap_or_else(|| schema.clone());
            merged.insert(name.clone(), schema);
        }
        merged.extend(own);
        Value::Object(merged)
    }

    /// The action's own declarations (what its metadata file sets beyond its runner's), as
    /// StackStorm's API shows an action's `parameters`.
    pub fn own(&self) -> Value {
        self.own.parse()
    }

    /// The merged parameters as compact JSON text, as the API sends them.
    pub fn to_json_text(&self) -> String {
        self.parse().to_string()
    }
}

/// Builds `pack.name`.
pub fn resource_ref(pack: &str, name: &str) -> String {
    format!("{pack}.{name}")
}
