//! `/api/v1/actionalias` and `/api/v1/aliasexecution` (StackStorm's
//! st2api/controllers/v1/actionalias.py and aliasexecution.py): list and read aliases, match
//! a command, help strings, and alias executions. Aliases are pack files, so creating,
//! updating or deleting one through the API is refused with the way to do it.
//!
//! Owns: these routes and their JSON. Must not: match, execute or render anything itself
//! (`service::aliases` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use st2d_core::alias::HelpQuery;

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::execution::Execution;
use crate::registry::Registry;
use crate::service::aliases::{self, AliasExecution, AliasFilter, AliasRun, MatchAndExecute};

pub async fn list(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let window = params.window()?;
    let attributes = Attributes::from_params(&params)?;
    let filter = AliasFilter { pack: params.get("pack").to_string(), name: params.get("name").to_string() };
    let registry = rest.services.published.registry();
    let page = window.cut(aliases::list(&registry, &filter));
    let items = page.items.iter().map(|a| aliases::shape(a)).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

pub async fn get_one(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let alias = aliases::get(&registry, &ref_or_id)?;
    Ok(Json(aliases::shape(&alias)).into_response())
}

/// POST, PUT and DELETE: aliases are files in packs.
pub async fn read_only() -> Fault {
    Fault::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Action aliases are files in packs: add, change or remove the alias's file in its pack's aliases directory (or install the pack); st2d reloads it.",
    )
}

/// `POST /api/v1/actionalias/match` with `{command}`: the alias and format it matches.
pub async fn matching(State(rest): State<Rest>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let command = JsonBody::required("command", body.text("command")?)?;
    let registry = rest.services.published.registry();
    let matched = aliases::matching(&registry, &command)?;
    Ok(Json(json!({
        "actionalias": aliases::shape(&matched.alias),
        "display": matched.display,
        "representation": matched.representation,
    }))
    .into_response())
}

/// `GET /api/v1/actionalias/help?filter=&pack=&limit=&offset=` (a POST body with those fields
/// too): `{available, helpstrings: [{pack, display, description}]}`.
pub async fn help(State(rest): State<Rest>, RawQuery(query): RawQuery, body: Bytes) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let body = JsonBody::parse(&body)?;
    let text =
        |name: &str| -> Result<String, Fault> { Ok(body.text(name)?.unwrap_or_else(|| params.get(name).to_string())) };
    let number = |name: &str| -> Result<usize, Fault> {
        let given = match body.get(name) {
            Some(value) => value
                .as_i64()
                .ok_or_else(|| Fault::bad_request(format!("{value} is not of type 'integer' (field \"{name}\")")))?,
            None => match params.get(name) {
                "" => 0,
                text => text.parse::<i64>().map_err(|_| {
                    Fault::bad_request(format!("'{text}' is not of type 'integer' (query parameter \"{name}\")"))
                })?,
            },
        };
        // StackStorm's help shows everything for a negative limit or offset.
        Ok(usize::try_from(given).unwrap_or(0))
    };
    let query =
        HelpQuery { filter: text("filter")?, pack: text("pack")?, offset: number("offset")?, limit: number("limit")? };
    let registry = rest.services.published.registry();
    let (available, found) = aliases::help(&registry, &query)?;
    let helpstrings: Vec<Value> =
        found.iter().map(|h| json!({"pack": h.pack, "display": h.display, "description": h.description})).collect();
    Ok(Json(json!({"available": available, "helpstrings": helpstrings})).into_response())
}

fn text_or_empty(body: &JsonBody, field: &str) -> Result<String, Fault> {
    Ok(body.text(field)?.unwrap_or_default())
}

/// The view of one alias execution: `{execution, actionalias, message, extra}`.
fn result(rest: &Rest, done: &AliasExecution, show_secrets: bool) -> Value {
    let registry = rest.services.published.registry();
    let children = crate::service::executions::child_ids(&rest.services.runtime, &done.execution.id);
    let mut view = json!({
        "execution": views::execution(&registry, &done.execution, &children, show_secrets),
        "actionalias": aliases::shape(&done.alias),
    });
    if let Some(message) = &done.message {
        view["message"] = json!(message);
    }
    if let Some(extra) = &done.extra {
        view["extra"] = extra.clone();
    }
    view
}

/// How an execution looks to ack and result templates.
pub fn template_view(registry: &Registry, execution: &Execution) -> Value {
    views::execution(registry, execution, &[], false)
}

/// `POST /api/v1/aliasexecution` with `{name, format, command, user, source_channel, ...}`:
/// 201 and the execution with the alias and its ack.
pub async fn execute(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let show_secrets = Params::parse(query.as_deref()).flag("show_secrets")?;
    let body = JsonBody::parse(&body)?;
    let run = AliasRun {
        name: JsonBody::required("name", body.text("name")?)?,
        format: JsonBody::required("format", body.text("format")?)?,
        command: JsonBody::required("command", body.text("command")?)?,
        user: text_or_empty(&body, "user")?,
        source_channel: JsonBody::required("source_channel", body.text("source_channel")?)?,
        source_context: body.object("source_context")?.map(Value::Object).unwrap_or(Value::Null),
        notification_channel: text_or_empty(&body, "notification_channel")?,
        notification_route: text_or_empty(&body, "notification_route")?,
        requester: principal.user.clone(),
        match_multiple: false,
    };
    let registry = rest.services.published.registry();
    let done = aliases::execute(&registry, &rest.services.runtime, run, &template_view).await?;
    let first = done.first().map(|d| result(&rest, d, show_secrets)).unwrap_or(Value::Null);
    Ok((StatusCode::CREATED, Json(first)).into_response())
}

/// `POST /api/v1/aliasexecution/match_and_execute` with `{command, user, source_channel,
/// notification_route}`: 201 and `{results: [...]}`, one per execution.
pub async fn match_and_execute(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let show_secrets = Params::parse(query.as_deref()).flag("show_secrets")?;
    let body = JsonBody::parse(&body)?;
    let request = MatchAndExecute {
        command: JsonBody::required("command", body.text("command")?)?,
        user: text_or_empty(&body, "user")?,
        source_channel: JsonBody::required("source_channel", body.text("source_channel")?)?,
        notification_channel: text_or_empty(&body, "notification_channel")?,
        notification_route: text_or_empty(&body, "notification_route")?,
        requester: principal.user.clone(),
    };
    let registry = rest.services.published.registry();
    let done = aliases::match_and_execute(&registry, &rest.services.runtime, request, &template_view).await?;
    let results: Vec<Value> = done.iter().map(|d| result(&rest, d, show_secrets)).collect();
    Ok((StatusCode::CREATED, Json(json!({ "results": results }))).into_response())
}

/// Announces the ChatOps result of each alias execution that completes (StackStorm's notifier,
/// `chatops.notify` rule and `chatops.post_result`), until the daemon starts to stop. It reads
/// the executor's notifications; a notifier that falls behind skips what it missed, and says so.
pub async fn notify_results(rest: Rest) {
    let runtime = rest.services.runtime.clone();
    let mut completed = runtime.executor.notifications();
    loop {
        let next = tokio::select! {
            next = completed.recv() => next,
            () = runtime.executor.drained() => return,
        };
        match next {
            Ok(execution) => {
                let registry = rest.services.published.registry();
                if let Some(announcement) =
                    aliases::result_announcement(&registry, &runtime, &execution, &template_view)
                {
                    runtime.executor.announcer().publish(announcement);
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "the ChatOps notifier fell behind; some results are not announced");
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
