//! The HTTP ingress (off unless `--http-listen` is given): StackStorm's webhook endpoints and
//! the Prometheus page (`GET /metrics`), with an API key (`St2-Api-Key` header or
//! `?st2-api-key=`) or a token from a file (`Authorization: Bearer`, `X-Auth-Token` or
//! `?x-auth-token=`), a body size limit, and the body types StackStorm decodes (JSON, form,
//! plain text).
//!
//! Probes (`GET /healthz`, `GET /readyz`) answer without credentials.
//!
//! Owns: the listener, authentication and request decoding. Must not: start on a non-loopback
//! address without credentials, or journal anything itself (webhooks do, through the journal).

mod probes;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::util::MapResponseLayer;

use crate::credentials::{CredentialsError, SecretsFile};
use crate::executor::Executor;
use crate::metrics::{METRICS, Snapshot};
use crate::reload::Published;
use crate::sensor::supervisor::Supervisor;
use crate::signal::Reread;
use crate::store::Store;
use crate::trigger::journal::Journal;
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
}

/// Why the ingress did not start; each names the flag or address.
#[derive(Debug, thiserror::Error)]
pub enum IngressError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    #[error("--http-listen {listen}: a listener beyond loopback needs --http-api-keys FILE or --http-token-file FILE")]
    NoCredentials { listen: SocketAddr },
    #[error("cannot listen on {listen}: {source}")]
    Listen { listen: SocketAddr, source: std::io::Error },
}

/// Credentials a request may carry (re-read on SIGHUP); none means none are asked for.
#[derive(Debug, Default)]
struct Credentials {
    api_keys: Option<Arc<SecretsFile>>,
    tokens: Option<Arc<SecretsFile>>,
}

impl Credentials {
    fn load(config: &IngressConfig) -> Result<Self, IngressError> {
        let open = |path: &PathBuf| SecretsFile::open(path);
        Ok(Self {
            api_keys: config.api_keys_file.as_ref().map(open).transpose()?,
            tokens: config.token_file.as_ref().map(open).transpose()?,
        })
    }

    fn required(&self) -> bool {
        self.api_keys.is_some() || self.tokens.is_some()
    }

    /// An API key from the `St2-Api-Key` header or `?st2-api-key=`, or a token from
    /// `Authorization: Bearer`, the `X-Auth-Token` header or `?x-auth-token=`.
    fn admits(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
        let parameter = |name: &str| {
            query.and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            })
        };
        let known = |file: &Option<Arc<SecretsFile>>, given: Option<String>| {
            given.is_some_and(|given| file.as_ref().is_some_and(|file| file.admits(&given)))
        };
        let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(|t| t.trim().to_string()));
        known(&self.api_keys, header("st2-api-key"))
            || known(&self.api_keys, parameter("st2-api-key"))
            || known(&self.tokens, bearer)
            || known(&self.tokens, header("x-auth-token"))
            || known(&self.tokens, parameter("x-auth-token"))
    }
}

struct Ingress {
    webhooks: Arc<Webhooks>,
    credentials: Credentials,
    published: Published,
    sensors: Supervisor,
    executor: Executor,
    journal: Journal,
    store: Store,
}

/// What the ingress serves from: the registry, the journal webhooks write to, and the owners
/// of the state the metrics page shows.
pub struct Sources {
    pub published: Published,
    pub journal: Journal,
    pub sensors: Supervisor,
    pub executor: Executor,
    pub store: Store,
}

/// A bound listener, ready to serve.
pub struct Bound {
    listener: tokio::net::TcpListener,
    credentials: Credentials,
    max_body: usize,
}

impl Bound {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// What SIGHUP re-reads: the key and token files.
    pub fn rereads(&self) -> Vec<Arc<dyn Reread>> {
        let files = [&self.credentials.api_keys, &self.credentials.tokens];
        files.into_iter().flatten().map(|file| file.clone() as Arc<dyn Reread>).collect()
    }
}

