//! The execution verbs: `run` (and `action execute`), `execution list|get|tail|cancel|re-run`, and
//! the execution details as StackStorm's CLI prints them.
//!
//! Owns: waiting for an execution to complete, following its output, and the detail text.
//! Must not: convert parameters (`params` does) or proto messages to JSON (`json` does).

use std::time::Duration;

use serde_json::{Map, Value};
use st2d_proto::v1 as pb;
use tokio_stream::StreamExt;

use crate::cli::{ExecutionVerb, ReRunArgs, RunArgs};
use crate::commands::{self, call, get_request};
use crate::connect::Client;
use crate::output::{out, outln, print_json, print_list};
use crate::{Exit, json, params, yamlish};

const EXECUTION_COLUMNS: &[&str] = &["id", "action.ref", "context.user", "status", "start_timestamp", "end_timestamp"];

/// Statuses after which nothing changes.
const COMPLETED: &[&str] = &["succeeded", "failed", "timeout", "abandoned", "canceled"];

/// How often a wait also asks for the execution directly (should a status change be missed).
const POLL: Duration = Duration::from_secs(1);

/// `run ACTION k=v ...`: creates the execution and, unless `--async`, waits for it and prints
/// it; a `failed` execution exits 1, as StackStorm's `st2 run` does (other end states exit 0).
pub async fn run(client: &mut Client, args: &RunArgs, as_json: bool) -> anyhow::Result<()> {
    let action = match client.get_action(get_request(&args.action)).await {
        Ok(action) => action.into_inner(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            anyhow::bail!("Action \"{}\" cannot be found.", args.action)
        }
        Err(status) => return Err(commands::Failed(status).into()),
    };
    let schema = match serde_json::from_str(&action.parameters_json) {
        Ok(Value::Object(schema)) => schema,
        _ => Map::new(),
    };
    let mut parameters =
        params::from_words(&args.parameters, &schema, read_parameter_file).map_err(anyhow::Error::msg)?;
    if args.inherit_env {
        let env: Map<String, Value> = std::env::vars().map(|(k, v)| (k, Value::String(v))).collect();
        parameters.insert("env".to_string(), Value::Object(env));
    }
    let request = pb::RunActionRequest {
        action: action.r#ref.clone(),
        parameters_json: Value::Object(parameters).to_string(),
        trace_tag: args.trace_tag.clone().unwrap_or_default(),
        user: args.user.clone().unwrap_or_default(),
    };
    let execution = call(client.run_action(request)).await?;
    follow(client, execution, args.run_async, as_json).await
}

/// `execution re-run ID [k=v ...] [--tasks ...] [--no-reset ...]`: as StackStorm's CLI, the
/// tasks not named by `--no-reset` are reset (every item of a with-items task runs again).
pub async fn re_run(client: &mut Client, args: &ReRunArgs, as_json: bool) -> anyhow::Result<()> {
    if let Some(task) = args.no_reset.iter().find(|task| !args.tasks.contains(task)) {
        anyhow::bail!("List of tasks to reset does not match the tasks to rerun (\"{task}\" is not among --tasks).");
    }
    let original = call(client.get_execution(get_request(&args.id))).await?;
    let schema = match client.get_action(get_request(&original.action)).await {
        Ok(action) => match serde_json::from_str(&action.into_inner().parameters_json) {
            Ok(Value::Object(schema)) => schema,
            _ => Map::new(),
        },
        Err(_) => Map::new(),
    };
    let parameters = params::from_words(&args.parameters, &schema, read_parameter_file).map_err(anyhow::Error::msg)?;
    let request = pb::ReRunRequest {
        id: args.id.clone(),
        parameters_json: Value::Object(parameters).to_string(),
        tasks: args.tasks.clone(),
        reset: args.tasks.iter().filter(|task| !args.no_reset.contains(task)).cloned().collect(),
        user: args.user.clone().unwrap_or_default(),
    };
    let execution = call(client.re_run_execution(request)).await?;
    follow(client, execution, args.run_async, as_json).await
}

/// After a run is requested: its id with `--async`, else waits for it and prints it; a `failed`
/// execution exits 1, as StackStorm's `st2 run` does (other end states exit 0).
async fn follow(client: &mut Client, execution: pb::Execution, run_async: bool, as_json: bool) -> anyhow::Result<()> {
    if run_async {
        if as_json {
            print_json(&json::execution(&execution));
        } else {
            outln!("To get the results, execute:\n st2 execution get {}\n", execution.id);
            outln!("To view output in real-time, execute:\n st2 execution tail {}", execution.id);
        }
        return Ok(());
    }
    let execution = wait(client, &execution.id, |_| {}).await?;
    print_execution(&execution, as_json);
    if execution.status == "failed" { Err(Exit(1).into()) } else { Ok(()) }
}

fn read_parameter_file(path: &str) -> Result<String, String> {
    let path = std::path::Path::new(path);
    if !path.exists() {
        return Err(format!("File \"{}\" doesn't exist", path.display()));
    }
    if !path.is_file() {
        return Err(format!("\"{}\" is not a file", path.display()));
    }
    std::fs::read_to_string(path).map_err(|error| format!("cannot read \"{}\": {error}", path.display()))
}

