//! Printing answers: JSON documents, listings as tables, one resource as a property table.
//!
//! Owns: the choice between JSON and tables, the empty-listing line and the pack problem lines.
//! Must not: issue RPCs, convert proto messages (`json` does) or draw tables (`table` does).

use serde_json::Value;
use st2d_proto::v1 as pb;

use crate::table;

/// Prints `value` as pretty JSON (2-space indent).
pub fn print_json(value: &Value) {
    println!("{}", to_pretty(value));
}

fn to_pretty(value: &Value) -> String {
    // A `Value` has string keys only, so serializing it cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A listing: a JSON array with `-j`, else a table of `columns` (or `No KIND found.`).
pub fn print_list(kind: &str, columns: &[&str], rows: impl Iterator<Item = Value>, as_json: bool) {
    print!("{}", list_text(kind, columns, rows.collect(), as_json));
}

fn list_text(kind: &str, columns: &[&str], mut rows: Vec<Value>, as_json: bool) -> String {
    if as_json {
        return to_pretty(&Value::Array(rows)) + "\n";
    }
    if rows.is_empty() {
        return format!("No {kind} found.\n");
    }
    rows.iter_mut().for_each(count_problems);
    table::render(columns, &rows)
}

/// One resource: a JSON object with `-j`, else a property table.
pub fn print_one(value: &Value, as_json: bool) {
    if as_json {
        print_json(value);
    } else {
        print!("{}", table::properties(value));
    }
}

/// One pack: as `print_one`, but the table counts errors and warnings, which follow it as
/// `error: file:line: message` and `warning: ...` lines.
pub fn print_pack(pack: &pb::Pack, value: Value, as_json: bool) {
    if as_json {
        print_json(&value);
        return;
    }
    let mut value = value;
    count_problems(&mut value);
    print!("{}", table::properties(&value));
    print!("{}", pack_problems(pack));
}

/// Replaces a pack's `errors` and `warnings` lists by their lengths, keeping the field order.
fn count_problems(row: &mut Value) {
    for field in ["errors", "warnings"] {
        if let Some(list) = row.get_mut(field)
            && let Some(len) = list.as_array().map(Vec::len)
        {
            *list = Value::from(len);
        }
    }
}

fn pack_problems(pack: &pb::Pack) -> String {
    let mut out = String::new();
    for error in &pack.errors {
        let line = if error.line > 0 { format!(":{}", error.line) } else { String::new() };
        let kept = if error.kept_last_good { " (the last good version stays live)" } else { "" };
        out.push_str(&format!("error: {}{line}: {}{kept}\n", error.file, error.message));
    }
    for warning in &pack.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_listings_say_so() {
        assert_eq!(list_text("rules", &["ref"], vec![], false), "No rules found.\n");
        assert_eq!(list_text("rules", &["ref"], vec![], true), "[]\n");
    }

    #[test]
    fn json_listings_are_indented_arrays() {
        let text = list_text("rules", &["ref"], vec![json!({"ref": "a.b"})], true);
        assert_eq!(text, "[\n  {\n    \"ref\": \"a.b\"\n  }\n]\n");
    }

    #[test]
    fn pack_tables_count_errors_in_place() {
        let mut row = json!({"ref": "demo", "errors": [{"file": "a"}], "warnings": [], "x": 1});
        count_problems(&mut row);
        assert_eq!(row, json!({"ref": "demo", "errors": 1, "warnings": 0, "x": 1}));
        let keys: Vec<&String> = row.as_object().expect("an object").keys().collect();
        assert_eq!(keys, ["ref", "errors", "warnings", "x"]);
    }

    #[test]
    fn pack_problems_omit_unknown_lines() {
        let pack = pb::Pack {
            errors: vec![
                pb::ContentError {
                    file: "actions/a.yaml".into(),
                    line: 3,
                    message: "bad".into(),
                    kept_last_good: false,
                },
                pb::ContentError { file: "pack.yaml".into(), line: 0, message: "worse".into(), kept_last_good: true },
            ],
            warnings: vec!["odd".into()],
            ..Default::default()
        };
        assert_eq!(
            pack_problems(&pack),
            "error: actions/a.yaml:3: bad\n\
             error: pack.yaml: worse (the last good version stays live)\n\
             warning: odd\n"
        );
    }
}
