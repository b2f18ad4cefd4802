//! The resources that content files define, grouped by kind, as the loader collects them.
//!
//! Owns: collecting resources, taking a previous version's resources of one file (last good),
//! ignoring a second definition of a ref (a warning: StackStorm's registration upserts it), and
//! the notes on content st2d lists but does not run. Must not: read files.

use std::collections::HashMap;
use std::sync::Arc;

use st2d_core::pack::model::{Action, Alias, ENFORCED_POLICY_TYPES, PackContent, Policy, Rule, Sensor, TriggerType};

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

    /// A second definition of the same ref is ignored with a warning on the later file; the
    /// first one stays. (StackStorm upserts by ref, so the file registered last would win; it
    /// never refuses a pack for it, so neither does st2d.)
    pub fn drop_duplicates(&mut self, warnings: &mut Vec<String>) {
        fn dedup<T>(list: &mut Vec<Arc<T>>, what: &str, key: impl Fn(&T) -> (&str, &str), warnings: &mut Vec<String>) {
            let mut seen: HashMap<String, String> = Default::default();
            list.retain(|item| {
                let (ref_, file) = key(item);
                match seen.get(ref_) {
                    Some(first) => {
                        warnings.push(format!(
                            "{file}: {what} {ref_} is already defined in {first}; this definition is ignored"
                        ));
                        false
                    }
                    None => {
                        seen.insert(ref_.to_string(), file.to_string());
                        true
                    }
                }
            });
        }
        dedup(&mut self.actions, "action", |a| (&a.ref_, &a.metadata_file), warnings);
        dedup(&mut self.trigger_types, "trigger type", |t| (&t.ref_, &t.metadata_file), warnings);
        dedup(&mut self.sensors, "sensor", |s| (&s.ref_, &s.metadata_file), warnings);
        dedup(&mut self.rules, "rule", |r| (&r.ref_, &r.metadata_file), warnings);
        dedup(&mut self.aliases, "alias", |a| (&a.ref_, &a.metadata_file), warnings);
        dedup(&mut self.policies, "policy", |p| (&p.ref_, &p.metadata_file), warnings);
    }

    /// Policies of types st2d does not enforce load and are listed: one warning naming the
    /// files.
    pub fn not_run_notes(&self, warnings: &mut Vec<String>) {
        fn files<T>(list: &[Arc<T>], file: impl Fn(&T) -> &str) -> String {
            const SHOWN: usize = 5;
            let names: Vec<&str> = list.iter().take(SHOWN).map(|item| file(item)).collect();
            match list.len().saturating_sub(SHOWN) {
                0 => names.join(", "),
                more => format!("{} and {more} more", names.join(", ")),
            }
        }
        let unenforced: Vec<Arc<Policy>> = self
            .policies
            .iter()
            .filter(|policy| !ENFORCED_POLICY_TYPES.contains(&policy.policy_type.as_str()))
            .cloned()
            .collect();
        if !unenforced.is_empty() {
            warnings.push(format!(
                "{}: policies are listed but not enforced (st2d enforces {})",
                files(&unenforced, |p| &p.metadata_file),
                ENFORCED_POLICY_TYPES.join(", ")
            ));
        }
    }
}
