//! The HTTP listener (off unless `--http-listen` is given): StackStorm's REST API (`rest`),
//! its webhook endpoints and the Prometheus page (`GET /metrics`), behind the credentials gate
//! (`gate`), with a body size limit and the body types StackStorm decodes (JSON, form, plain
//! text). Paths are matched with or without a trailing slash, as StackStorm's router does.
//!
//! Probes (`GET /healthz`, `GET /readyz`), `POST /auth/v1/tokens` and the web UI's static files
//! (`--webui-dir`, at `/`) answer without a token; CORS (`--http-allow-origin`) wraps it all.
//!
//! Owns: the listener, the gate and request decoding. Must not: start on a non-loopback
//! address without credentials, or journal anything itself (webhooks do, through the journal).

mod cors;
mod gate;
mod probes;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::util::MapResponseLayer;

use crate::auth::Auth;
use crate::credentials::CredentialsError;
use crate::metrics::{METRICS, Snapshot};
use crate::rest::Rest;
use crate::service::Services;
use crate::signal::Reread;
use gate::Credentials;
use webhooks::{Answer, Webhooks, fault};

/// How the ingress is set up.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    pub listen: SocketAddr,
    /// A file of API keys, one per line (`St2-Api-Key`).
    pub api_keys_file: Option<PathBuf>,
    /// A file holding the bearer token (`Authorization: Bearer ...`).
    pub token_file: Option<PathBuf>,
    /// The largest request body, in bytes.
    pub max_body: usize,
    /// st2web's build, served at `/`.
    pub webui_dir: Option<PathBuf>,
    /// Origins admitted by CORS (`*` for any); none sends no CORS headers.
    pub allow_origins: Vec<String>,
    /// Users who log in (`/auth/v1/tokens`) and the TTL of their tokens.
    pub auth: crate::auth::AuthConfig,
}

/// Why the ingress did not start; each names the flag or address.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("--auth-users: {0}")]
    Auth(#[from] crate::auth::AuthError),
    #[error(
        "--http-listen {listen}: a listener beyond loopback needs --auth-users FILE, --http-api-keys FILE or --http-token-file FILE"
    )]
    NoCredentials { listen: SocketAddr },
    #[error("--webui-dir {}: not a directory with an index.html", .0.display())]
    WebUi(PathBuf),
    #[error("cannot listen on {listen}: {source}")]
    Listen { listen: SocketAddr, source: std::io::Error },
}

struct Ingress {
    webhooks: Arc<Webhooks>,
    credentials: Credentials,
    auth: Auth,
    services: Services,
}

/// A bound listener, ready to serve.
pub struct Bound {
    listener: tokio::net::TcpListener,
    credentials: Credentials,
    max_body: usize,
    token_ttl: u64,
    webui_dir: Option<PathBuf>,
    cors: Option<Arc<cors::Cors>>,
}

