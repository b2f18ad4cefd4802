//! Sensor metadata and trigger types (ST2-COMPAT.md 3.1, 4.1): `sensors/*.yaml` with their
//! `trigger_types`, and standalone `triggers/*.yaml`.
//!
//! Owns: what makes a sensor or trigger type file valid. Must not: check that the sensor's
//! Python file exists (the sensor supervisor reports that when it starts the sensor).

use std::path::Path;

use serde_json::Value;

use super::{FileCtx, check_pack_field};
use crate::pack::fields::{FieldError, Fields};
use crate::pack::model::{Sensor, TriggerType, resource_ref};

/// StackStorm refuses shorter poll intervals at registration.
const MIN_POLL_INTERVAL: f64 = 4.0;

const TRIGGER_TYPE_FIELDS: &[&str] = &[
    "name",
    "pack",
    "description",
    "payload_schema",
    "parameters_schema",
    "tags",
    "metadata_file",
    "ref",
    "uid",
    "id",
];

/// Validates one sensor file: the sensor and the trigger types it declares.
pub fn sensor(doc: &Value, ctx: &FileCtx<'_>) -> Result<(Sensor, Vec<TriggerType>), FieldError> {
    let fields = Fields::new(doc, "")?;
    check_pack_field(&fields, ctx)?;
    let class_name = fields.required_str("class_name")?;
    let entry_point = fields.required_str("entry_point")?;
    let poll_interval = fields.optional_number("poll_interval")?;
    if let Some(interval) = poll_interval.filter(|i| *i < MIN_POLL_INTERVAL) {
        return Err(FieldError::new(
            "poll_interval",
            format!("poll_interval {interval} is below the minimum of {MIN_POLL_INTERVAL} seconds"),
        ));
    }
    let mut trigger_types = Vec::new();
    match fields.get("trigger_types") {
        None => {}
        Some(Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                trigger_types.push(trigger_type_at(item, ctx, &format!("trigger_types[{index}]"))?);
            }
        }
        Some(other) => {
            return Err(FieldError::new(
                "trigger_types",
                format!("field \"trigger_types\" must be a list, found {}", crate::pack::fields::type_name(other)),
            ));
        }
    }
    let metadata_dir = Path::new(ctx.file).parent().unwrap_or(Path::new(""));
    let sensor = Sensor {
        ref_: resource_ref(ctx.pack, &class_name),
        pack: ctx.pack.to_string(),
        class_name,
        description: fields.text("description")?,
        enabled: fields.bool_or("enabled", true)?,
        entry_point_path: ctx.pack_dir.join(metadata_dir).join(&entry_point),
        entry_point,
        poll_interval,
        trigger_types: trigger_types.iter().map(|t| t.ref_.clone()).collect(),
        metadata_file: ctx.file.to_string(),
    };
    Ok((sensor, trigger_types))
}

/// Validates a standalone trigger type file (`triggers/*.yaml`).
pub fn trigger_type(doc: &Value, ctx: &FileCtx<'_>) -> Result<TriggerType, FieldError> {
    let fields = Fields::new(doc, "")?;
    fields.reject_unknown(TRIGGER_TYPE_FIELDS)?;
    trigger_type_at(doc, ctx, "")
}

fn trigger_type_at(doc: &Value, ctx: &FileCtx<'_>, path: &str) -> Result<TriggerType, FieldError> {
    let fields = Fields::new(doc, path)?;
    if path.is_empty() {
        check_pack_field(&fields, ctx)?;
    }
    let name = fields.required_str("name")?;
    let schema = |key: &str| -> Result<Value, FieldError> {
        Ok(match fields.get(key) {
            None => Value::Object(Default::default()),
            Some(_) => Value::Object(fields.mapping(key)?),
        })
    };
    Ok(TriggerType {
        ref_: resource_ref(ctx.pack, &name),
        pack: ctx.pack.to_string(),
        name,
        description: fields.text("description")?,
        payload_schema: schema("payload_schema")?,
        parameters_schema: schema("parameters_schema")?,
        tags: fields.get("tags").cloned().unwrap_or(Value::Null),
        metadata_file: ctx.file.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> FileCtx<'static> {
        FileCtx { pack: "demo", pack_dir: Path::new("/packs/demo"), file: "sensors/watch.yaml" }
    }

    #[test]
    fn a_sensor_declares_its_trigger_types() {
        let doc = json!({"class_name": "Watch", "entry_point": "watch.py", "poll_interval": 10,
            "trigger_types": [{"name": "changed", "payload_schema": {"type": "object"}}]});
        let (sensor, types) = sensor(&doc, &ctx()).expect("valid");
        assert_eq!(sensor.ref_, "demo.Watch");
        assert_eq!(sensor.entry_point_path, Path::new("/packs/demo/sensors/watch.py"));
        assert_eq!(sensor.trigger_types, vec!["demo.changed"]);
        assert_eq!(types[0].payload_schema["type"], "object");
        assert!(sensor.enabled);
    }

    #[test]
    fn table_of_invalid_sensors_and_the_field_each_names() {
        let cases = [
            (json!({"entry_point": "a.py"}), "class_name"),
            (json!({"class_name": "A"}), "entry_point"),
            (json!({"class_name": "A", "entry_point": "a.py", "poll_interval": 2}), "poll_interval"),
            (json!({"class_name": "A", "entry_point": "a.py", "poll_interval": "often"}), "poll_interval"),
            (json!({"class_name": "A", "entry_point": "a.py", "trigger_types": {"name": "x"}}), "trigger_types"),
            (
                json!({"class_name": "A", "entry_point": "a.py", "trigger_types": [{"description": "x"}]}),
                "trigger_types[0].name",
            ),
            (
                json!({"class_name": "A", "entry_point": "a.py", "trigger_types": [{"name": "x", "payload_schema": []}]}),
                "trigger_types[0].payload_schema",
            ),
        ];
        for (doc, field) in cases {
            assert_eq!(sensor(&doc, &ctx()).expect_err("invalid").field, field, "{doc}");
        }
    }

    #[test]
    fn a_standalone_trigger_type_rejects_unknown_fields() {
        let doc = json!({"name": "event_handler", "pack": "demo", "description": "d"});
        assert_eq!(trigger_type(&doc, &ctx()).expect("valid").ref_, "demo.event_handler");
        let doc = json!({"name": "x", "colour": "red"});
        assert_eq!(trigger_type(&doc, &ctx()).expect_err("unknown").field, "colour");
    }
}
