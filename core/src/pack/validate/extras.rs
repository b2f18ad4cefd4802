//! Action aliases and policies: what their files must hold.
//!
//! Owns: what makes an alias or policy file valid, and the normal form of an alias's formats.
//! Must not: match commands against formats (the `alias` module does) or interpret policies.

use serde_json::Value;

use super::{FileCtx, check_pack_field};
use crate::pack::fields::{FieldError, Fields};
use crate::pack::model::{Alias, AliasFormat, Policy, resource_ref};

/// Validates one `aliases/*.yaml` file.
pub fn alias(doc: &Value, ctx: &FileCtx<'_>) -> Result<Alias, FieldError> {
    let fields = Fields::new(doc, "")?;
    check_pack_field(&fields, ctx)?;
    let name = fields.required_str("name")?;
    let action_ref = fields.required_str("action_ref")?;
    let (formats, formats_raw) = match fields.get("formats") {
        None | Some(Value::Null) => (Vec::new(), Value::Array(Vec::new())),
        Some(Value::Array(items)) => {
            let formats = items.iter().enumerate().map(|(i, item)| alias_format(i, item)).collect::<Result<_, _>>()?;
            (formats, Value::Array(items.clone()))
        }
        Some(_) => {
            return Err(FieldError::new("formats", "field \"formats\" must be a list"));
        }
    };
    let object = |name: &str| -> Result<Value, FieldError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(Value::Null),
            Some(value @ Value::Object(_)) => Ok(value.clone()),
            Some(_) => Err(FieldError::new(name, format!("field \"{name}\" must be a mapping"))),
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
        formats_raw,
        ack: object("ack")?,
        result: object("result")?,
        extra: object("extra")?,
        immutable_parameters: fields.mapping("immutable_parameters")?,
        metadata_file: ctx.file.to_string(),
    })
}

/// One entry of `formats`, as StackStorm's `normalise_alias_format_string` reads it.
fn alias_format(index: usize, item: &Value) -> Result<AliasFormat, FieldError> {
    let field = format!("formats[{index}]");
    let text = |value: &Value, name: &str| -> Result<String, FieldError> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| FieldError::new(&field, format!("field \"{field}.{name}\" must be a string")))
    };
    match item {
        Value::String(format) => Ok(AliasFormat {
            display: Some(format.clone()),
            representations: vec![format.clone()],
            match_multiple: false,
        }),
        Value::Object(map) => {
            let display = match map.get("display") {
                None | Some(Value::Null) => None,
                Some(value) => Some(text(value, "display")?),
            };
            let representations = match map.get("representation") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(one)) => vec![one.clone()],
                Some(Value::Array(items)) => {
                    items.iter().map(|item| text(item, "representation")).collect::<Result<_, _>>()?
                }
                Some(_) => {
                    return Err(FieldError::new(&field, format!("field \"{field}.representation\" must be a list")));
                }
            };
            let match_multiple = match map.get("match_multiple") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(flag)) => *flag,
                Some(_) => {
                    return Err(FieldError::new(&field, format!("field \"{field}.match_multiple\" must be a boolean")));
                }
            };
            Ok(AliasFormat { display, representations, match_multiple })
        }
        _ => Err(FieldError::new(&field, format!("field \"{field}\" must be a string or a mapping"))),
    }
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
        assert_eq!(alias.format_strings(), vec!["greet {{name}}", "hi {{name}}", "hello"]);
        assert_eq!(alias.formats[1].display.as_deref(), Some("hi"));
        let doc = json!({"name": "x", "action_ref": "demo.x", "formats": [{"display": "only"}, 3]});
        assert_eq!(super::alias(&doc, &ctx()).expect_err("a number").field, "formats[1]");
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
