//! The runner catalogue: which runner types exist, their legacy names and their parameters.
//!
//! Owns: `runners.yaml` (embedded) and name resolution. Must not: run anything; the runners
//! that execute actions live with the action runner, and read their parameters from here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// One runner type.
#[derive(Debug, Clone)]
pub struct Runner {
    pub name: String,
    pub parameters: Map<String, Value>,
}

struct Catalogue {
    runners: HashMap<String, Runner>,
    /// Legacy name -> current name.
    aliases: HashMap<String, String>,
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let doc = crate::yaml::parse(include_str!("runners.yaml"))
            .expect("the embedded runners.yaml is valid YAML (checked by a unit test)");
        let mut runners = HashMap::new();
        let mut aliases = HashMap::new();
        if let Value::Object(entries) = doc {
            for (name, entry) in entries {
                let parameters = entry.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
                for alias in
                    entry.get("aliases").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
                {
                    aliases.insert(alias.to_string(), name.clone());
                }
                runners.insert(name.clone(), Runner { name, parameters });
            }
        }
        Catalogue { runners, aliases }
    })
}

/// How a `runner_type` value resolved.
pub enum Resolved {
    Current(&'static Runner),
    /// A legacy name; the runner it stands for.
    Legacy(&'static Runner),
}

/// Resolves a runner name (current or legacy); `None` for an unknown runner.
pub fn resolve(name: &str) -> Option<Resolved> {
    let catalogue = catalogue();
    if let Some(runner) = catalogue.runners.get(name) {
        return Some(Resolved::Current(runner));
    }
    let current = catalogue.aliases.get(name)?;
    catalogue.runners.get(current).map(Resolved::Legacy)
}

/// Every current runner name, sorted.
pub fn names() -> Vec<&'static str> {
    let mut names: Vec<&str> = catalogue().runners.keys().map(String::as_str).collect();
    names.sort_unstable();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_loads_with_every_runner_stackstorm_ships() {
        for name in [
            "local-shell-cmd",
            "local-shell-script",
            "remote-shell-cmd",
            "remote-shell-script",
            "python-script",
            "http-request",
            "noop",
            "action-chain",
            "orquesta",
            "inquirer",
            "announcement",
            "winrm-cmd",
            "winrm-ps-cmd",
            "winrm-ps-script",
        ] {
            assert!(matches!(resolve(name), Some(Resolved::Current(_))), "{name}");
        }
        let Some(Resolved::Legacy(runner)) = resolve("run-python") else {
            panic!("run-python is a legacy name");
        };
        assert_eq!(runner.name, "python-script");
        assert!(resolve("mistral-v3").is_none());
        let Some(Resolved::Current(local)) = resolve("local-shell-cmd") else {
            panic!("local-shell-cmd exists");
        };
        assert_eq!(local.parameters["timeout"]["default"], 60);
        let Some(Resolved::Current(winrm)) = resolve("winrm-ps-cmd") else {
            panic!("winrm-ps-cmd exists");
        };
        assert!(winrm.parameters.contains_key("host"), "anchor resolved");
        let known = ["type", "description", "default", "required", "secret", "immutable", "enum"];
        for name in names() {
            let Some(Resolved::Current(runner)) = resolve(name) else { panic!("{name} resolves") };
            for (parameter, schema) in &runner.parameters {
                let keys = schema.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
                assert!(keys.iter().all(|k| known.contains(&k.as_str())), "{name}.{parameter}: {keys:?}");
            }
        }
    }
}
