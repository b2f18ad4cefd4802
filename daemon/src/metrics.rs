//! The daemon's counters and their Prometheus text page (`GET /metrics` on the HTTP ingress).
//!
//! Counters of events (trigger instances, rule matches, execution statuses, action durations,
//! reloads, HTTP answers) are process-wide atomics in [`METRICS`], bumped by the part that owns
//! each event; figures that are state (sensor states, executions in flight) are read from
//! their owners when the page is rendered.
//!
//! Owns: the metric names, help texts and the exposition format. Must not: lock, allocate or
//! block on the paths that bump a counter, or decide anything from a counter's value.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use st2d_core::status::ExecutionStatus;

/// Every metric of the daemon; one instance, [`METRICS`].
pub struct Metrics {
    /// Trigger instances written to the journal.
    pub trigger_instances_received: AtomicU64,
    /// Dispatches refused because the trigger is unknown or the payload fails its schema.
    pub trigger_instances_invalid: AtomicU64,
    /// Dispatches accepted for the journal that could not be written.
    pub trigger_instances_unwritten: AtomicU64,
    /// Trigger instances the rules engine has processed.
    pub trigger_instances_processed: AtomicU64,
    /// Trigger instances and API executions refused at intake (backlog, queue, disk).
    pub intake_refused: AtomicU64,
    /// Rules whose criteria matched an instance (one per enforcement).
    pub rules_matched: AtomicU64,
    /// Enforcements recorded failed (a criterion or a parameter did not work out).
    pub enforcements_failed: AtomicU64,
    /// Executions that reached each status, indexed as [`ExecutionStatus::ALL`].
    executions: [AtomicU64; ExecutionStatus::ALL.len()],
    /// How long actions ran, from start to result.
    pub action_duration: Histogram,
    pub reloads_clean: AtomicU64,
    pub reloads_with_problems: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub reload_duration: Histogram,
    /// HTTP answers of the ingress, indexed as [`HTTP_CODES`] (the last slot counts any other).
    http_answers: [AtomicU64; HTTP_CODES.len() + 1],
    /// gRPC calls on a TCP listener refused for a missing or wrong bearer token.
    pub grpc_unauthenticated: AtomicU64,
    /// Python runs forked from a warm interpreter, and those started cold.
    python_starts_warm: AtomicU64,
    python_starts_cold: AtomicU64,
}

/// The process-wide metrics.
pub static METRICS: Metrics = Metrics::new();

/// Status codes counted one by one; anything else is counted as `other`.
const HTTP_CODES: [u16; 9] = [200, 202, 400, 401, 404, 405, 413, 415, 503];

/// Upper bounds, in seconds, of the action duration buckets.
const ACTION_BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 300.0, 1800.0];

/// Upper bounds, in seconds, of the reload duration buckets.
const RELOAD_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0];

