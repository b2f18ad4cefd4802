//! The `announcement` runner (StackStorm's announcement_runner): publishes the action's
//! parameters on its `route` (`st2.announcement__<route>` on the stream). Like StackStorm, it
//! refuses to run without its `experimental` flag; the result is `{output: params, ...params}`.
//!
//! Owns: that runner. Must not: deliver announcements itself (`announce` does).

use serde_json::{Map, Value};
use st2d_core::status::ExecutionStatus;

use crate::announce::Announcement;
use crate::runner::{Job, Outcome};

pub const RUNNER: &str = "announcement";

/// The route when the action names none (the runner's default).
const DEFAULT_ROUTE: &str = "general";

pub async fn run(job: &Job<'_>) -> Outcome {
    if !job.runner_flag("experimental") {
        return Outcome::failed(format!("Experimental flag is missing for action {}", job.action.ref_));
    }
    let route = job.runner_text("route").unwrap_or_else(|| DEFAULT_ROUTE.to_string());
    let payload = Value::Object(job.params.clone());
    let trace_context = job.execution.context.get("trace_context").cloned().unwrap_or(Value::Null);
    job.context.announcer.publish(Announcement { route, payload, trace_context });
    let mut result = Map::new();
    result.insert("output".to_string(), Value::Object(job.params.clone()));
    result.extend(job.params.clone());
    Outcome { status: ExecutionStatus::Succeeded, result: Value::Object(result) }
}