/// Checks the configuration and binds the listener (before anything else starts, so a bad
/// configuration stops the daemon at once).
pub async fn bind(config: &IngressConfig) -> Result<Bound, IngressError> {
    let credentials = Credentials::load(config)?;
    if !credentials.required() && !config.listen.ip().is_loopback() {
        return Err(IngressError::NoCredentials { listen: config.listen });
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| IngressError::Listen { listen: config.listen, source })?;
    Ok(Bound { listener, credentials, max_body: config.max_body })
}

/// Serves until `shutdown`.
pub async fn serve(bound: Bound, sources: Sources, shutdown: CancellationToken) {
    let state = Arc::new(Ingress {
        webhooks: Webhooks::new(sources.published.clone(), sources.journal.clone()),
        credentials: bound.credentials,
        published: sources.published,
        sensors: sources.sensors,
        executor: sources.executor,
        journal: sources.journal,
        store: sources.store,
    });
    let mut router =
        Router::new().route("/api/v1/webhooks/{*hook}", post(webhook)).route("/metrics", get(metrics_page));
    // Which credentials files there are is fixed at start (SIGHUP re-reads their contents).
    if state.credentials.required() {
        router = router.layer(middleware::from_fn_with_state(state.clone(), authenticate));
    }
    let router = router
        // Probes answer without credentials (a supervisor's probe carries none).
        .route("/healthz", get(probes::healthz))
        .route("/readyz", get(probes::readyz))
        .layer(DefaultBodyLimit::max(bound.max_body))
        .layer(MapResponseLayer::new(count_answer))
        .with_state(state);
    let served = axum::serve(bound.listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await });
    if let Err(error) = served.await {
        tracing::error!(error = %error, "the HTTP listener stopped");
    }
}

/// Counts every answer by status code, whichever layer gave it.
fn count_answer(response: Response) -> Response {
    METRICS.http_answered(response.status().as_u16());
    response
}

/// `GET /metrics`: the Prometheus text page.
async fn metrics_page(State(state): State<Arc<Ingress>>) -> Response {
    let registry = state.published.registry();
    let snapshot = Snapshot {
        registry_generation: registry.generation,
        executions_in_flight: state.executor.in_flight(),
        sensors: state.sensors.overview(&registry),
    };
    let page = crate::metrics::render(&METRICS, &snapshot);
    (StatusCode::OK, [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response()
}

async fn authenticate(State(state): State<Arc<Ingress>>, request: Request, next: Next) -> Response {
    if !state.credentials.admits(request.headers(), request.uri().query()) {
        return reply(fault(
            StatusCode::UNAUTHORIZED,
            "Unauthorized - a valid St2-Api-Key or bearer token is required",
        ));
    }
    next.run(request).await
}

async fn webhook(
    State(state): State<Arc<Ingress>>,
    Path(hook): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
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
enum Decoded {
    Json(Value),
    Other(Value),
}

/// Decodes a body as StackStorm's API router does: JSON (the default; an empty body is `{}`),
/// a form (`application/x-www-form-urlencoded`: each field to the list of its values, blank
/// values left out) or plain text (a string).
fn decode_body(content_type: &str, body: &[u8]) -> Result<Decoded, Answer> {
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

    #[test]
    fn credentials_come_from_stackstorms_headers_and_query_parameters() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str, secret: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, secret).expect("write");
            Some(SecretsFile::open(&path).expect("readable"))
        };
        let credentials = Credentials { api_keys: file("keys", "k3y"), tokens: file("tokens", "t0k") };
        let with = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().expect("a header value"));
            headers
        };
        let none = HeaderMap::new();
        assert!(credentials.admits(&with("st2-api-key", "k3y"), None));
        assert!(credentials.admits(&none, Some("a=1&st2-api-key=k3y")));
        assert!(credentials.admits(&with("authorization", "Bearer t0k"), None));
        assert!(credentials.admits(&with("x-auth-token", "t0k"), None));
        assert!(credentials.admits(&none, Some("x-auth-token=t0k")));
        // A key is not a token, nor the other way round.
        assert!(!credentials.admits(&with("x-auth-token", "k3y"), None));
        assert!(!credentials.admits(&with("st2-api-key", "t0k"), None));
        assert!(!credentials.admits(&with("authorization", "Basic t0k"), None));
        assert!(!credentials.admits(&none, Some("st2-api-key=k3")));
        assert!(!credentials.admits(&none, None));
    }
}
