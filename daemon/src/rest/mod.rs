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
mod enforcements;
mod executions;
mod fault;
mod inquiries;
mod keys;
mod pack_admin;
mod packs;
mod policies;
mod query;
mod rules;
mod sensors;
mod stream;
mod tokens;
mod triggers;
mod views;

pub use fault::Fault;
pub use triggers::webhook as webhook_trigger;

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
        .route("/api/v1/actions/views/overview", get(actions::overview))
        .route("/api/v1/actions/views/overview/{ref_or_id}", get(actions::overview_one))
        .route("/api/v1/actions/views/parameters/{ref_or_id}", get(actions::parameters))
        .route("/api/v1/actions/views/entry_point/{ref_or_id}", get(actions::entry_point))
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
        .route("/api/v1/executions/views/filters", get(executions::filters))
        .route("/api/v1/executions/{id}", get(executions::get_one).put(executions::update).delete(executions::cancel))
        .route("/api/v1/executions/{id}/re_run", post(executions::re_run))
        .route("/api/v1/executions/{id}/result", get(executions::result))
        .route("/api/v1/executions/{id}/attribute/{attribute}", get(executions::attribute))
        .route("/api/v1/executions/{id}/children", get(executions::children))
        .route("/api/v1/executions/{id}/output", get(stream::output))
        .route("/stream/v1/stream", get(stream::stream))
        .route("/api/v1/packs", get(packs::list))
        .route("/api/v1/packs/{ref_or_id}", get(packs::get_one))
        .route("/api/v1/packs/install", post(pack_admin::install))
        .route("/api/v1/packs/uninstall", post(pack_admin::uninstall))
        .route("/api/v1/packs/register", post(pack_admin::register))
        .route("/api/v1/packs/index", get(pack_admin::index))
        .route("/api/v1/packs/index/search", post(pack_admin::index_search))
        .route("/api/v1/packs/index/health", get(pack_admin::index_health))
        .route("/api/v1/packs/views/files/{ref_or_id}", get(pack_admin::files))
        .route("/api/v1/packs/views/file/{ref_or_id}/{*file_path}", get(pack_admin::file))
        .route("/api/v1/config_schemas", get(pack_admin::config_schemas))
        .route("/api/v1/config_schemas/{pack_ref}", get(pack_admin::config_schema))
        .route("/api/v1/configs", get(pack_admin::configs))
        .route("/api/v1/configs/{pack_ref}", get(pack_admin::config).put(pack_admin::put_config))
        .route("/api/v1/triggertypes", get(packs::trigger_types))
        .route("/api/v1/triggertypes/{ref_or_id}", get(packs::trigger_type))
        .route("/api/v1/triggers", get(triggers::list))
        .route("/api/v1/triggers/{ref_or_id}", get(triggers::get_one))
        .route("/api/v1/webhooks", get(triggers::webhooks))
        .route("/api/v1/triggerinstances", get(triggers::instances))
        .route("/api/v1/triggerinstances/{id}", get(triggers::instance))
        .route("/api/v1/triggerinstances/{id}/re_emit", post(triggers::re_emit))
        .route("/api/v1/triggerinstances/{id}/re_send", post(triggers::re_emit))
        .route("/api/v1/rules", get(rules::list).post(rules::create))
        .route("/api/v1/rules/views", get(rules::list_views))
        .route("/api/v1/rules/views/{ref_or_id}", get(rules::view_one))
        .route("/api/v1/rules/{ref_or_id}", get(rules::get_one).put(rules::update).delete(rules::delete))
        .route("/api/v1/ruleenforcements", get(enforcements::list))
        .route("/api/v1/ruleenforcements/views", get(enforcements::list_views))
        .route("/api/v1/ruleenforcements/views/{id}", get(enforcements::view_one))
        .route("/api/v1/ruleenforcements/{id}", get(enforcements::get_one))
        .route("/api/v1/sensortypes", get(sensors::list))
        .route("/api/v1/sensortypes/{ref_or_id}", get(sensors::get_one).put(sensors::update))
        .route("/api/v1/policytypes", get(policies::types))
        .route("/api/v1/policytypes/{ref_or_id}", get(policies::policy_type))
        .route("/api/v1/policies", get(policies::list).post(policies::read_only))
        .route(
            "/api/v1/policies/{ref_or_id}",
            get(policies::get_one).put(policies::read_only).delete(policies::read_only),
        )
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