impl Bound {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The REST API's URL as actions reach it (`ST2_ACTION_API_URL`): the listener's address,
    /// loopback for an unspecified one.
    pub fn api_url(&self) -> Option<String> {
        let mut address = self.listener.local_addr().ok()?;
        if address.ip().is_unspecified() {
            address.set_ip(match address {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Some(format!("http://{address}/api/v1"))
    }

    /// What SIGHUP re-reads: the key and token files.
    pub fn rereads(&self) -> Vec<Arc<dyn Reread>> {
        let files = [&self.credentials.api_keys, &self.credentials.tokens];
        let mut rereads: Vec<Arc<dyn Reread>> =
            files.into_iter().flatten().map(|file| file.clone() as Arc<dyn Reread>).collect();
        rereads.extend(self.credentials.users.clone().map(|users| users as Arc<dyn Reread>));
        rereads
    }
}

/// Checks the configuration and binds the listener (before anything else starts, so a bad
/// configuration stops the daemon at once).
pub async fn bind(config: &IngressConfig) -> Result<Bound, IngressError> {
    let credentials = Credentials::load(config)?;
    if !credentials.required() && !config.listen.ip().is_loopback() {
        return Err(IngressError::NoCredentials { listen: config.listen });
    }
    if let Some(dir) = &config.webui_dir
        && !dir.join("index.html").is_file()
    {
        return Err(IngressError::WebUi(dir.clone()));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| IngressError::Listen { listen: config.listen, source })?;
    Ok(Bound {
        listener,
        credentials,
        max_body: config.max_body,
        token_ttl: config.auth.token_ttl,
        webui_dir: config.webui_dir.clone(),
        cors: cors::Cors::new(&config.allow_origins).map(Arc::new),
    })
}

/// Serves until `shutdown`.
pub async fn serve(bound: Bound, services: Services, shutdown: CancellationToken) {
    let runtime = &services.runtime;
    let auth = Auth::new(
        bound.credentials.users.clone(),
        runtime.store.clone(),
        runtime.action_tokens.clone(),
        bound.token_ttl,
    );
    let state = Arc::new(Ingress {
        webhooks: Webhooks::new(services.published.clone(), runtime.journal.clone()),
        credentials: bound.credentials,
        auth: auth.clone(),
        services: services.clone(),
    });
    let rest = Rest { services, auth };
    let gate = middleware::from_fn_with_state(state.clone(), authenticate);
    let mut hooks = Router::new()
        .route("/api/v1/webhooks/{*hook}", post(webhook).get(webhook_trigger))
        .route("/metrics", get(metrics_page))
        .with_state(state.clone());
    // Which credentials files there are is fixed at start (SIGHUP re-reads their contents);
    // without any, webhooks and metrics skip the gate. The REST API always passes it, as its
    // handlers act as the caller's user.
    if state.credentials.required() {
        hooks = hooks.layer(gate.clone());
    }
    let api = crate::rest::api(rest.clone()).layer(gate);
    // Probes answer without credentials (a supervisor's probe carries none); logging in takes
    // a user and password instead.
    let open = Router::new()
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .with_state(state)
        .merge(crate::rest::open(rest));
    let mut router = hooks.merge(api).merge(open);
    // The web UI's static files are public, as behind StackStorm's nginx: the API it calls is
    // what the gate guards.
    if let Some(dir) = &bound.webui_dir {
        router = router.fallback_service(tower_http::services::ServeDir::new(dir));
    }
    if let Some(cors) = bound.cors.clone() {
        router = router.layer(middleware::from_fn_with_state(cors, cors::answer));
    }
    let router = router.layer(DefaultBodyLimit::max(bound.max_body)).layer(MapResponseLayer::new(count_answer));
    let app = tower::util::MapRequest::new(router, without_trailing_slash as fn(Request) -> Request);
    let served = axum::serve(bound.listener, axum::ServiceExt::<Request>::into_make_service(app))
        .with_graceful_shutdown(async move { shutdown.cancelled().await });
    if let Err(error) = served.await {
        tracing::error!(error = %error, "the HTTP listener stopped");
    }
}

/// `/api/v1/actions/` is `/api/v1/actions`: StackStorm's clients add the slash at will.
fn without_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Counts every answer by status code, whichever layer gave it.
fn count_answer(response: Response) -> Response {
    METRICS.http_answered(response.status().as_u16());
    response
}

/// `GET /metrics`: the Prometheus text page.
async fn metrics_page(State(state): State<Arc<Ingress>>) -> Response {
    let registry = state.services.published.registry();
    let runtime = &state.services.runtime;
    let snapshot = Snapshot {
        registry_generation: registry.generation,
        executions_in_flight: runtime.executor.in_flight(),
        executions_queued: runtime.journal.admission().queued(),
        journal_depth: runtime.journal.admission().backlog(),
        sensors: runtime.sensors.overview(&registry),
    };
    let page = crate::metrics::render(&METRICS, &snapshot);
    (StatusCode::OK, [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response()
}

/// The gate: a request goes on with its acting user (`auth::Principal`), or is refused.
async fn authenticate(State(state): State<Arc<Ingress>>, mut request: Request, next: Next) -> Response {
    match state.credentials.admit(&state.auth, request.headers(), request.uri().query()) {
        Ok(admitted) => {
            request.extensions_mut().insert(admitted.principal);
            let mut response = next.run(request).await;
            if let Some(cookie) = admitted.cookie {
                response.headers_mut().append(SET_COOKIE, cookie);
            }
            response
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// `GET /api/v1/webhooks/{url}`: the REST API's view of the hook, on the path its `POST` shares.
async fn webhook_trigger(State(state): State<Arc<Ingress>>, Path(hook): Path<String>) -> Response {
    crate::rest::webhook_trigger(&state.services, &hook)
}

async fn webhook(
    State(state): State<Arc<Ingress>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if let Err(refusal) = state.services.runtime.journal.admission().admit() {
        return crate::rest::Fault::from(crate::service::ServiceError::from(refusal)).into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return reply(fault(rejection.status(), rejection.body_text())),
    };
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let parsed = match decode_body(content_type, &body) {
        Ok(parsed) => parsed,
        Err(answer) => return reply(answer),
    };
    let raw_json = matches!(parsed, Decoded::Json(_)) && !body.iter().all(u8::is_ascii_whitespace);
    let parsed = match parsed {
        Decoded::Json(value) | Decoded::Other(value) => value,
    };
    // A JSON body is echoed as it came (the JSON StackStorm echoes); any other is echoed as the
    // JSON it was decoded to, as StackStorm does.
    let echo = if raw_json { body } else { Bytes::from(parsed.to_string()) };
    match state.webhooks.post(&hook, &headers, parsed).await {
        Ok(()) => (StatusCode::ACCEPTED, [(CONTENT_TYPE, "application/json")], echo).into_response(),
        Err(answer) => reply(answer),
    }
}

/// A request body decoded by its content type.
pub enum Decoded {
    Json(Value),
    Other(Value),
}

/// Decodes a body as StackStorm's API router does: JSON (the default; an empty body is `{}`),
/// a form (`application/x-www-form-urlencoded`: each field to the list of its values, blank
/// values left out) or plain text (a string). Public for the fuzz harness, which feeds it
/// hostile bodies.
pub fn decode_body(content_type: &str, body: &[u8]) -> Result<Decoded, Answer> {
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let bad = |reason: String| fault(StatusCode::BAD_REQUEST, format!("Failed to parse request body: {reason}"));
    match media.as_str() {
        "application/json" | "" => {}
        media if media.ends_with("+json") => {}
        "application/x-www-form-urlencoded" => {
            let mut fields = serde_json::Map::new();
            for (name, value) in form_urlencoded::parse(body) {
                if value.is_empty() {
                    continue;
                }
                let values = fields.entry(name.into_owned()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(values) = values {
                    values.push(Value::String(value.into_owned()));
                }
            }
            return Ok(Decoded::Other(Value::Object(fields)));
        }
        "text/plain" => {
            let text = std::str::from_utf8(body).map_err(|error| bad(format!("the text is not UTF-8: {error}")))?;
            return Ok(Decoded::Other(Value::String(text.to_string())));
        }
        _ => {
            return Err(fault(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Unsupported Content-Type: \"{content_type}\"; send application/json, application/x-www-form-urlencoded or text/plain"
                ),
            ));
        }
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Decoded::Json(Value::Object(serde_json::Map::new())));
    }
    serde_json::from_slice(body).map(Decoded::Json).map_err(|error| bad(error.to_string()))
}

fn reply((status, body): Answer) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoded(content_type: &str, body: &str) -> Result<Value, StatusCode> {
        match decode_body(content_type, body.as_bytes()) {
            Ok(Decoded::Json(value) | Decoded::Other(value)) => Ok(value),
            Err((status, _)) => Err(status),
        }
    }

    #[test]
    fn bodies_are_decoded_as_stackstorm_decodes_them() {
        let cases: &[(&str, &str, Result<Value, StatusCode>)] = &[
            ("application/json", r#"{"a": [1, 2]}"#, Ok(json!({"a": [1, 2]}))),
            ("application/json; charset=utf-8", "  ", Ok(json!({}))),
            ("application/vnd.github+json", r#"{"zen": "ok"}"#, Ok(json!({"zen": "ok"}))),
            ("application/json", "{\"a\": ", Err(StatusCode::BAD_REQUEST)),
            (
                "application/x-www-form-urlencoded",
                "payload=%7B%22x%22%3A1%7D&tag=a+b&tag=c&empty=",
                Ok(json!({"payload": ["{\"x\":1}"], "tag": ["a b", "c"]})),
            ),
            ("text/plain; charset=utf-8", "disk full on web-1", Ok(json!("disk full on web-1"))),
            ("application/xml", "<a/>", Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
        ];
        for (content_type, body, expected) in cases {
            assert_eq!(&decoded(content_type, body), expected, "{content_type}: {body}");
        }
    }
}
