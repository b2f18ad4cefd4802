//! `core.inject_trigger`, done natively: the trigger (`trigger`, or the older `trigger_name`)
//! and payload are checked as a sensor's dispatch is, then journaled with the `trace_tag`. The
//! result has the python-script shape StackStorm's action gives, `{result, stdout, stderr,
//! exit_code}`, where `result` echoes what was injected plus the new instance's id.
//!
//! Owns: that action. Must not: write the store itself (the journal does).

use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::runner::Job;
use crate::runner::Outcome;
use crate::trigger::journal::JournalError;
use st2d_core::status::ExecutionStatus;

/// The action handled here instead of by its python-script entry point.
pub const ACTION_REF: &str = "core.inject_trigger";

/// Why the trigger instance was not written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum InjectError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("canceled before the trigger instance was written")]
    Canceled,
}

pub async fn run(job: &Job<'_>) -> Outcome {
    let text = |name: &str| job.params.get(name).and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from);
    let Some(trigger) = text("trigger").or_else(|| text("trigger_name")) else {
        return Outcome::failed("parameter \"trigger\" is required");
    };
    let trace_tag = text("trace_tag");
    let mut payload = match job.params.get("payload") {
        None | Some(Value::Null) => json!({}),
        Some(payload) => payload.clone(),
    };
    if let Err(error) = crate::trigger::validate_dispatch(job.registry, &trigger, &mut payload) {
        return Outcome::failed(error.to_string());
    }
    let (done, journaled) = oneshot::channel();
    let reply = Box::new(move |result: Result<String, JournalError>| {
        let _ = done.send(result);
    });
    let source = Some(job.action.ref_.clone());
    job.context.journal.append(trigger.clone(), payload.clone(), source, trace_tag.clone(), reply).await;
    let instance = tokio::select! {
        journaled = journaled => journaled.unwrap_or(Err(JournalError::Stopped)).map_err(InjectError::from),
        () = job.cancel.cancelled() => Err(InjectError::Canceled),
    };
    match instance {
        Ok(id) => Outcome {
            status: ExecutionStatus::Succeeded,
            result: json!({
                "result": {"trigger": trigger, "payload": payload, "trace_tag": trace_tag, "trigger_instance": id},
                "stdout": "",
                "stderr": "",
                "exit_code": 0,
            }),
        },
        Err(error) => Outcome::failed(error.to_string()),
    }
}
