//! Probes for supervisors and load balancers, answered without credentials: `GET /healthz`
//! (the daemon answers) and `GET /readyz` (the registry is loaded, the store answers, the
//! journal writes, the data directory's filesystem has its reserve).
//!
//! Owns: what "ready" means and the probe answers. Must not: change anything, or reveal more
//! than which check failed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::Ingress;

/// `GET /healthz`: the process is alive and its runtime answers.
pub(super) async fn healthz() -> Response {
    (StatusCode::OK, [(CONTENT_TYPE, "text/plain; charset=utf-8")], "ok\n").into_response()
}

/// `GET /readyz`: 200 when every check passes, else 503 naming the checks that failed.
pub(super) async fn readyz(State(state): State<Arc<Ingress>>) -> Response {
    let mut failed = Vec::new();
    if state.services.published.registry().generation == 0 {
        failed.push("registry: the packs are not loaded yet");
    }
    if let Err(error) = state.services.runtime.store.processed_through() {
        tracing::warn!(error = %error, "readiness: the store does not answer");
        failed.push("store: the store does not answer");
    }
    if !state.services.runtime.journal.writable() {
        failed.push("journal: trigger instances cannot be written");
    }
    if state.services.runtime.journal.admission().disk_refusal().is_some() {
        failed.push("disk: the data directory's filesystem is below its reserve (--disk-reserve-mb)");
    }
    let (status, text) = if failed.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready\n{}\n", failed.join("\n")))
    };
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}
