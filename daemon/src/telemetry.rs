//! Logging: tracing-subscriber to stderr, as text or JSON, filtered by `--log-level`/`RUST_LOG`.
//!
//! Owns: the global subscriber. Must not: be initialised twice (only `main` calls `init`).

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The file watcher's own warnings about directories that vanished (a pack removed while it
/// was watched) are noise: st2d rescans on every such event anyway.
const QUIET: &str = "notify=error,notify_debouncer_full=error";

/// Installs the global subscriber; the default filter is `info`.
pub fn init(format: LogFormat, level: Option<&str>) {
    let given = level.map(String::from).or_else(|| std::env::var("RUST_LOG").ok()).unwrap_or_else(|| "info".into());
    let directives = if given.contains("notify") { given } else { format!("{given},{QUIET}") };
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET}")));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}
