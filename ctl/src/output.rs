//! Printing answers: JSON documents, listings as tables, one resource as a property table; and
//! the one way anything reaches stdout (`out!`, `outln!`): when the reader goes away
//! (`st2ctl -j execution list | head -1`), the command ends quietly with status 0.
//!
//! Owns: the choice between JSON and tables, the empty-listing line, the pack problem lines, and
//! what a failed write to stdout does. Must not: issue RPCs, convert proto messages (`json`
//! does) or draw tables (`table` does).

use std::fmt;
use std::io::{self, Write};

use serde_json::Value;
use st2d_proto::v1 as pb;

use crate::table;

/// `print!` for the CLI's output: through `write_out`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!($($arg)*))
    };
}

/// `println!` for the CLI's output: through `write_out`.
macro_rules! outln {
    () => {
        $crate::output::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {out, outln};

/// Writes to stdout. Rust ignores SIGPIPE, so a write to a pipe whose reader has gone fails
/// with `BrokenPipe`, where `print!` panics: that ends the command at once with status 0, as
/// the reader asked for no more. Any other failure ends it with a line on stderr and status 1.
pub(crate) fn write_out(args: fmt::Arguments<'_>) {
    match io::stdout().lock().write_fmt(args) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(error) => {
            eprintln!("cannot write to stdout: {error}");
            std::process::exit(1);
        }
    }
}

/// Prints `value` as pretty JSON (2-space indent).
pub fn print_json(value: &Value) {
    outln!("{}", to_pretty(value));
}

fn to_pretty(value: &Value) -> String {
    // A `Value` has string keys only, so serializing it cannot fail.
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A listing: a JSON array with `-j`, else a table of `columns` (or `No KIND found.`).
pub fn print_list(kind: &str, columns: &[&str], rows: impl Iterator<Item = Value>, as_json: bool) {
    out!("{}", list_text(kind, columns, rows.collect(), as_json));
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
        out!("{}", table::properties(value));
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
    out!("{}", table::properties(&value));
    out!("{}", pack_problems(pack));
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

    /// Set for the child process of `a_reader_that_goes_away_ends_the_output_quietly`.
    const PRINT_BIG_LISTING: &str = "ST2CTL_TEST_PRINT_BIG_LISTING";

    /// The child process of the test below (this test binary again): prints a JSON listing far
    /// bigger than a pipe's buffer, as `st2ctl -j execution list` does. Nothing in a normal run.
    #[test]
    fn print_a_big_listing_when_asked() {
        if std::env::var_os(PRINT_BIG_LISTING).is_some() {
            let rows = (0..50_000).map(|n| json!({"id": n, "status": "succeeded"}));
            print_list("executions", &["id", "status"], rows, true);
        }
    }

    /// `st2ctl -j execution list | head -1`: the reader takes a line and goes; the command ends
    /// with status 0 and says nothing (`print!` panicked: "failed printing to stdout").
    #[test]
    #[allow(clippy::disallowed_methods)] // this test binary again, as the process under test
    fn a_reader_that_goes_away_ends_the_output_quietly() {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().expect("the test binary has a path");
        let mut child = Command::new(exe)
            .args(["--exact", "output::tests::print_a_big_listing_when_asked", "--nocapture", "--test-threads=1"])
            .env(PRINT_BIG_LISTING, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the test binary runs");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = io::BufReader::new(stdout).lines();
        let started = lines.any(|line| line.is_ok_and(|line| line.contains("\"succeeded\"")));
        // The rest of the listing does not fit in the pipe: the child is writing when it closes.
        drop(lines);
        let output = child.wait_with_output().expect("the child ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(started, "the listing never started: {stderr}");
        assert!(output.status.success(), "{}: {stderr}", output.status);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

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
