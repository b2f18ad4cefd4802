//! Pack administration routes (StackStorm's st2api `packs.py`, `pack_views.py`,
//! `pack_configs.py`, `pack_config_schemas.py`): `/api/v1/packs/{install,uninstall,register}`,
//! `/api/v1/packs/index[/search|/health]`, `/api/v1/packs/views/{files,file}`,
//! `/api/v1/configs` and `/api/v1/config_schemas`.
//!
//! Owns: these routes, their bodies and answers (202 with the execution id for install and
//! uninstall; a file's `ETag`, `Last-Modified` and 304). Must not: install, register, search,
//! validate a config or open a pack file itself (`service::packs` does).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::JsonBody;
use super::query::{Attributes, Params, list_answer};
use super::{Fault, Rest, views};
use crate::auth::Principal;
use crate::service::ServiceError;
use crate::service::packs::{self, Found, IndexQuery, InstallRequest, RegisterRequest};

/// Runs blocking service work (file and index reads) off the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, Fault> {
    Ok(tokio::task::spawn_blocking(work).await.map_err(ServiceError::internal)??)
}

/// `POST /api/v1/packs/install` with `{packs, force, skip_dependencies}`: 202 and the id of the
/// `packs.install` execution. (`python3`, which older clients send, is accepted: virtualenvs
/// are always Python 3.)
pub async fn install(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    body.flag("python3")?;
    let request = InstallRequest {
        packs: JsonBody::required("packs", body.texts("packs")?)?,
        force: body.flag("force")?.unwrap_or(false),
        skip_dependencies: body.flag("skip_dependencies")?.unwrap_or(false),
        user: principal.user.clone(),
    };
    let execution = packs::install(&rest.services.runtime, request).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"execution_id": execution.id}))).into_response())
}

/// `POST /api/v1/packs/uninstall` with `{packs}`: 202 and the id of the `packs.uninstall`
/// execution.
pub async fn uninstall(
    State(rest): State<Rest>,
    Extension(principal): Extension<Principal>,
    body: Bytes,
) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let packs = match body.texts("packs")? {
        Some(packs) => packs,
        None => vec![JsonBody::required("packs", body.text("ref_or_id")?)?],
    };
    let execution = packs::uninstall(&rest.services.runtime, &packs, principal.user.clone()).await?;
    Ok((StatusCode::ACCEPTED, Json(json!({"execution_id": execution.id}))).into_response())
}

/// `POST /api/v1/packs/register` with `{packs, types, fail_on_failure}`: the counts registered.
pub async fn register(State(rest): State<Rest>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let request = RegisterRequest {
        packs: body.texts("packs")?.unwrap_or_default(),
        types: body.texts("types")?.unwrap_or_default(),
        fail_on_failure: body.flag("fail_on_failure")?.unwrap_or(true),
    };
    let counts = packs::register(&rest.services.runtime, request).await?;
    Ok(Json(json!(counts)).into_response())
}

/// `GET /api/v1/packs/index`: `{status, index}`.
pub async fn index(State(rest): State<Rest>) -> Result<Response, Fault> {
    let runtime = rest.services.runtime.clone();
    let index = blocking(move || packs::pack_index(&runtime, false)).await?;
    let status: Vec<Value> = index.statuses.iter().map(views::index_status).collect();
    Ok(Json(json!({"status": status, "index": index.packs})).into_response())
}

/// `GET /api/v1/packs/index/health`: how many index files are valid and how many packs they
/// hold.
pub async fn index_health(State(rest): State<Rest>) -> Result<Response, Fault> {
    let runtime = rest.services.runtime.clone();
    let index = blocking(move || packs::pack_index(&runtime, true)).await?;
    let mut errors = serde_json::Map::new();
    for error in index.statuses.iter().filter_map(|s| s.error) {
        let count = errors.get(error).and_then(Value::as_u64).unwrap_or(0) + 1;
        errors.insert(error.to_string(), json!(count));
    }
    let invalid = index.statuses.iter().filter(|s| s.error.is_some()).count();
    Ok(Json(json!({
        "indexes": {
            "count": index.statuses.len(),
            "valid": index.statuses.len() - invalid,
            "invalid": invalid,
            "errors": errors,
            "status": index.statuses.iter().map(views::index_status).collect::<Vec<_>>(),
        },
        "packs": {"count": index.statuses.iter().map(|s| s.packs).sum::<usize>()},
    }))
    .into_response())
}

