//! `pack.yaml`: ref resolution and validation (ST2-COMPAT.md 1.2).
//!
//! Owns: which pack refs are valid and how a pack's ref is chosen. Must not: reject what
//! StackStorm tolerates in the wild (float versions, unknown keys): those are warnings.

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use crate::pack::fields::{FieldError, Fields};
use crate::pack::model::PackMeta;

const KNOWN_FIELDS: &[&str] = &[
    "ref",
    "name",
    "description",
    "version",
    "author",
    "email",
    "keywords",
    "stackstorm_version",
    "python_versions",
    "contributors",
    "dependencies",
    "system",
    "files",
    "path",
    "id",
    "uid",
];

/// Refs that belong to StackStorm itself and cannot name a pack of files.
const RESERVED_REFS: &[&str] = &["_global"];

/// `^[a-z0-9_]+$`: the only characters a pack ref may have.
pub fn is_valid_ref(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn semver() -> &'static Regex {
    static SEMVER: OnceLock<Regex> = OnceLock::new();
    SEMVER.get_or_init(|| {
        Regex::new(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9a-z.-]+)?(\+[0-9a-z.-]+)?$")
            .expect("the semver pattern is a valid regex")
    })
}

/// Validates `pack.yaml` of the directory named `dir_name`. Warnings go to `warnings`.
pub fn pack_meta(doc: &Value, dir_name: &str, warnings: &mut Vec<String>) -> Result<PackMeta, FieldError> {
    let fields = Fields::new(doc, "")?;
    let name = fields.required_str("name")?;
    let declared_ref = fields.optional_str("ref")?.filter(|r| !r.is_empty());
    let ref_ = match declared_ref {
        Some(declared) if is_valid_ref(&declared) => declared,
        Some(declared) => {
            return Err(FieldError::new(
                "ref",
                format!(
                    "pack ref \"{declared}\" contains invalid characters: only lowercase letters, digits and underscores are allowed"
                ),
            ));
        }
        None if is_valid_ref(dir_name) => dir_name.to_string(),
        None if is_valid_ref(&name) => name.clone(),
        None => {
            return Err(FieldError::new(
                "ref",
                format!(
                    "neither the directory name \"{dir_name}\" nor the pack name \"{name}\" is a valid pack ref; set \"ref\" (lowercase letters, digits and underscores)"
                ),
            ));
        }
    };
    if RESERVED_REFS.contains(&ref_.as_str()) {
        return Err(FieldError::new("ref", format!("pack ref \"{ref_}\" is reserved")));
    }
    let description = fields.required_str("description")?;
    let author = fields.required_str("author")?;
    let version = match fields.get("version") {
        None => {
            return Err(FieldError::new("version", "required field \"version\" is missing"));
        }
        Some(Value::String(text)) => text.clone(),
        Some(number @ Value::Number(_)) => {
            warnings
                .push(format!("pack.yaml: version {number} is a number, not a semver string such as \"{number}.0\""));
            number.to_string()
        }
        Some(other) => {
            return Err(FieldError::new(
                "version",
                format!("field \"version\" must be a string, found {}", crate::pack::fields::type_name(other)),
            ));
        }
    };
    if !version.is_empty() && !semver().is_match(&version) && !warnings.iter().any(|w| w.contains("version")) {
        warnings.push(format!("pack.yaml: version \"{version}\" is not semver (MAJOR.MINOR.PATCH)"));
    }
    let unknown = fields.unknown_keys(KNOWN_FIELDS);
    if !unknown.is_empty() {
        warnings.push(format!("pack.yaml: unknown fields ignored: {}", unknown.join(", ")));
    }
    Ok(PackMeta {
        ref_,
        name,
        description,
        version,
        author,
        email: fields.text("email")?,
        keywords: fields.string_list("keywords")?,
        dependencies: fields.string_list("dependencies")?,
        raw: doc.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(doc: Value, dir: &str) -> (Result<PackMeta, FieldError>, Vec<String>) {
        let mut warnings = Vec::new();
        (pack_meta(&doc, dir, &mut warnings), warnings)
    }

    fn base() -> Value {
        json!({"name": "Nice Pack", "description": "d", "version": "1.0.0", "author": "a"})
    }

    #[test]
    fn ref_comes_from_ref_then_directory_then_name() {
        let mut doc = base();
        doc["ref"] = json!("explicit");
        assert_eq!(meta(doc, "dir").0.expect("valid").ref_, "explicit");
        assert_eq!(meta(base(), "my_dir").0.expect("valid").ref_, "my_dir");
        let mut doc = base();
        doc["name"] = json!("by_name");
        assert_eq!(meta(doc, "Bad-Dir").0.expect("valid").ref_, "by_name");
        assert_eq!(meta(base(), "Bad-Dir").0.expect_err("no valid ref").field, "ref");
    }

    #[test]
    fn invalid_and_reserved_refs_fail() {
        for bad in ["Upper", "has-dash", "dot.ted", "../etc", "_global"] {
            let mut doc = base();
            doc["ref"] = json!(bad);
            assert!(meta(doc, "dir").0.is_err(), "{bad}");
        }
    }

    #[test]
    fn required_fields_fail_when_missing() {
        for field in ["name", "description", "author", "version"] {
            let mut doc = base();
            doc.as_object_mut().expect("mapping").remove(field);
            assert_eq!(meta(doc, "dir").0.expect_err(field).field, field);
        }
    }

    #[test]
    fn tolerated_problems_are_warnings() {
        let mut doc = base();
        doc["version"] = json!(0.1);
        doc["homepage"] = json!("x");
        let (result, warnings) = meta(doc, "dir");
        assert_eq!(result.expect("loads").version, "0.1");
        assert_eq!(warnings.len(), 2, "{warnings:?}");
    }
}
