//! Version checks of `pack.yaml` at install time (ST2-COMPAT.md 1.2): `stackstorm_version`
//! clauses against the StackStorm release st2d is compatible with, `python_versions` against
//! Python 3, and the comparison of dependency versions.
//!
//! Owns: those comparisons. Must not: read files.

use serde_json::Value;

/// The StackStorm release whose pack behaviour st2d follows.
pub const STACKSTORM_VERSION: &str = "3.9.0";

/// Why a pack's `pack.yaml` versions refuse it; each names the pack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("pack {pack}: stackstorm_version clause \"{clause}\" is not understood")]
    Clause { pack: String, clause: String },
    #[error("pack {pack}: stackstorm_version operator \"{operator}\" is not understood")]
    Operator { pack: String, operator: String },
    #[error(
        "Pack \"{pack}\" requires StackStorm \"{required}\", but st2d is compatible with {running}; pass force=true to install it anyway",
        running = STACKSTORM_VERSION
    )]
    StackStorm { pack: String, required: String },
    #[error(
        "Pack \"{pack}\" supports only Python 2 (python_versions: {versions:?}), and st2d runs packs on Python 3; pass force=true to install it anyway"
    )]
    Python2 { pack: String, versions: Vec<String> },
}

fn numbers(version: &str) -> Option<[u64; 3]> {
    let core = version.trim().trim_start_matches('v').split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.trim().parse::<u64>());
    let major = parts.next()?.ok()?;
    let minor = parts.next().unwrap_or(Ok(0)).ok()?;
    let patch = parts.next().unwrap_or(Ok(0)).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some([major, minor, patch])
}

/// Checks `required` (`">=1.8.0, <2.2.0"`) against `STACKSTORM_VERSION`.
pub fn check_stackstorm_version(pack: &str, required: &str) -> Result<(), VersionError> {
    let running = numbers(STACKSTORM_VERSION).expect("STACKSTORM_VERSION is a semver constant");
    for clause in required.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let split = clause.find(|c: char| c.is_ascii_digit() || c == 'v').unwrap_or(clause.len());
        let (operator, version) = clause.split_at(split);
        let Some(wanted) = numbers(version) else {
            return Err(VersionError::Clause { pack: pack.to_string(), clause: clause.to_string() });
        };
        let holds = match operator.trim() {
            ">" | ">>" => running > wanted,
            ">=" => running >= wanted,
            "=" | "==" | "" => running == wanted,
            "<=" => running <= wanted,
            "<" | "<<" => running < wanted,
            "!=" => running != wanted,
            other => {
                return Err(VersionError::Operator { pack: pack.to_string(), operator: other.to_string() });
            }
        };
        if !holds {
            return Err(VersionError::StackStorm { pack: pack.to_string(), required: required.to_string() });
        }
    }
    Ok(())
}

/// `python_versions: ["2"]` alone cannot run on Python 3.
pub fn check_python_versions(pack: &str, versions: Option<&Value>) -> Result<(), VersionError> {
    let Some(Value::Array(versions)) = versions else {
        return Ok(());
    };
    let text: Vec<String> = versions
        .iter()
        .map(|v| match v {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        })
        .collect();
    if !text.is_empty() && text.iter().all(|v| v == "2" || v.starts_with("2.")) {
        return Err(VersionError::Python2 { pack: pack.to_string(), versions: text });
    }
    Ok(())
}

/// Whether two pack versions are the same once a leading `v` is dropped, as StackStorm's
/// dependency check compares them.
pub fn same_version(a: &str, b: &str) -> bool {
    a.trim().trim_start_matches('v') == b.trim().trim_start_matches('v')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stackstorm_version_clauses() {
        let cases = [
            (">=1.8.0", true),
            (">=1.8.0, <4.0.0", true),
            (">=3.9.0", true),
            (">3.9.0", false),
            ("<2.2.0", false),
            (">=1.8.0,<2.2.0", false),
            ("3.9.0", true),
            ("<<4.0.0", true),
        ];
        for (required, ok) in cases {
            assert_eq!(check_stackstorm_version("p", required).is_ok(), ok, "{required}");
        }
        assert!(check_stackstorm_version("p", "~>1.0").expect_err("refused").to_string().contains("not understood"));
        assert!(check_stackstorm_version("p", "<2.0.0").expect_err("refused").to_string().contains("force=true"));
    }

    #[test]
    fn python_2_only_packs_are_refused() {
        assert!(check_python_versions("p", None).is_ok());
        assert!(check_python_versions("p", Some(&json!(["2", "3"]))).is_ok());
        assert!(check_python_versions("p", Some(&json!(["3"]))).is_ok());
        assert!(check_python_versions("p", Some(&json!(["2"]))).expect_err("refused").to_string().contains("Python 2"));
        assert!(check_python_versions("p", Some(&json!([2]))).is_err());
    }

    #[test]
    fn versions_compare_without_their_v() {
        assert!(same_version("v1.0.0", "1.0.0"));
        assert!(!same_version("1.0.1", "1.0.0"));
    }
}
