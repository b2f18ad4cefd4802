//! The text of `status` and `reload`: the daemon's state and a reload's outcome.
//!
//! Owns: how status and reload reports read. Must not: issue RPCs.

use st2d_proto::v1 as pb;

use crate::json;
use crate::output::{outln, print_json};

pub fn print_status(status: &pb::Status, as_json: bool) {
    if as_json {
        print_json(&json::status(status));
        return;
    }
    outln!("st2d {} (pid {}), up {}", status.version, status.pid, uptime(status.uptime_seconds));
    outln!("socket: {}", status.socket);
    outln!("packs dirs: {}", status.packs_dirs.join(", "));
    if !status.action_user.is_empty() {
        outln!("actions and sensors run as: {}", status.action_user);
    }
    outln!(
        "loaded: {} packs ({} with errors), {} actions, {} trigger types, {} rules, {} sensors ({} running)",
        status.packs_loaded,
        status.packs_with_errors,
        status.actions,
        status.trigger_types,
        status.rules,
        status.sensors,
        status.sensors_running
    );
    outln!("dispatches: {} accepted, {} dropped", status.dispatches_accepted, status.dispatches_dropped);
    for warm in &status.warm_interpreters {
        outln!(
            "warm python for {}: {} {} (pid {}), {} forks, {} restarts",
            warm.kind,
            warm.python,
            warm.state,
            warm.pid,
            warm.forks,
            warm.restarts
        );
        if !warm.pack.is_empty() {
            let plural = if warm.preloaded == 1 { "" } else { "s" };
            outln!("  preloads pack {}: {} action module{plural} imported", warm.pack, warm.preloaded);
        }
    }
    if let Some(report) = &status.last_reload {
        outln!(
            "last reload: generation {} by {} at {}, {:.1} ms, {} problems",
            report.generation,
            report.trigger,
            report.finished_at,
            report.duration_micros as f64 / 1000.0,
            report.problems.len()
        );
    }
}

fn uptime(seconds: u64) -> String {
    let (days, hours, minutes, seconds) = (seconds / 86400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds}s"),
        (0, _, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

pub fn print_reload(report: &pb::ReloadReport, as_json: bool) {
    if as_json {
        print_json(&json::reload_report(report));
        return;
    }
    outln!(
        "reloaded (generation {}) in {:.1} ms: {} packs, {} actions, {} trigger types, {} rules, {} sensors",
        report.generation,
        report.duration_micros as f64 / 1000.0,
        report.packs_loaded,
        report.actions,
        report.trigger_types,
        report.rules,
        report.sensors
    );
    for (what, packs) in
        [("added", &report.packs_added), ("removed", &report.packs_removed), ("changed", &report.packs_changed)]
    {
        if !packs.is_empty() {
            outln!("{what}: {}", packs.join(", "));
        }
    }
    if !report.problems.is_empty() {
        outln!("{} problems:", report.problems.len());
        for problem in &report.problems {
            outln!("  {problem}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_reads_naturally() {
        assert_eq!(uptime(5), "5s");
        assert_eq!(uptime(65), "1m 5s");
        assert_eq!(uptime(3 * 3600 + 120), "3h 2m");
        assert_eq!(uptime(2 * 86400 + 3600), "2d 1h");
    }
}
