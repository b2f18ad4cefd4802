//! The resources that content files define, grouped by kind, as the loader collects them.
//!
//! Owns: collecting resources, taking a previous version's resources of one file (last good),
//! and rejecting a second definition of a ref. Must not: read files.

use std::collections::HashMap;
use std::sync::Arc;

use st2d_core::pack::model::{Action, Alias, ContentError, PackContent, Policy, Rule, Sensor, TriggerType};

/// Resources defined by one or more files.
#[derive(Debug, Default)]
pub(super) struct Items {
    pub actions: Vec<Arc<Action>>,
    pub trigger_types: Vec<Arc<TriggerType>>,
    pub sensors: Vec<Arc<Sensor>>,
    pub rules: Vec<Arc<Rule>>,
    pub aliases: Vec<Arc<Alias>>,
    pub policies: Vec<Arc<Policy>>,
}

impl Items {
    pub fn extend(&mut self, other: Items) {
        self.actions.extend(other.actions);
        self.trigger_types.extend(other.trigger_types);
        self.sensors.extend(other.sensors);
        self.rules.extend(other.rules);
        self.aliases.extend(other.aliases);
        self.policies.extend(other.policies);
    }

    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
            && self.trigger_types.is_empty()
            && self.sensors.is_empty()
            && self.rules.is_empty()
            && self.aliases.is_empty()
            && self.policies.is_empty()
    }

    /// What `file` defined in a previous version of the pack.
    pub fn from_file(pack: &PackContent, file: &str) -> Items {
        fn of<T>(list: &[Arc<T>], file: &str, path: impl Fn(&T) -> &str) -> Vec<Arc<T>> {
            list.iter().filter(|item| path(item) == file).cloned().collect()
        }
        Items {
            actions: of(&pack.actions, file, |a| &a.metadata_file),
            trigger_types: of(&pack.trigger_types, file, |t| &t.metadata_file),
            sensors: of(&pack.sensors, file, |s| &s.metadata_file),
            rules: of(&pack.rules, file, |r| &r.metadata_file),
            aliases: of(&pack.aliases, file, |a| &a.metadata_file),
            policies: of(&pack.policies, file, |p| &p.metadata_file),
        }
    }

    /// A second definition of the same ref is an error on the later file; the first one stays.
    pub fn drop_duplicates(&mut self, errors: &mut Vec<ContentError>) {
        fn dedup<T>(
            list: &mut Vec<Arc<T>>,
            what: &str,
            key: impl Fn(&T) -> (&str, &str),
            errors: &mut Vec<ContentError>,
        ) {
            let mut seen: HashMap<String, String> = Default::default();
            list.retain(|item| {
                let (ref_, file) = key(item);
                match seen.get(ref_) {
                    Some(first) => {
                        errors.push(ContentError {
                            file: file.to_string(),
                            line: None,
                            message: format!("{what} {ref_} is already defined in {first}; this definition is ignored"),
                            kept_last_good: false,
                        });
                        false
                    }
                    None => {
                        seen.insert(ref_.to_string(), file.to_string());
                        true
                    }
                }
            });
        }
        dedup(&mut self.actions, "action", |a| (&a.ref_, &a.metadata_file), errors);
        dedup(&mut self.trigger_types, "trigger type", |t| (&t.ref_, &t.metadata_file), errors);
        dedup(&mut self.sensors, "sensor", |s| (&s.ref_, &s.metadata_file), errors);
        dedup(&mut self.rules, "rule", |r| (&r.ref_, &r.metadata_file), errors);
        dedup(&mut self.aliases, "alias", |a| (&a.ref_, &a.metadata_file), errors);
        dedup(&mut self.policies, "policy", |p| (&p.ref_, &p.metadata_file), errors);
    }
}
