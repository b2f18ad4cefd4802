//! Who may call: the Unix socket is open (its file mode is the permission), every call on a TCP
//! listener needs `authorization: Bearer TOKEN` with a token from `--grpc-token-file`, and the
//! health service may be left open for probes (`--grpc-health-open`).
//!
//! Owns: the interceptor that checks the bearer token and counts refusals. Must not: compare
//! tokens itself (`credentials` does, in constant time) or log the token presented.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tonic::{Request, Status};

use super::status;
use crate::credentials::SecretsFile;
use crate::metrics::METRICS;

/// The check in front of a service on one listener.
#[derive(Debug, Clone)]
pub enum Gate {
    Open,
    Bearer(Arc<SecretsFile>),
}

impl tonic::service::Interceptor for Gate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Gate::Bearer(tokens) = self else {
            return Ok(request);
        };
        let refusal = match bearer_token(&request) {
            Some(token) if tokens.admits(token) => return Ok(request),
            Some(_) => "the bearer token is not valid",
            None => "a bearer token is required: send the metadata authorization: Bearer TOKEN",
        };
        METRICS.grpc_unauthenticated.fetch_add(1, Ordering::Relaxed);
        let peer = request.remote_addr().map(|addr| addr.to_string()).unwrap_or_default();
        tracing::debug!(peer, "{refusal}");
        Err(status::unauthenticated(refusal))
    }
}

/// The token of `authorization: Bearer TOKEN` (the scheme in any case, as HTTP has it).
fn bearer_token<T>(request: &Request<T>) -> Option<&str> {
    let value = request.metadata().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    fn request(authorization: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = authorization {
            request.metadata_mut().insert("authorization", value.parse().expect("ascii"));
        }
        request
    }

    #[test]
    fn only_a_known_bearer_token_passes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("tokens");
        std::fs::write(&path, "s3cret\nother\n").expect("write");
        let mut gate = Gate::Bearer(SecretsFile::open(&path).expect("tokens"));
        for admitted in ["Bearer s3cret", "bearer other", "BEARER  s3cret "] {
            assert!(gate.call(request(Some(admitted))).is_ok(), "{admitted}");
        }
        let before = METRICS.grpc_unauthenticated.load(Ordering::Relaxed);
        for (refused, message) in [
            (Some("Bearer wrong"), "the bearer token is not valid"),
            (Some("Basic s3cret"), "a bearer token is required"),
            (Some("Bearer "), "a bearer token is required"),
            (Some("s3cret"), "a bearer token is required"),
            (None, "a bearer token is required"),
        ] {
            let status = gate.call(request(refused)).expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{refused:?}");
            assert!(status.message().starts_with(message), "{refused:?}: {}", status.message());
        }
        assert!(METRICS.grpc_unauthenticated.load(Ordering::Relaxed) >= before + 5);
        assert!(Gate::Open.call(request(None)).is_ok());
    }
}
