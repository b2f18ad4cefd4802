//! CORS for browser pages on other origins (`--http-allow-origin`), as StackStorm's
//! st2common/middleware/cors.py answers: every answer names the allowed origin (the caller's
//! when admitted, else the first allowed one, which a browser then refuses), the methods and
//! headers StackStorm's clients use, and exposes the count headers; a preflight `OPTIONS`
//! answers at once, before the gate. Deliberate difference: without the flag no CORS header is
//! sent (StackStorm always admits its development origins; st2d serves the web UI itself).
//!
//! Owns: the CORS headers and preflight answers. Must not: admit a request the gate refuses
//! (a preflight carries no credentials and reaches nothing behind the gate).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ORIGIN,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The origins admitted.
#[derive(Debug)]
pub struct Cors {
    origins: Vec<String>,
}

impl Cors {
    /// `None` when no origin is configured.
    pub fn new(origins: &[String]) -> Option<Self> {
        let origins: Vec<String> =
            origins.iter().map(|o| o.trim().trim_end_matches('/').to_string()).filter(|o| !o.is_empty()).collect();
        (!origins.is_empty()).then_some(Self { origins })
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`.
    fn allowed(&self, origin: Option<&str>) -> String {
        match origin {
            Some(origin) if self.origins.iter().any(|o| o == "*" || o == origin) => origin.to_string(),
            _ => self.origins[0].clone(),
        }
    }

    fn decorate(&self, origin: Option<&str>, headers: &mut HeaderMap) {
        let allowed = HeaderValue::from_str(&self.allowed(origin)).unwrap_or(HeaderValue::from_static("null"));
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET,POST,PUT,DELETE,OPTIONS"));
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type,Authorization,X-Auth-Token,St2-Api-Key,X-Request-ID"),
        );
        headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Type,X-Limit,X-Total-Count,X-Request-ID"),
        );
    }
}

/// The middleware: a preflight is answered here; any other request goes on and its answer gets
/// the headers.
pub async fn answer(State(cors): State<Arc<Cors>>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
    let mut response =
        if request.method() == Method::OPTIONS { StatusCode::OK.into_response() } else { next.run(request).await };
    cors.decorate(origin.as_deref(), response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_admitted_origin_is_echoed_and_any_other_gets_the_first() {
        assert!(Cors::new(&[]).is_none());
        let cors = Cors::new(&["https://ui.example".into(), "http://localhost:3000/".into()]).expect("configured");
        assert_eq!(cors.allowed(Some("http://localhost:3000")), "http://localhost:3000");
        assert_eq!(cors.allowed(Some("https://evil.example")), "https://ui.example");
        assert_eq!(cors.allowed(None), "https://ui.example");
        let any = Cors::new(&["*".into()]).expect("configured");
        assert_eq!(any.allowed(Some("https://a.example")), "https://a.example");
    }
}
