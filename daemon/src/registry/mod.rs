//! The registry: one immutable snapshot of every loaded pack and its resources, published by
//! the reload actor and read by everything else (DESIGN.md 3.3).
//!
//! Owns: the snapshot type, its indexes and lookups. Must not: change after it is built (a
//! reload builds a new one), read files, or talk to the store.

pub mod build;
pub mod diff;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use st2d_core::pack::model::{
    Action, Alias, ContentError, ContentKind, PackContent, Policy, Rule, Sensor, TriggerType,
};

/// One pack as the registry knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct PackEntry {
    pub ref_: String,
    pub dir: PathBuf,
    pub builtin: bool,
    /// The live content: the current version, or the last good one when `pack.yaml` now fails;
    /// `None` when the pack has never loaded.
    pub content: Option<Arc<PackContent>>,
    /// A problem with `pack.yaml` itself.
    pub pack_error: Option<ContentError>,
    /// The content kinds the pack registers.
    pub registered: BTreeSet<ContentKind>,
    /// Problems found while assembling the registry (shadowed directories...).
    pub notes: Vec<String>,
    /// How st2d installed the pack, when it did.
    pub install: Option<PackInstall>,
}

/// How a pack was installed (`packs.install`/`packs.download`), kept in the store.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PackInstall {
    /// The URL or path fetched.
    pub source: String,
    /// The version asked for, if any.
    #[serde(default)]
    pub requested: Option<String>,
    /// The branch or tag the version resolved to (git only).
    #[serde(default)]
    pub resolved: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    /// The pack's `version` when it was installed.
    pub version: String,
    /// RFC 3339.
    pub installed_at: String,
    /// The last virtualenv setup failed with this error.
    #[serde(default)]
    pub setup_error: Option<String>,
}

impl PackEntry {
    /// `ok`, `degraded` (some files failed) or `failed` (nothing of the pack is live).
    pub fn status(&self) -> &'static str {
        if self.unloaded() {
            return "unloaded";
        }
        if self.install.as_ref().is_some_and(|i| i.setup_error.is_some()) {
            return "degraded";
        }
        match &self.content {
            None => "failed",
            Some(_) if self.pack_error.is_some() => "degraded",
            Some(content) => content.status(),
        }
    }

    /// Every file problem: `pack.yaml`'s first, then the content's.
    pub fn errors(&self) -> Vec<&ContentError> {
        self.pack_error.iter().chain(self.content.iter().flat_map(|c| c.errors.iter())).collect()
    }

    pub fn warnings(&self) -> Vec<&str> {
        self.content.iter().flat_map(|c| c.warnings.iter()).chain(self.notes.iter()).map(String::as_str).collect()
    }

    pub fn registers(&self, kind: ContentKind) -> bool {
        self.registered.contains(&kind)
    }

    /// `packs.unload` took the pack out: its files are there, nothing of it is registered.
    pub fn unloaded(&self) -> bool {
        !self.builtin && self.registered.is_empty()
    }
}

/// An immutable snapshot of all packs.
#[derive(Debug, Default)]
pub struct Registry {
    pub generation: u64,
    packs: BTreeMap<String, PackEntry>,
    actions: HashMap<String, Arc<Action>>,
    trigger_types: HashMap<String, Arc<TriggerType>>,
    rules: HashMap<String, Arc<Rule>>,
    sensors: HashMap<String, Arc<Sensor>>,
    /// Rules enabled or disabled through the API, overriding their files' `enabled`.
    rule_toggles: HashMap<String, bool>,
}

/// Iterates one kind of resource over the packs, optionally of one pack only.
macro_rules! list_of {
    ($name:ident, $field:ident, $ty:ty) => {
        pub fn $name<'a>(&'a self, pack: Option<&'a str>) -> impl Iterator<Item = &'a Arc<$ty>> + 'a {
            self.contents(pack).flat_map(|content| content.$field.iter())
        }
    };
}

impl Registry {
    pub fn new(generation: u64, packs: BTreeMap<String, PackEntry>) -> Self {
        let mut registry = Registry { generation, packs, ..Registry::default() };
        for content in registry.packs.values().filter(|p| !p.unloaded()).filter_map(|p| p.content.clone()) {
            for action in &content.actions {
                registry.actions.insert(action.ref_.clone(), action.clone());
            }
            for trigger_type in &content.trigger_types {
                registry.trigger_types.insert(trigger_type.ref_.clone(), trigger_type.clone());
            }
            for rule in &content.rules {
                registry.rules.insert(rule.ref_.clone(), rule.clone());
            }
            for sensor in &content.sensors {
                registry.sensors.insert(sensor.ref_.clone(), sensor.clone());
            }
        }
        registry
    }

    /// The same snapshot with rules enabled or disabled through the API.
    pub fn with_rule_toggles(mut self, toggles: HashMap<String, bool>) -> Self {
        self.rule_toggles = toggles;
        self
    }

    /// Whether a rule is enabled: its toggle when the API set one, else its file.
    pub fn rule_enabled(&self, rule: &Rule) -> bool {
        self.rule_toggles.get(&rule.ref_).copied().unwrap_or(rule.enabled)
    }

    pub fn packs(&self) -> impl Iterator<Item = &PackEntry> {
        self.packs.values()
    }

    pub fn pack(&self, ref_: &str) -> Option<&PackEntry> {
        self.packs.get(ref_)
    }

    fn contents<'a>(&'a self, pack: Option<&'a str>) -> impl Iterator<Item = &'a Arc<PackContent>> + 'a {
        self.packs
            .values()
            .filter(move |entry| pack.is_none_or(|p| entry.ref_ == p) && !entry.unloaded())
            .filter_map(|entry| entry.content.as_ref())
    }

    list_of!(actions, actions, Action);
    list_of!(trigger_types, trigger_types, TriggerType);
    list_of!(rules, rules, Rule);
    list_of!(sensors, sensors, Sensor);
    list_of!(aliases, aliases, Alias);
    list_of!(policies, policies, Policy);

    pub fn action(&self, ref_: &str) -> Option<&Arc<Action>> {
        self.actions.get(ref_)
    }

    pub fn trigger_type(&self, ref_: &str) -> Option<&Arc<TriggerType>> {
        self.trigger_types.get(ref_)
    }

    pub fn rule(&self, ref_: &str) -> Option<&Arc<Rule>> {
        self.rules.get(ref_)
    }

    pub fn sensor(&self, ref_: &str) -> Option<&Arc<Sensor>> {
        self.sensors.get(ref_)
    }

    /// Whether the rule's pack has registered its rules.
    pub fn rule_registered(&self, rule: &Rule) -> bool {
        self.packs.get(&rule.pack).is_some_and(|p| p.registers(ContentKind::Rules))
    }

    /// Registered and enabled: the rules that fire.
    pub fn active_rules(&self) -> impl Iterator<Item = &Arc<Rule>> {
        self.rules(None).filter(|rule| self.rule_enabled(rule) && self.rule_registered(rule))
    }

    pub fn counts(&self) -> Counts {
        Counts {
            packs: self.packs.values().filter(|p| p.content.is_some()).count(),
            packs_with_errors: self.packs.values().filter(|p| p.status() != "ok").count(),
            errors: self.packs.values().map(|p| p.errors().len()).sum(),
            actions: self.actions.len(),
            trigger_types: self.trigger_types.len(),
            rules: self.rules.len(),
            sensors: self.sensors.len(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub packs: usize,
    pub packs_with_errors: usize,
    pub errors: usize,
    pub actions: usize,
    pub trigger_types: usize,
    pub rules: usize,
    pub sensors: usize,
}