/// Follows the execution until it completes, handing each output line to `on_line`.
pub async fn wait(
    client: &mut Client,
    id: &str,
    mut on_line: impl FnMut(&pb::OutputLine),
) -> anyhow::Result<pb::Execution> {
    use pb::execution_event::Event;
    let mut events = Some(call(client.watch_execution(get_request(id))).await?);
    let mut poll = tokio::time::interval(POLL);
    poll.tick().await;
    loop {
        tokio::select! {
            event = next_event(&mut events) => match event {
                Some(Ok(pb::ExecutionEvent { event: Some(Event::Output(line)) })) => on_line(&line),
                Some(Ok(pb::ExecutionEvent { event: Some(Event::Execution(execution)) })) => {
                    if COMPLETED.contains(&execution.status.as_str()) {
                        return Ok(execution);
                    }
                }
                Some(Ok(_)) => {}
                // The stream ended or failed: the polls below finish the wait.
                Some(Err(_)) | None => events = None,
            },
            _ = poll.tick() => {
                let execution = call(client.get_execution(get_request(id))).await?;
                if COMPLETED.contains(&execution.status.as_str()) {
                    return Ok(execution);
                }
            }
        }
    }
}

/// The next event, or never once the stream is gone.
async fn next_event(
    events: &mut Option<tonic::Streaming<pb::ExecutionEvent>>,
) -> Option<Result<pb::ExecutionEvent, tonic::Status>> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

pub async fn execution(client: &mut Client, verb: &ExecutionVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        ExecutionVerb::List { action, status, trigger_instance, last, show_all } => {
            let request = pb::ListExecutionsRequest {
                action: action.clone().unwrap_or_default(),
                status: status.clone().unwrap_or_default(),
                trigger_instance: trigger_instance.clone().unwrap_or_default(),
                rule: String::new(),
                limit: *last,
                include_children: *show_all,
            };
            let executions = call(client.list_executions(request)).await?.executions;
            if as_json {
                print_json(&Value::Array(executions.iter().map(json::execution).collect()));
            } else {
                // Oldest first, the newest at the bottom, as StackStorm lists them.
                let rows = executions.iter().rev().map(row);
                print_list("executions", EXECUTION_COLUMNS, rows, false);
            }
        }
        ExecutionVerb::Get { id } => {
            let execution = call(client.get_execution(get_request(id))).await?;
            print_execution(&execution, as_json);
        }
        ExecutionVerb::Tail { id } => {
            let execution = wait(client, id, |line| outln!("{}", line.line)).await?;
            outln!("\nExecution {} has completed (status={}).", execution.id, execution.status);
        }
        ExecutionVerb::Cancel { ids } => {
            for id in ids {
                let execution = call(client.cancel_execution(get_request(id))).await?;
                if as_json {
                    print_json(&json::execution(&execution));
                } else if execution.status == "canceled" {
                    outln!("action execution with id {} canceled.", execution.id);
                } else {
                    outln!("action execution with id {} requested to be canceled.", execution.id);
                }
            }
        }
        ExecutionVerb::Pause { ids } => {
            for id in ids {
                let execution = call(client.pause_execution(get_request(id))).await?;
                print_execution(&execution, as_json);
            }
        }
        ExecutionVerb::Resume { ids } => {
            for id in ids {
                let execution = call(client.resume_execution(get_request(id))).await?;
                print_execution(&execution, as_json);
            }
        }
        ExecutionVerb::ReRun(args) => return re_run(client, args, as_json).await,
    }
    Ok(())
}

/// One execution: JSON with `-j`, else StackStorm's detail lines.
pub fn print_execution(execution: &pb::Execution, as_json: bool) {
    if as_json {
        print_json(&json::execution(execution));
    } else {
        out!("{}", details(execution));
    }
}

/// The table row of a listing.
fn row(execution: &pb::Execution) -> Value {
    let full = json::execution(execution);
    serde_json::json!({
        "id": execution.id,
        "action.ref": execution.action,
        "context.user": full["context"]["user"],
        "status": status_with_elapsed(execution),
        "start_timestamp": human_time(&execution.start_timestamp),
        "end_timestamp": human_time(&execution.end_timestamp),
    })
}

