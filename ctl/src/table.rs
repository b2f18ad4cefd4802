//! ASCII tables in the style of StackStorm's CLI (`+---+` borders), built from JSON objects.
//!
//! Owns: column widths, wrapping and cell rendering. Must not: know the resources' fields
//! beyond the column names it is given.

use serde_json::Value;

/// Cells wider than this wrap onto more lines.
const MAX_WIDTH: usize = 50;

/// Lines of pretty-printed JSON in property tables wider than this wrap, keeping their indent.
const JSON_WIDTH: usize = 80;

/// A cell's text: strings as they are, lists comma-separated, null empty, the rest as JSON.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) if is_scalar_list(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn is_scalar_list(items: &[Value]) -> bool {
    items.iter().all(|i| !i.is_object() && !i.is_array())
}

/// Splits `text` into lines no wider than `width`, at spaces where possible.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split(' ') {
            let mut word = word.to_string();
            while word.chars().count() > width {
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                let head: String = word.chars().take(width).collect();
                word = word.chars().skip(width).collect();
                lines.push(head);
            }
            let needed =
                if line.is_empty() { word.chars().count() } else { line.chars().count() + 1 + word.chars().count() };
            if needed > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&word);
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

/// Wraps one line as `wrap` does, repeating its leading spaces on every line it becomes.
fn wrap_indented(line: &str, width: usize) -> Vec<String> {
    let body = line.trim_start_matches(' ');
    let indent = &line[..line.len() - body.len()];
    // Deep nesting must not leave less than half the width for the text.
    let room = width.saturating_sub(indent.len()).max(width / 2);
    wrap(body, room).into_iter().map(|part| format!("{indent}{part}")).collect()
}

/// Renders rows (as JSON objects) under `columns` (field names, also the headers).
pub fn render(columns: &[&str], rows: &[Value]) -> String {
    let cells: Vec<Vec<Vec<String>>> =
        rows.iter().map(|row| columns.iter().map(|c| wrap_indented(&cell(&row[*c]), MAX_WIDTH)).collect()).collect();
    let header: Vec<Vec<String>> = columns.iter().map(|c| vec![(*c).to_string()]).collect();
    render_cells(&header, &cells)
}

/// A two-column property table for one object, its fields in order.
pub fn properties(object: &Value) -> String {
    let Value::Object(map) = object else {
        return cell(object);
    };
    let header = vec![vec!["Property".to_string()], vec!["Value".to_string()]];
    let rows: Vec<Vec<Vec<String>>> = map
        .iter()
        .map(|(key, value)| {
            let text = cell(value);
            let lines = match value {
                // A short list of scalars stays on one line; a long one (log lines) gets one each.
                Value::Array(items) if is_scalar_list(items) && text.chars().count() > MAX_WIDTH => {
                    items.iter().flat_map(|item| wrap_indented(&cell(item), JSON_WIDTH)).collect()
                }
                Value::Array(items) if is_scalar_list(items) => vec![text],
                Value::Array(_) | Value::Object(_) => {
                    text.lines().flat_map(|line| wrap_indented(line, JSON_WIDTH)).collect()
                }
                _ => wrap(&text, MAX_WIDTH),
            };
            vec![vec![key.clone()], lines]
        })
        .collect();
    render_cells(&header, &rows)
}

fn render_cells(header: &[Vec<String>], rows: &[Vec<Vec<String>>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            std::iter::once(&header[i])
                .chain(rows.iter().map(|r| &r[i]))
                .flat_map(|lines| lines.iter().map(|l| l.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let border: String = widths.iter().map(|w| format!("+{}", "-".repeat(w + 2))).collect::<String>() + "+\n";
    let mut out = border.clone();
    out.push_str(&line_block(header, &widths));
    out.push_str(&border);
    for row in rows {
        out.push_str(&line_block(row, &widths));
    }
    out.push_str(&border);
    out
}

fn line_block(row: &[Vec<String>], widths: &[usize]) -> String {
    let height = row.iter().map(Vec::len).max().unwrap_or(1);
    let mut out = String::new();
    for line in 0..height {
        for (cell, width) in row.iter().zip(widths) {
            let text = cell.get(line).map(String::as_str).unwrap_or("");
            let pad = width - text.chars().count();
            out.push_str(&format!("| {text}{} ", " ".repeat(pad)));
        }
        out.push_str("|\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_have_borders_headers_and_aligned_cells() {
        let rows = [json!({"ref": "a.b", "enabled": true}), json!({"ref": "long.name", "enabled": false})];
        let table = render(&["ref", "enabled"], &rows);
        let expected = "\
+-----------+---------+
| ref       | enabled |
+-----------+---------+
| a.b       | true    |
| long.name | false   |
+-----------+---------+
";
        assert_eq!(table, expected);
    }

    #[test]
    fn long_cells_wrap_at_spaces() {
        let text = "word ".repeat(30);
        let lines = wrap(text.trim(), 50);
        assert!(lines.iter().all(|l| l.chars().count() <= 50), "{lines:?}");
        assert_eq!(lines.join(" "), text.trim());
        assert_eq!(wrap(&"x".repeat(120), 50).len(), 3, "a word longer than the width is cut");
    }

    #[test]
    fn json_lines_wrap_under_their_indent() {
        let line = format!("    \"description\": \"{}\"", "word ".repeat(30).trim());
        let lines = wrap_indented(&line, 40);
        assert!(lines.len() > 1, "{lines:?}");
        for part in &lines {
            assert!(part.starts_with("    ") && !part.starts_with("     "), "{part:?}");
            assert!(part.chars().count() <= 40, "{part:?}");
        }
        assert_eq!(wrap_indented("  short", 40), ["  short"]);
        let table = properties(&json!({"metadata": {"description": "word ".repeat(40)}}));
        assert!(table.lines().all(|l| l.chars().count() <= JSON_WIDTH + 20), "{table}");
    }

    #[test]
    fn long_lists_get_a_line_per_item_in_property_tables() {
        let table = properties(&json!({
            "trigger_types": ["a.b", "c.d"],
            "stderr_tail": ["Traceback (most recent call last):", "  File \"x.py\", line 1", "Error: ".repeat(8)],
        }));
        assert!(table.contains("| trigger_types | a.b, c.d "), "{table}");
        assert!(table.contains("| stderr_tail   | Traceback (most recent call last): "), "{table}");
        assert!(table.contains("|               |   File \"x.py\", line 1 "), "{table}");
    }

    #[test]
    fn cells_render_lists_and_nulls() {
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        assert_eq!(cell(&Value::Null), "");
        assert_eq!(cell(&json!(3)), "3");
    }

    #[test]
    fn property_tables_list_fields_in_order() {
        let table = properties(&json!({"ref": "a.b", "parameters": {"x": 1}}));
        let ref_line = table.find("| ref").expect("ref row");
        let params_line = table.find("| parameters").expect("parameters row");
        assert!(ref_line < params_line);
        assert!(table.contains("\"x\": 1"));
    }
}
