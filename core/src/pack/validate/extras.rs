//! Action aliases and policies: parsed and listed, not yet enforced.
//!
//! Owns: what makes an alias or policy file valid. Must not: interpret formats or policies.

use serde_json::Value;

use super::{FileCtx, check_pack_field};
use crate::pack::fields::{FieldError, Fields};
use crate::pack::model::{Alias, Policy, resource_ref};

/// Validates one `aliases/*.yaml` file.
pub fn alias(doc: &Value, ctx: &FileCtx<'_>) -> Result<Alias, FieldError> {
    let fields = Fields::new(doc, "")?;
    check_pack_field(&fields, ctx)?;
    let name = fields.required_str("name")?;
    let action_ref = fields.required_str("action_ref")?;
    // A format is a string, or `{display, representation: [...]}`.
    let formats = match fields.get("formats") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .flat_map(|item| match item {
                Value::String(s) => vec![s.clone()],
                Value::Object(map) => match map.get("representation") {
                    Some(Value::Array(reps)) => reps.iter().filter_map(|r| r.as_str().map(String::from)).collect(),
                    _ => map.get("display").and_then(Value::as_str).map(String::from).into_iter().collect(),
                },
                _ => Vec::new(),
            })
            .collect(),
        Some(_) => {
            return Err(FieldError::new("formats", "field \"formats\" must be a list"));
        }
    };
    Ok(Alias {
        ref_: resource_ref(ctx.pack, &name),
        pack: ctx.pack.to_string(),
        name,
        description: fields.text("description")?,
        enabled: fields.bool_or("enabled", true)?,
        action_ref,
        formats,
        metadata_file: ctx.file.to_string(),
    })
}

/// Validates one `policies/*.yaml` file.
pub fn policy(doc: &Value, ctx: &FileCtx<'_>) -> Result<Policy, FieldError> {
    let fields = Fields::new(doc, "")?;
    check_pack_field(&fields, ctx)?;
    let name = fields.required_str("name")?;
    Ok(Policy {
        ref_: resource_ref(ctx.pack, &name),
        pack: ctx.pack.to_string(),
        name,
        description: fields.text("description")?,
        enabled: fields.bool_or("enabled", true)?,
        resource_ref: fields.required_str("resource_ref")?,
        policy_type: fields.required_str("policy_type")?,
        parameters: Value::Object(fields.mapping("parameters")?),
        metadata_file: ctx.file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn ctx() -> FileCtx<'static> {
        FileCtx { pack: "demo", pack_dir: Path::new("/p"), file: "aliases/a.yaml" }
    }

    #[test]
    fn aliases_list_their_formats() {
        let doc = json!({"name": "greet", "action_ref": "demo.greet",
            "formats": ["greet {{name}}", {"display": "hi", "representation": ["hi {{name}}", "hello"]}]});
        let alias = alias(&doc, &ctx()).expect("valid");
        assert_eq!(alias.formats, vec!["greet {{name}}", "hi {{name}}", "hello"]);
        assert_eq!(super::alias(&json!({"name": "x"}), &ctx()).expect_err("no action").field, "action_ref");
    }

    #[test]
    fn policies_need_a_resource_and_a_type() {
        let doc = json!({"name": "retry", "resource_ref": "core.http", "policy_type": "action.retry",
            "parameters": {"retry_on": "timeout", "max_retry_count": 2}});
        assert_eq!(policy(&doc, &ctx()).expect("valid").policy_type, "action.retry");
        let doc = json!({"name": "retry", "resource_ref": "core.http"});
        assert_eq!(policy(&doc, &ctx()).expect_err("no type").field, "policy_type");
    }
}
