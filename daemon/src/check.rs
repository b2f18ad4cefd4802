//! `st2d check`: loads the packs directories once, prints a report per pack, and says whether
//! every pack and file loaded.
//!
//! Owns: the report's wording. Must not: start anything, write to the store, or write files.

use std::fmt::Write;

use crate::config::Paths;
use crate::pack::builtin::BUILTIN_PACKS;
use crate::registry::build::{Dirty, Scanner};

/// The report, and whether anything failed.
pub fn check(paths: &Paths) -> (String, bool) {
    let mut scanner = Scanner::new(Vec::new(), paths.packs_dirs.clone(), paths.config_dir.clone());
    let scan = scanner.scan(&Dirty::All);
    let mut out = String::new();
    let mut failed_files = 0usize;
    let mut failed_packs = 0usize;
    for pack in &scan.packs {
        let status = match (&pack.content, &pack.pack_error) {
            (_, Some(_)) => "FAILED",
            (Some(content), None) if !content.errors.is_empty() => "errors",
            _ => "ok",
        };
        let _ = write!(out, "{} ({}): {status}", pack.ref_, pack.dir.display());
        if let Some(content) = &pack.content {
            let _ = write!(
                out,
                ": {} actions, {} sensors, {} trigger types, {} rules, {} aliases, {} policies",
                content.actions.len(),
                content.sensors.len(),
                content.trigger_types.len(),
                content.rules.len(),
                content.aliases.len(),
                content.policies.len()
            );
        }
        out.push('\n');
        if BUILTIN_PACKS.contains(&pack.ref_.as_str()) {
            let _ =
                writeln!(out, "  note: the daemon's built-in {} pack takes precedence over this directory", pack.ref_);
        }
        if let Some(error) = &pack.pack_error {
            failed_packs += 1;
            let _ = writeln!(out, "  error: {error}");
        }
        if let Some(content) = &pack.content {
            for warning in &content.warnings {
                let _ = writeln!(out, "  warning: {warning}");
            }
            for error in &content.errors {
                failed_files += 1;
                let _ = writeln!(out, "  error: {error} (skipped)");
            }
        }
        for note in &pack.notes {
            let _ = writeln!(out, "  warning: {note}");
        }
    }
    for problem in &scan.problems {
        let _ = writeln!(out, "warning: {problem}");
    }
    let dirs: Vec<String> = paths.packs_dirs.iter().map(|d| d.display().to_string()).collect();
    let _ = writeln!(
        out,
        "{} packs in {}: {failed_packs} failed, {failed_files} files skipped",
        scan.packs.len(),
        dirs.join(", ")
    );
    (out, failed_packs + failed_files > 0)
}
