//! StackStorm's REST API (`/api/v1`, `/auth/v1`, `/stream/v1`) on the `--http-listen` address,
//! so the `st2` CLI, `st2client` and the tooling built on them work against st2d unchanged. The
//! contract is StackStorm's OpenAPI definition (st2common/st2common/openapi.yaml.j2): paths,
//! query parameters, shapes, status codes, `X-Total-Count` and `{"faultstring": ...}`.
//!
//! Owns: HTTP routes, request decoding and the JSON shapes of StackStorm's models. Must not:
//! re-implement a query, a validation or a permission check (the service layer does), or see
//! proto types. Authentication (which credentials admit a request) is the ingress's gate.

mod actions;
mod aliases;
mod apikeys;
mod body;
mod executions;
mod fault;
mod inquiries;
mod keys;
mod packs;
mod query;
mod stream;
mod tokens;
mod views;

pub use fault::Fault;

use axum::Router;
use axum::routing::{get, post};
use serde_json::Value;

use crate::auth::Auth;
use crate::service::Services;

/// How an execution looks to alias templates (`execution` in an ack or result format):
/// StackStorm's `ActionExecutionAPI`, as this API shows it.
pub fn execution_view(registry: &crate::registry::Registry, execution: &crate::execution::Execution) -> Value {
    aliases::template_view(registry, execution)
}

/// What the REST handlers serve from.
#[derive(Clone)]
pub struct Rest {
    pub services: Services,
    pub auth: Auth,
}

/// The routes that need an authenticated caller (behind the ingress's gate). Starts the
/// ChatOps notifier, which announces alias executions' results on the stream.
pub fn api(rest: Rest) -> Router {
    tokio::spawn(aliases::notify_results(rest.clone()));
    Router::new()
        .route("/api/v1", get(root))
        .route("/api/v1/actions", get(actions::list).post(actions::read_only))
        .route("/api/v1/actions/{ref_or_id}", get(actions::get_one).put(actions::read_only).delete(actions::read_only))
        .route("/api/v1/actionalias", get(aliases::list).post(aliases::read_only))
        .route("/api/v1/actionalias/match", post(aliases::matching))
        .route("/api/v1/actionalias/help", get(aliases::help).post(aliases::help))
        .route(
            "/api/v1/actionalias/{ref_or_id}",
            get(aliases::get_one).put(aliases::read_only).delete(aliases::read_only),
        )
        .route("/api/v1/aliasexecution", post(aliases::execute))
        .route("/api/v1/aliasexecution/match_and_execute", post(aliases::match_and_execute))
        .route("/api/v1/runnertypes", get(actions::runners))
        .route("/api/v1/runnertypes/{name_or_id}", get(actions::runner))
        .route("/api/v1/executions", get(executions::list).post(executions::create))
        .route("/api/v1/executions/{id}", get(executions::get_one).delete(executions::cancel))
        .route("/api/v1/executions/{id}/children", get(executions::children))
        .route("/api/v1/executions/{id}/output", get(stream::output))
        .route("/stream/v1/stream", get(stream::stream))
        .route("/api/v1/packs", get(packs::list))
        .route("/api/v1/packs/{ref_or_id}", get(packs::get_one))
        .route("/api/v1/triggertypes", get(packs::trigger_types))
        .route("/api/v1/triggertypes/{ref_or_id}", get(packs::trigger_type))
        .route("/api/v1/rules", get(packs::rules))
        .route("/api/v1/rules/{ref_or_id}", get(packs::rule).put(packs::update_rule))
        .route("/api/v1/inquiries", get(inquiries::list))
        .route("/api/v1/inquiries/{id}", get(inquiries::get_one).put(inquiries::respond))
        .route("/api/v1/apikeys", get(apikeys::list).post(apikeys::create))
        .route("/api/v1/apikeys/{id_or_key}", get(apikeys::get_one).put(apikeys::update).delete(apikeys::delete))
        .route("/api/v1/keys", get(keys::list))
        .route("/api/v1/keys/{name}", get(keys::get_one).put(keys::put).delete(keys::delete))
        .route("/auth/v1/tokens/validate", post(tokens::validate))
        .with_state(rest)
}

/// The routes that take other credentials (a user and password) and so stand before the gate.
pub fn open(rest: Rest) -> Router {
    Router::new().route("/auth/v1/tokens", post(tokens::create)).with_state(rest)
}

/// `GET /api/v1/`: what answers here.
async fn root() -> axum::Json<Value> {
    axum::Json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "docs_url": "https://docs.stackstorm.com/reference/api.html",
        "implementation": "st2d",
    }))
}