/// `POST /api/v1/packs/index/search` with `{query}` (a list of packs) or `{pack}` (one pack,
/// or `[]` when the index does not have it).
pub async fn index_search(State(rest): State<Rest>, body: Bytes) -> Result<Response, Fault> {
    let body = JsonBody::parse(&body)?;
    let query = match (body.text("query")?, body.text("pack")?) {
        (Some(query), None) => IndexQuery::Query(query),
        (None, Some(pack)) => IndexQuery::Pack(pack),
        _ => return Err(Fault::bad_request("give exactly one of \"query\" and \"pack\" (field \"query\")")),
    };
    let runtime = rest.services.runtime.clone();
    let answer = match blocking(move || packs::search_index(&runtime, &query)).await? {
        Found::Packs(packs) => Value::Array(packs),
        Found::Pack(Some(pack)) => pack,
        Found::Pack(None) => json!([]),
    };
    Ok(Json(answer).into_response())
}

/// `GET /api/v1/config_schemas`.
pub async fn config_schemas(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let page = window.cut(packs::config_schemas(&rest.services.published.registry()));
    let items = page.items.iter().map(views::config_schema).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

/// `GET /api/v1/config_schemas/{pack_ref}`.
pub async fn config_schema(State(rest): State<Rest>, Path(pack_ref): Path<String>) -> Result<Response, Fault> {
    let schema = packs::config_schema(&rest.services.published.registry(), &pack_ref)?;
    Ok(Json(views::config_schema(&schema)).into_response())
}

/// `GET /api/v1/configs[?show_secrets=true]`.
pub async fn configs(State(rest): State<Rest>, RawQuery(query): RawQuery) -> Result<Response, Fault> {
    let params = Params::parse(query.as_deref());
    let (window, attributes) = (params.window()?, Attributes::from_params(&params)?);
    let show_secrets = params.flag("show_secrets")?;
    let page = window.cut(packs::configs(&rest.services.published.registry(), show_secrets));
    let items = page.items.iter().map(views::pack_config).collect();
    Ok(list_answer(items, page.total, window, &attributes))
}

/// `GET /api/v1/configs/{pack_ref}[?show_secrets=true]`.
pub async fn config(
    State(rest): State<Rest>,
    Path(pack_ref): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Fault> {
    let show_secrets = Params::parse(query.as_deref()).flag("show_secrets")?;
    let config = packs::config(&rest.services.published.registry(), &pack_ref, show_secrets)?;
    Ok(Json(views::pack_config(&config)).into_response())
}

/// `PUT /api/v1/configs/{pack_ref}` with the values: written to `<config-dir>/<pack>.yaml` when
/// they pass the pack's schema (a 400 naming the field otherwise), then reloaded.
pub async fn put_config(
    State(rest): State<Rest>,
    Path(pack_ref): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, Fault> {
    let show_secrets = Params::parse(query.as_deref()).flag("show_secrets")?;
    let values = JsonBody::parse(&body)?.into_map();
    let config = packs::set_config(&rest.services, &pack_ref, values, show_secrets).await?;
    Ok(Json(views::pack_config(&config)).into_response())
}

/// `GET /api/v1/packs/views/files/{ref_or_id}`: `[{file_path, content}]` of the pack's text
/// files.
pub async fn files(State(rest): State<Rest>, Path(ref_or_id): Path<String>) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let files = blocking(move || packs::pack_files(&registry, &ref_or_id)).await?;
    let items: Vec<Value> = files.iter().map(|f| json!({"file_path": f.path, "content": f.content})).collect();
    Ok(Json(Value::Array(items)).into_response())
}

/// `GET /api/v1/packs/views/file/{ref_or_id}/{file_path}`: the file itself, with its
/// `Content-Type`, `ETag` (its modification time, as StackStorm's `repr(st_mtime)`) and
/// `Last-Modified`; 304 when `If-None-Match` or `If-Modified-Since` still hold.
pub async fn file(
    State(rest): State<Rest>,
    Path((ref_or_id, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Fault> {
    let registry = rest.services.published.registry();
    let file = blocking(move || packs::pack_file(&registry, &ref_or_id, &path)).await?;
    let modified: chrono::DateTime<chrono::Utc> = file.modified.into();
    let etag = st2d_core::pyfmt::float_repr(
        file.modified.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default(),
    );
    let last_modified = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let header_text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let unchanged = match (header_text(header::IF_NONE_MATCH), header_text(header::IF_MODIFIED_SINCE)) {
        (Some(tag), _) => tag.trim_matches('"') == etag,
        (None, Some(since)) => since == last_modified,
        (None, None) => false,
    };
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, file.content_type)], file.bytes).into_response()
    };
    for (name, value) in [(header::ETAG, etag), (header::LAST_MODIFIED, last_modified)] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}
