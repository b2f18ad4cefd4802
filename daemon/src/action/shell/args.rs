//! The command line of a local-shell-script action (ST2-COMPAT.md 2.4): named arguments
//! (`<kwarg_op><name>=<value>`) then positional ones (by `position`), each shell-quoted, after
//! the script path; and the `sudo` wrapping both local runners share.
//!
//! Owns: argument serialisation and quoting. Must not: run anything.

use serde_json::{Map, Value};

use st2d_core::pyfmt::{json_dumps, py_str, shell_quote};

/// A positional argument as StackStorm serialises it, by the parameter's declared `type`.
pub fn positional_value(param_type: Option<&str>, value: &Value) -> String {
    let truthy = st2d_core::pyfmt::truthy(value);
    match param_type {
        Some("string" | "number") if value.is_null() => String::new(),
        Some("string" | "number") => py_str(value),
        Some("boolean") => match value {
            Value::Null => String::new(),
            _ if truthy => "1".to_string(),
            _ => "0".to_string(),
        },
        Some("array") => match value {
            Value::Array(items) => items.iter().map(py_str).collect::<Vec<_>>().join(","),
            _ if truthy => py_str(value),
            _ => String::new(),
        },
        Some("object") if truthy => json_dumps(value),
        // Everything else, integers included: the text when truthy, so `0` gives "".
        _ if truthy => py_str(value),
        _ => String::new(),
    }
}

/// `<named args> <positional args>` for the script, from the action's parameter `schema` and the
/// resolved action parameters `params`.
pub fn script_arguments(schema: &Map<String, Value>, params: &Map<String, Value>, kwarg_op: &str) -> String {
    let mut positional: Vec<(f64, &String, Option<&str>)> = schema
        .iter()
        .filter_map(|(name, spec)| {
            let position = spec.get("position")?.as_f64()?;
            Some((position, name, spec.get("type").and_then(Value::as_str)))
        })
        .collect();
    positional.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut parts = Vec::new();
    for (name, value) in params {
        if positional.iter().any(|(_, positional, _)| *positional == name) {
            continue;
        }
        let arg = format!("{kwarg_op}{name}");
        match value {
            Value::Null | Value::Bool(false) => {}
            Value::String(text) if text.is_empty() => {}
            Value::Bool(true) => parts.push(arg),
            other => parts.push(format!("{}={}", shell_quote(&arg), shell_quote(&py_str(other)))),
        }
    }
    for (_, name, param_type) in positional {
        let value = params.get(name.as_str()).unwrap_or(&Value::Null);
        parts.push(shell_quote(&positional_value(param_type, value)));
    }
    parts.join(" ")
}

/// The shell line that runs `command`: as it is, or under `sudo -E -- bash -c '<command>'`
/// (`-S` first when a password is fed on stdin).
pub fn wrap_sudo(command: &str, sudo: bool, with_password: bool) -> String {
    if !sudo {
        return command.to_string();
    }
    let flags = if with_password { "-S -E" } else { "-E" };
    format!("sudo {flags} -- bash -c {}", shell_quote(command))
}

/// The shell line of a script run: the quoted path, then the arguments; under sudo the whole
/// line is quoted once more inside `bash -c`.
pub fn script_line(script: &str, arguments: &str, sudo: bool, with_password: bool) -> String {
    if sudo {
        let inner = if arguments.is_empty() { script.to_string() } else { format!("{script} {arguments}") };
        return wrap_sudo(&inner, true, with_password);
    }
    let script = shell_quote(script);
    if arguments.is_empty() { script } else { format!("{script} {arguments}") }
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
