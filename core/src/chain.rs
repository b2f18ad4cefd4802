//! An action-chain definition (ST2-COMPAT.md 2.7): `chain` (tasks with `name`, `ref`,
//! `parameters` or `params`, `on-success`, `on-failure`, `publish`), `default` and `vars`,
//! checked as a whole before the chain runs.
//!
//! Owns: reading and checking the definition file. Must not: render templates or run tasks.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What is wrong with a chain definition; each names the field or the task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the chain must be a mapping")]
    NotMapping,
    #[error("unknown key \"{0}\" (a chain has chain, default and vars)")]
    UnknownKey(String),
    #[error("\"chain\" is required and must be a list of tasks")]
    NoTasks,
    #[error("\"vars\" must be a mapping")]
    Vars,
    #[error("\"default\" must be a task name")]
    Default,
    #[error("Unable to find node with name \"{target}\" referenced in \"{field}\" in task \"{task}\".")]
    UnknownTarget { target: String, field: &'static str, task: String },
    #[error("Unable to find node with name \"{0}\" referenced in \"default\".")]
    UnknownDefault(String),
    #[error("chain[{0}] must be a mapping")]
    TaskNotMapping(usize),
    #[error("chain[{index}].{field} is required and must be a string")]
    Text { index: usize, field: &'static str },
    #[error("chain[{index}].{field} must be a mapping")]
    Mapping { index: usize, field: &'static str },
    #[error("chain[{0}].parameters: Either \"params\" or \"parameters\" attribute needs to be provided, but not both")]
    ParamsAndParameters(usize),
}

/// Why a chain definition file cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ChainFileError {
    #[error("cannot read the chain {}: {source}", .path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("Failed to parse action chain definition from \"{}\": {source}", .path.display())]
    Yaml { path: PathBuf, source: serde_yaml::Error },
    #[error("{}: {source}", .path.display())]
    Invalid { path: PathBuf, source: ChainError },
}

/// One task of a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainNode {
    pub name: String,
    pub action: String,
    pub parameters: Map<String, Value>,
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    pub publish: Map<String, Value>,
    /// The node as written, for the child's `context.chain`.
    pub raw: Value,
}

/// A checked chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    pub nodes: Vec<ChainNode>,
    /// The start node: `default`, else the first node no transition leads to, else the first.
    pub start: Option<String>,
    pub vars: Map<String, Value>,
}

impl ChainSpec {
    /// The node of that name (the first, when names repeat, as StackStorm finds it).
    pub fn node(&self, name: &str) -> Option<&ChainNode> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// Reads and checks `path`; the error names the file and the field.
    pub fn load(path: &Path) -> Result<Self, ChainFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ChainFileError::Read { path: path.to_path_buf(), source })?;
        let document: Value =
            serde_yaml::from_str(&text).map_err(|source| ChainFileError::Yaml { path: path.to_path_buf(), source })?;
        Self::parse(&document).map_err(|source| ChainFileError::Invalid { path: path.to_path_buf(), source })
    }

    pub fn parse(document: &Value) -> Result<Self, ChainError> {
        let Value::Object(top) = document else { return Err(ChainError::NotMapping) };
        if let Some(unknown) = top.keys().find(|k| !["chain", "default", "vars"].contains(&k.as_str())) {
            return Err(ChainError::UnknownKey(unknown.clone()));
        }
        let Some(Value::Array(items)) = top.get("chain") else {
            return Err(ChainError::NoTasks);
        };
        let nodes = items.iter().enumerate().map(|(index, item)| node(index, item)).collect::<Result<Vec<_>, _>>()?;
        let vars = match top.get("vars") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(vars)) => vars.clone(),
            Some(_) => return Err(ChainError::Vars),
        };
        let default = match top.get("default") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) => Some(name.clone()),
            Some(_) => return Err(ChainError::Default),
        };
        let spec = Self { start: default.clone().or_else(|| first_unreferenced(&nodes)), nodes, vars };
        for node in &spec.nodes {
            for (field, target) in [("on-success", &node.on_success), ("on-failure", &node.on_failure)] {
                if let Some(target) = target
                    && spec.node(target).is_none()
                {
                    return Err(ChainError::UnknownTarget { target: target.clone(), field, task: node.name.clone() });
                }
            }
        }
        if let Some(default) = &default
            && spec.node(default).is_none()
        {
            return Err(ChainError::UnknownDefault(default.clone()));
        }
        Ok(spec)
    }
}

