//! The HTTP ingress (off unless `--http-listen` is given): StackStorm's webhook endpoints, with
//! an API key (`St2-Api-Key` header or `?st2-api-key=`) or a bearer token from a file, a body
//! size limit, and JSON bodies only.
//!
//! Owns: the listener, authentication and request decoding. Must not: start on a non-loopback
//! address without credentials, or journal anything itself (webhooks do, through the journal).

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
use axum::routing::post;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::reload::Published;
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

/// Credentials a request may carry; empty means none are asked for.
#[derive(Debug, Default)]
struct Credentials {
    api_keys: Vec<String>,
    tokens: Vec<String>,
}

impl Credentials {
    fn load(config: &IngressConfig) -> Result<Self, String> {
        let read = |path: &PathBuf| -> Result<Vec<String>, String> {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let lines: Vec<String> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
            if lines.is_empty() {
                return Err(format!("{} holds no credential", path.display()));
            }
            Ok(lines)
        };
        Ok(Self {
            api_keys: config.api_keys_file.as_ref().map(read).transpose()?.unwrap_or_default(),
            tokens: config.token_file.as_ref().map(read).transpose()?.unwrap_or_default(),
        })
    }

    fn required(&self) -> bool {
        !self.api_keys.is_empty() || !self.tokens.is_empty()
    }

    fn admits(&self, headers: &HeaderMap, query: Option<&str>) -> bool {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        let key = header("st2-api-key").map(String::from).or_else(|| {
            query.and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("st2-api-key=").map(String::from)))
        });
        if let Some(key) = key
            && self.api_keys.iter().any(|k| constant_time_eq(k.as_bytes(), key.as_bytes()))
        {
            return true;
        }
        if let Some(token) = header("authorization").and_then(|a| a.strip_prefix("Bearer ")) {
            return self.tokens.iter().any(|t| constant_time_eq(t.as_bytes(), token.trim().as_bytes()));
        }
        false
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

struct Ingress {
    webhooks: Arc<Webhooks>,
    credentials: Credentials,
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
}

/// Checks the configuration and binds the listener (before anything else starts, so a bad
/// configuration stops the daemon at once).
pub async fn bind(config: &IngressConfig) -> Result<Bound, String> {
    let credentials = Credentials::load(config)?;
    if !credentials.required() && !config.listen.ip().is_loopback() {
        return Err(format!(
            "--http-listen {}: a listener beyond loopback needs --http-api-keys FILE or --http-token-file FILE",
            config.listen
        ));
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    Ok(Bound { listener, credentials, max_body: config.max_body })
}

/// Serves until `shutdown`.
pub async fn serve(bound: Bound, published: Published, journal: Journal, shutdown: CancellationToken) {
    let state = Arc::new(Ingress { webhooks: Webhooks::new(published, journal), credentials: bound.credentials });
    let router = Router::new()
        .route("/api/v1/webhooks/{*hook}", post(webhook))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(bound.max_body))
        .with_state(state);
    let served = axum::serve(bound.listener, router).with_graceful_shutdown(async move { shutdown.cancelled().await });
    if let Err(error) = served.await {
        tracing::error!(error = %error, "the HTTP listener stopped");
    }
}

async fn authenticate(State(state): State<Arc<Ingress>>, request: Request, next: Next) -> Response {
    if state.credentials.required() && !state.credentials.admits(request.headers(), request.uri().query()) {
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
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    if !content_type.starts_with("application/json") && !content_type.contains("+json") {
        return reply(fault(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content type \"{content_type}\" is not supported; send application/json"),
        ));
    }
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let parsed: Value = if empty {
        Value::Object(serde_json::Map::new())
    } else {
        match serde_json::from_slice(&body) {
            Ok(value) => value,
            Err(error) => {
                return reply(fault(StatusCode::BAD_REQUEST, format!("Failed to parse request body: {error}")));
            }
        }
    };
    match state.webhooks.post(&hook, &headers, parsed).await {
        // The body is echoed as it came: it is the JSON StackStorm echoes.
        Ok(()) => {
            let echo = if empty { Bytes::from_static(b"{}") } else { body };
            (StatusCode::ACCEPTED, [(CONTENT_TYPE, "application/json")], echo).into_response()
        }
        Err(answer) => reply(answer),
    }
}

fn reply((status, body): Answer) -> Response {
    (status, axum::Json(body)).into_response()
}