/// A histogram with fixed buckets: counts per bucket (not cumulative), their sum and count.
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; 16],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn new(bounds: &'static [f64]) -> Self {
        assert!(bounds.len() < 16, "a histogram has at most 15 bounds");
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; 16],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let slot = self.bounds.iter().position(|bound| seconds <= *bound).unwrap_or(self.bounds.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, page: &mut Page, name: &str, help: &str) {
        page.header(name, help, "histogram");
        let mut cumulative = 0;
        for (slot, bound) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[slot].load(Ordering::Relaxed);
            let _ = writeln!(page.text, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(page.text, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(page.text, "{name}_sum {sum}");
        let _ = writeln!(page.text, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

impl Metrics {
    const fn new() -> Self {
        Self {
            trigger_instances_received: AtomicU64::new(0),
            trigger_instances_invalid: AtomicU64::new(0),
            trigger_instances_unwritten: AtomicU64::new(0),
            trigger_instances_processed: AtomicU64::new(0),
            intake_refused: AtomicU64::new(0),
            rules_matched: AtomicU64::new(0),
            enforcements_failed: AtomicU64::new(0),
            executions: [const { AtomicU64::new(0) }; ExecutionStatus::ALL.len()],
            action_duration: Histogram::new(&ACTION_BUCKETS),
            reloads_clean: AtomicU64::new(0),
            reloads_with_problems: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
            reload_duration: Histogram::new(&RELOAD_BUCKETS),
            http_answers: [const { AtomicU64::new(0) }; HTTP_CODES.len() + 1],
            grpc_unauthenticated: AtomicU64::new(0),
            python_starts_warm: AtomicU64::new(0),
            python_starts_cold: AtomicU64::new(0),
        }
    }

    /// Counts a python run started warm (forked) or cold (a new interpreter).
    pub fn python_start(&self, warm: bool) {
        let counter = if warm { &self.python_starts_warm } else { &self.python_starts_cold };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an execution reaching `status`.
    pub fn execution_reached(&self, status: ExecutionStatus) {
        if let Some(slot) = ExecutionStatus::ALL.iter().position(|s| *s == status) {
            self.executions[slot].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an HTTP answer of the ingress.
    pub fn http_answered(&self, code: u16) {
        let slot = HTTP_CODES.iter().position(|c| *c == code).unwrap_or(HTTP_CODES.len());
        self.http_answers[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `count` to a counter or gauge.
    pub fn add(counter: &AtomicU64, count: usize) {
        counter.fetch_add(count as u64, Ordering::Relaxed);
    }
}

/// A sensor in brief, as the sensor container reports it for the page.
#[derive(Debug, Clone, PartialEq)]
pub struct SensorOverview {
    pub ref_: String,
    pub state: &'static str,
    pub restarts: u32,
}

/// The figures read from their owners when the page is rendered.
pub struct Snapshot {
    pub registry_generation: u64,
    pub executions_in_flight: usize,
    /// Executions waiting for a slot.
    pub executions_queued: usize,
    /// Trigger instances queued for the journal or journaled and not yet processed.
    pub journal_depth: usize,
    pub sensors: Vec<SensorOverview>,
}

/// Every sensor state, so a state with no sensor shows 0 rather than vanishing.
const SENSOR_STATES: [&str; 6] = ["starting", "running", "backoff", "failed", "stopped", "disabled"];

/// The page in the Prometheus text format (version 0.0.4).
pub fn render(metrics: &Metrics, snapshot: &Snapshot) -> String {
    let mut page = Page { text: String::with_capacity(8192) };
    let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    page.header("st2d_info", "The running st2d.", "gauge");
    let _ = writeln!(page.text, "st2d_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));

    page.single(
        "st2d_trigger_instances_received_total",
        "Trigger instances written to the journal.",
        "counter",
        load(&metrics.trigger_instances_received),
    );
    page.header(
        "st2d_trigger_instances_dropped_total",
        "Dispatches not journaled: invalid (unknown trigger, payload failing the schema) or unwritten (the store refused).",
        "counter",
    );
    page.labelled(
        "st2d_trigger_instances_dropped_total",
        "reason",
        "invalid",
        load(&metrics.trigger_instances_invalid),
    );
    page.labelled(
        "st2d_trigger_instances_dropped_total",
        "reason",
        "unwritten",
        load(&metrics.trigger_instances_unwritten),
    );
    page.single(
        "st2d_trigger_instances_processed_total",
        "Trigger instances the rules engine has processed.",
        "counter",
        load(&metrics.trigger_instances_processed),
    );
    page.header(
        "st2d_trigger_journal_depth",
        "Trigger instances queued for the journal or journaled and not yet processed by the rules engine.",
        "gauge",
    );
    let _ = writeln!(page.text, "st2d_trigger_journal_depth {}", snapshot.journal_depth);
    page.single(
        "st2d_intake_refused_total",
        "Trigger instances and API executions refused at intake (rules engine behind, execution queue full, disk short of space).",
        "counter",
        load(&metrics.intake_refused),
    );

    page.single(
        "st2d_rules_matched_total",
        "Rule enforcements: a rule matched a trigger instance.",
        "counter",
        load(&metrics.rules_matched),
    );
    page.single(
        "st2d_rule_enforcements_failed_total",
        "Rule enforcements that failed (a criterion could not be evaluated, or no execution could be created).",
        "counter",
        load(&metrics.enforcements_failed),
    );

    page.header("st2d_executions_total", "Executions that reached each status.", "counter");
    for (slot, status) in ExecutionStatus::ALL.iter().enumerate() {
        page.labelled("st2d_executions_total", "status", status.as_str(), load(&metrics.executions[slot]));
    }
    page.single(
        "st2d_executions_in_flight",
        "Executions queued for a slot or running.",
        "gauge",
        snapshot.executions_in_flight as u64,
    );
    page.single(
        "st2d_executions_queued",
        "Executions waiting for a slot (intake is refused beyond --max-queued-executions).",
        "gauge",
        snapshot.executions_queued as u64,
    );
    metrics.action_duration.render(
        &mut page,
        "st2d_action_duration_seconds",
        "How long actions ran, from the start of the runner to the result.",
    );

    page.header(
        "st2d_python_starts_total",
        "Python processes (python-script actions and sensors) by how they started: forked from a warm interpreter, or a new interpreter.",
        "counter",
    );
    page.labelled("st2d_python_starts_total", "start", "warm", load(&metrics.python_starts_warm));
    page.labelled("st2d_python_starts_total", "start", "cold", load(&metrics.python_starts_cold));

    page.header("st2d_sensors", "Sensors by state.", "gauge");
    for state in SENSOR_STATES {
        let count = snapshot.sensors.iter().filter(|s| s.state == state).count();
        page.labelled("st2d_sensors", "state", state, count as u64);
    }
    page.header(
        "st2d_sensor_restarts_total",
        "Starts of each sensor after its first one (crashes and requested restarts), since it was last (re)configured.",
        "counter",
    );
    for sensor in &snapshot.sensors {
        page.labelled("st2d_sensor_restarts_total", "sensor", &sensor.ref_, u64::from(sensor.restarts));
    }

    page.header(
        "st2d_reloads_total",
        "Registry reloads by outcome: clean, problems (published, with packs reporting errors), failed (nothing published).",
        "counter",
    );
    page.labelled("st2d_reloads_total", "outcome", "clean", load(&metrics.reloads_clean));
    page.labelled("st2d_reloads_total", "outcome", "problems", load(&metrics.reloads_with_problems));
    page.labelled("st2d_reloads_total", "outcome", "failed", load(&metrics.reloads_failed));
    metrics.reload_duration.render(&mut page, "st2d_reload_duration_seconds", "How long reloads took.");
    page.single(
        "st2d_registry_generation",
        "The generation of the published registry (one more per reload).",
        "gauge",
        snapshot.registry_generation,
    );

    page.header("st2d_http_requests_total", "HTTP ingress answers by status code.", "counter");
    for (slot, code) in HTTP_CODES.iter().enumerate() {
        page.labelled("st2d_http_requests_total", "code", &code.to_string(), load(&metrics.http_answers[slot]));
    }
    page.labelled("st2d_http_requests_total", "code", "other", load(&metrics.http_answers[HTTP_CODES.len()]));
    page.single(
        "st2d_grpc_unauthenticated_total",
        "gRPC calls on a TCP listener refused (UNAUTHENTICATED) for a missing or wrong bearer token.",
        "counter",
        load(&metrics.grpc_unauthenticated),
    );
    render_process(&mut page);
    page.text
}

/// The standard `process_*` figures, from `/proc/self` (left out where it cannot be read).
fn render_process(page: &mut Page) {
    let ticks = rustix::param::clock_ticks_per_second() as f64;
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let field = |number: usize| fields.get(number - 3).and_then(|f| f.parse::<f64>().ok());
    if let (Some(user), Some(system)) = (field(14), field(15)) {
        page.header("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", "counter");
        let _ = writeln!(page.text, "process_cpu_seconds_total {}", (user + system) / ticks);
    }
    let boot_time = std::fs::read_to_string("/proc/stat").ok().and_then(|text| {
        text.lines().find_map(|l| l.strip_prefix("btime ").and_then(|v| v.trim().parse::<f64>().ok()))
    });
    if let (Some(boot_time), Some(start)) = (boot_time, field(22)) {
        page.header(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            "gauge",
        );
        let _ = writeln!(page.text, "process_start_time_seconds {}", boot_time + start / ticks);
    }
    let resident = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()));
    if let Some(pages) = resident {
        page.single(
            "process_resident_memory_bytes",
            "Resident memory size, in bytes.",
            "gauge",
            pages * rustix::param::page_size() as u64,
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        page.single("process_open_fds", "Open file descriptors.", "gauge", fds.count() as u64);
    }
}

struct Page {
    text: String,
}

impl Page {
    fn header(&mut self, name: &str, help: &str, kind: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn single(&mut self, name: &str, help: &str, kind: &str, value: u64) {
        self.header(name, help, kind);
        let _ = writeln!(self.text, "{name} {value}");
    }

    fn labelled(&mut self, name: &str, label: &str, value_of_label: &str, value: u64) {
        let _ = writeln!(self.text, "{name}{{{label}=\"{}\"}} {value}", escape_label(value_of_label));
    }
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty_snapshot() -> Snapshot {
        Snapshot {
            registry_generation: 3,
            executions_in_flight: 2,
            executions_queued: 1,
            journal_depth: 0,
            sensors: Vec::new(),
        }
    }

    #[test]
    fn histograms_are_cumulative_with_sum_and_count() {
        let metrics = Metrics::new();
        metrics.action_duration.observe(Duration::from_millis(3));
        metrics.action_duration.observe(Duration::from_millis(40));
        metrics.action_duration.observe(Duration::from_secs(4000));
        let page = render(&metrics, &empty_snapshot());
        assert!(page.contains("st2d_action_duration_seconds_bucket{le=\"0.005\"} 1\n"), "{page}");
        assert!(page.contains("st2d_action_duration_seconds_bucket{le=\"0.05\"} 2\n"), "{page}");
        assert!(page.contains("st2d_action_duration_seconds_bucket{le=\"1800\"} 2\n"), "{page}");
        assert!(page.contains("st2d_action_duration_seconds_bucket{le=\"+Inf\"} 3\n"), "{page}");
        assert!(page.contains("st2d_action_duration_seconds_sum 4000.043\n"), "{page}");
        assert!(page.contains("st2d_action_duration_seconds_count 3\n"), "{page}");
    }

    #[test]
    fn every_series_has_help_and_type_and_labels_are_escaped() {
        let metrics = Metrics::new();
        metrics.execution_reached(ExecutionStatus::Succeeded);
        metrics.execution_reached(ExecutionStatus::Succeeded);
        metrics.http_answered(202);
        metrics.http_answered(418);
        let snapshot = Snapshot {
            sensors: vec![
                SensorOverview { ref_: "demo.Watch".to_string(), state: "running", restarts: 4 },
                SensorOverview { ref_: "odd\"name".to_string(), state: "backoff", restarts: 0 },
            ],
            ..empty_snapshot()
        };
        let page = render(&metrics, &snapshot);
        assert!(page.contains("st2d_executions_total{status=\"succeeded\"} 2\n"), "{page}");
        assert!(page.contains("st2d_executions_total{status=\"failed\"} 0\n"), "{page}");
        assert!(page.contains("st2d_sensors{state=\"running\"} 1\n"), "{page}");
        assert!(page.contains("st2d_sensors{state=\"disabled\"} 0\n"), "{page}");
        assert!(page.contains("st2d_sensor_restarts_total{sensor=\"demo.Watch\"} 4\n"), "{page}");
        assert!(page.contains("st2d_sensor_restarts_total{sensor=\"odd\\\"name\"} 0\n"), "{page}");
        assert!(page.contains("st2d_http_requests_total{code=\"202\"} 1\n"), "{page}");
        assert!(page.contains("st2d_http_requests_total{code=\"other\"} 1\n"), "{page}");
        assert!(page.contains("st2d_executions_in_flight 2\n"), "{page}");
        assert!(page.contains("process_resident_memory_bytes "), "{page}");
        assert!(page.contains("process_cpu_seconds_total "), "{page}");
        assert!(page.contains("process_start_time_seconds "), "{page}");
        let mut typed = std::collections::HashSet::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.insert(rest.split(' ').next().unwrap_or_default().to_string());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix).filter(|base| typed.contains(*base)))
                    .unwrap_or(name);
                assert!(typed.contains(family), "{name} has no TYPE line:\n{page}");
            }
        }
    }
}