fn node(index: usize, item: &Value) -> Result<ChainNode, ChainError> {
    let Value::Object(fields) = item else { return Err(ChainError::TaskNotMapping(index)) };
    let text = |field: &'static str, required: bool| -> Result<Option<String>, ChainError> {
        match fields.get(field) {
            None | Some(Value::Null) if !required => Ok(None),
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
            Some(Value::String(_)) if !required => Ok(None),
            _ => Err(ChainError::Text { index, field }),
        }
    };
    let name = text("name", true)?.unwrap_or_default();
    let action = text("ref", true)?.unwrap_or_default();
    let map = |field: &'static str| -> Result<Map<String, Value>, ChainError> {
        match fields.get(field) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(map)) => Ok(map.clone()),
            Some(_) => Err(ChainError::Mapping { index, field }),
        }
    };
    let (params, parameters) = (map("params")?, map("parameters")?);
    if !params.is_empty() && !parameters.is_empty() {
        return Err(ChainError::ParamsAndParameters(index));
    }
    Ok(ChainNode {
        name,
        action,
        parameters: if parameters.is_empty() { params } else { parameters },
        on_success: text("on-success", false)?,
        on_failure: text("on-failure", false)?,
        publish: map("publish")?,
        raw: item.clone(),
    })
}

/// The first node, in file order, that no transition leads to.
fn first_unreferenced(nodes: &[ChainNode]) -> Option<String> {
    let referenced = |name: &str| {
        nodes.iter().any(|n| n.on_success.as_deref() == Some(name) || n.on_failure.as_deref() == Some(name))
    };
    nodes.iter().find(|n| !referenced(&n.name)).or(nodes.first()).map(|n| n.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(yaml: &str) -> Result<ChainSpec, ChainError> {
        ChainSpec::parse(&serde_yaml::from_str(yaml).expect("yaml"))
    }

    #[test]
    fn a_chain_starts_at_default_else_at_the_first_task_nothing_leads_to() {
        let chain = "chain:\n  - {name: c2, ref: core.noop, on-success: c3}\n  - {name: c1, ref: core.noop, on-success: c2}\n  - {name: c3, ref: core.noop, description: ignored}\n";
        assert_eq!(parsed(chain).expect("valid").start.as_deref(), Some("c1"));
        let with_default = format!("{chain}default: c3\n");
        assert_eq!(parsed(&with_default).expect("valid").start.as_deref(), Some("c3"));
        let spec = parsed("chain:\n  - {name: a, ref: core.noop, params: {x: 1}}\nvars: {v: 2}\n").expect("valid");
        assert_eq!(spec.nodes[0].parameters["x"], 1);
        assert_eq!(spec.vars["v"], 2);
    }

    #[test]
    fn broken_chains_say_what_is_wrong() {
        let cases = [
            ("chain: {}\n", "\"chain\" is required"),
            ("chain: []\nextra: 1\n", "unknown key \"extra\""),
            ("chain:\n  - {ref: core.noop}\n", "chain[0].name is required"),
            ("chain:\n  - {name: a}\n", "chain[0].ref is required"),
            (
                "chain:\n  - {name: a, ref: core.noop, on-success: c5}\n",
                "Unable to find node with name \"c5\" referenced in \"on-success\" in task \"a\".",
            ),
            ("chain:\n  - {name: a, ref: core.noop}\ndefault: b\n", "referenced in \"default\""),
            ("chain:\n  - {name: a, ref: core.noop, params: {x: 1}, parameters: {y: 2}}\n", "not both"),
            ("chain:\n  - {name: a, ref: core.noop, publish: [x]}\n", "chain[0].publish must be a mapping"),
        ];
        for (yaml, expected) in cases {
            let error = parsed(yaml).expect_err(yaml).to_string();
            assert!(error.contains(expected), "{yaml}: {error}");
        }
    }
}