/// `id`, `action.ref`, `context.user`, `parameters`, `status` (with the time it took),
/// timestamps, `rule.ref` and `trigger_instance.id` when a rule ran it, and `result`; a
/// workflow with tasks shows, instead of its result, its error (if it failed) and the table
/// of its task executions, nested workflows indented under their task.
pub fn details(execution: &pb::Execution) -> String {
    let full = json::execution(execution);
    let mut text = String::new();
    text.push_str(&yamlish::attribute("id", &Value::String(execution.id.clone())));
    text.push_str(&yamlish::attribute("action.ref", &Value::String(execution.action.clone())));
    text.push_str(&yamlish::attribute("context.user", &full["context"]["user"]));
    text.push_str(&yamlish::attribute("parameters", &full["parameters"]));
    text.push_str(&yamlish::attribute("status", &Value::String(status_with_elapsed(execution))));
    text.push_str(&yamlish::attribute("start_timestamp", &Value::String(human_time(&execution.start_timestamp))));
    text.push_str(&yamlish::attribute("end_timestamp", &Value::String(human_time(&execution.end_timestamp))));
    if !execution.rule.is_empty() {
        text.push_str(&yamlish::attribute("rule.ref", &Value::String(execution.rule.clone())));
    }
    if !execution.trigger_instance.is_empty() {
        text.push_str(&yamlish::attribute("trigger_instance.id", &Value::String(execution.trigger_instance.clone())));
    }
    if execution.children.is_empty() {
        text.push_str(&yamlish::attribute("result", &full["result"]));
        return text;
    }
    if let Some(error) = full["result"].get("error").filter(|e| !e.is_null()) {
        text.push_str(&yamlish::attribute("error", error));
    }
    let mut rows = Vec::new();
    task_rows(&execution.children, 0, &mut rows);
    text.push_str(&crate::table::render(TASK_COLUMNS, &rows));
    text
}

const TASK_COLUMNS: &[&str] = &["id", "status", "task", "action", "start_timestamp"];

/// The task table's rows, depth first: a task that is a workflow is marked `+` and followed by
/// its own tasks, indented.
fn task_rows(children: &[pb::Execution], depth: usize, rows: &mut Vec<Value>) {
    for child in children {
        let mark = if child.children.is_empty() { "  " } else { "+ " };
        rows.push(serde_json::json!({
            "id": format!("{}{mark}{}", " ".repeat(depth), child.id),
            "status": status_with_elapsed(child),
            "task": child.task,
            "action": child.action,
            "start_timestamp": human_time(&child.start_timestamp),
        }));
        task_rows(&child.children, depth + 1, rows);
    }
}

/// `succeeded (2s elapsed)`.
fn status_with_elapsed(execution: &pb::Execution) -> String {
    format!("{} ({}s elapsed)", execution.status, execution.elapsed_seconds.round() as i64)
}

/// RFC 3339 as StackStorm's CLI shows times: `Tue, 25 Nov 2026 05:20:00 UTC`.
pub fn human_time(text: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(time) => time.with_timezone(&chrono::Utc).format("%a, %d %b %Y %H:%M:%S UTC").to_string(),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_read_as_stackstorm_prints_them() {
        let execution = pb::Execution {
            id: "00000000000000a1".into(),
            action: "core.local".into(),
            status: "succeeded".into(),
            parameters_json: r#"{"cmd": "echo hi"}"#.into(),
            result_json: r#"{"succeeded": true, "failed": false, "return_code": 0, "stdout": "hi", "stderr": ""}"#
                .into(),
            start_timestamp: "2026-11-25T05:20:00.123Z".into(),
            end_timestamp: "2026-11-25T05:20:01.456Z".into(),
            elapsed_seconds: 1.333,
            context_json: r#"{"user": "stanley"}"#.into(),
            ..Default::default()
        };
        let task = |id: &str, task: &str, children: Vec<pb::Execution>| pb::Execution {
            id: id.into(),
            action: "core.local".into(),
            status: "succeeded".into(),
            task: task.into(),
            start_timestamp: "2026-11-25T05:20:00.500Z".into(),
            children,
            ..Default::default()
        };
        let workflow = pb::Execution {
            action: "demo.flow".into(),
            status: "failed".into(),
            result_json: r#"{"error": "Failed to run task", "tasks": []}"#.into(),
            children: vec![task("b1", "first", vec![task("c1", "inner", vec![])]), task("b2", "second", vec![])],
            ..execution.clone()
        };
        let shown = details(&workflow);
        assert!(shown.contains("status: failed (1s elapsed)\n"), "{shown}");
        assert!(shown.contains("error: Failed to run task\n"), "{shown}");
        assert!(!shown.contains("result:"), "{shown}");
        let rows: Vec<&str> = shown.lines().filter(|l| l.starts_with("| ") && !l.contains("start_timestamp")).collect();
        assert_eq!(rows.len(), 3, "{shown}");
        assert!(rows[0].starts_with("| + b1 ") && rows[0].contains("| first "), "{shown}");
        assert!(rows[1].starts_with("|    c1 ") && rows[1].contains("| inner "), "{shown}");
        assert!(rows[2].starts_with("|   b2 ") && rows[2].contains("| second "), "{shown}");
        assert_eq!(
            details(&execution),
            "id: 00000000000000a1\naction.ref: core.local\ncontext.user: stanley\nparameters: \n  cmd: echo hi\nstatus: succeeded (1s elapsed)\nstart_timestamp: Wed, 25 Nov 2026 05:20:00 UTC\nend_timestamp: Wed, 25 Nov 2026 05:20:01 UTC\nresult: \n  failed: false\n  return_code: 0\n  stderr: ''\n  stdout: hi\n  succeeded: true\n"
        );
    }
}
