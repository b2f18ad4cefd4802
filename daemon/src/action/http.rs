//! The http-request runner (ST2-COMPAT.md 2.6): one HTTP request built from the runner
//! parameters (url, headers, cookies, username/password, proxies, allow_redirects,
//! verify_ssl_cert, host allow/deny lists) and the action's (method, body, params, auth,
//! timeout); the result `{status_code, body, parsed, headers}`, succeeded for 200-206.
//!
//! Response header names come back title-cased (`Content-Type`): the HTTP stack reads them
//! lowercased, and servers send them title-cased nearly always. Digest auth and file uploads
//! are refused with an error; response bodies are kept up to `BODY_CAP`.
//!
//! Owns: that runner. Must not: run processes.

use std::time::Duration;

use reqwest::{Method, Url};
use serde_json::{Map, Value, json};

use crate::runner::Job;
use crate::runner::Outcome;
use st2d_core::pyfmt::{json_dumps, py_str};
use st2d_core::status::ExecutionStatus;

/// The most bytes of a response body kept (results are stored and sent over gRPC).
pub const BODY_CAP: usize = 2 * 1024 * 1024;

/// StackStorm's default request timeout, in seconds.
const DEFAULT_TIMEOUT: f64 = 60.0;

/// Why a request could not be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("url is required")]
    NoUrl,
    #[error("url \"{0}\" is invalid: {1}")]
    BadUrl(String, String),
    #[error("method \"{0}\" is invalid")]
    BadMethod(String),
    #[error(
        "\"url_hosts_blacklist\" and \"url_hosts_whitelist\" parameters are mutually exclusive. Only one should be provided."
    )]
    BothHostLists,
    #[error("URL \"{0}\" is blacklisted")]
    Blacklisted(String),
    #[error("URL \"{0}\" is not whitelisted")]
    NotWhitelisted(String),
    #[error("Request body ({0}) can't be parsed as JSON")]
    BodyNotJson(String),
    #[error("auth \"{0}\" is not supported (use the username and password parameters for basic auth)")]
    Auth(String),
    #[error("file uploads (file_name, file_content) are not supported")]
    Files,
    #[error("proxy \"{0}\" is invalid: {1}")]
    BadProxy(String, String),
}

/// One request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub url: Url,
    pub method: Method,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub basic_auth: Option<(String, String)>,
    pub timeout: f64,
    pub allow_redirects: bool,
    pub verify_ssl_cert: bool,
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
}

/// Runs an http-request job.
pub async fn run(job: &Job<'_>) -> Outcome {
    let request = match HttpRequest::build(&job.action.name, &job.runner, &job.params) {
        Ok(request) => request,
        Err(error) => return Outcome::failed(error.to_string()),
    };
    tokio::select! {
        outcome = request.send() => outcome,
        () = job.cancel.cancelled() => Outcome { status: ExecutionStatus::Canceled, result: json!({"error": "the request was canceled"}) },
    }
}

fn text(map: &Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).filter(|v| !v.is_null()).map(py_str).filter(|t| !t.is_empty())
}

fn hosts(map: &Map<String, Value>, name: &str) -> Vec<String> {
    match map.get(name) {
        Some(Value::Array(items)) => items.iter().map(py_str).collect(),
        _ => Vec::new(),
    }
}

impl HttpRequest {
    /// Builds the request of action `action_name` from its runner and action parameters.
    pub fn build(
        action_name: &str,
        runner: &Map<String, Value>,
        params: &Map<String, Value>,
    ) -> Result<Self, RequestError> {
        let raw_url = text(runner, "url").or_else(|| text(params, "url")).ok_or(RequestError::NoUrl)?;
        let mut url = Url::parse(&raw_url).map_err(|e| RequestError::BadUrl(raw_url.clone(), e.to_string()))?;
        let (blacklist, whitelist) = (hosts(runner, "url_hosts_blacklist"), hosts(runner, "url_hosts_whitelist"));
        if !blacklist.is_empty() && !whitelist.is_empty() {
            return Err(RequestError::BothHostLists);
        }
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_string();
        if blacklist.contains(&host) {
            return Err(RequestError::Blacklisted(raw_url));
        }
        if !whitelist.is_empty() && !whitelist.contains(&host) {
            return Err(RequestError::NotWhitelisted(raw_url));
        }
        if text(params, "file_name").is_some() && text(params, "file_content").is_some() {
            return Err(RequestError::Files);
        }
        if let Some(auth) = text(params, "auth").filter(|a| !a.eq_ignore_ascii_case("basic") && a != "{}") {
            return Err(RequestError::Auth(auth));
        }
        if let Some(Value::Object(query)) = params.get("params") {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                match value {
                    Value::Null => {}
                    Value::Array(items) => {
                        for item in items.iter().filter(|i| !i.is_null()) {
                            pairs.append_pair(name, &py_str(item));
                        }
                    }
                    other => {
                        pairs.append_pair(name, &py_str(other));
                    }
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let mut headers: Vec<(String, String)> = match runner.get("headers") {
            Some(Value::Object(headers)) => {
                headers.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), py_str(v))).collect()
            }
            _ => Vec::new(),
        };
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case("user-agent") && name != "X-Stanley-Action");
        headers.push(("User-Agent".to_string(), format!("st2/v{}", env!("CARGO_PKG_VERSION"))));
        headers.push(("X-Stanley-Action".to_string(), action_name.to_string()));
        if let Some(Value::Object(cookies)) = runner.get("cookies")
            && !cookies.is_empty()
        {
            let cookie = cookies.iter().map(|(k, v)| format!("{k}={}", py_str(v))).collect::<Vec<_>>().join("; ");
            headers.push(("Cookie".to_string(), cookie));
        }
        let json_content = headers
            .iter()
            .any(|(name, value)| name.eq_ignore_ascii_case("content-type") && value == "application/json");
        let body = body_bytes(params.get("body"), json_content)?;
        let method = match text(params, "method") {
            Some(method) => Method::from_bytes(method.to_ascii_uppercase().as_bytes())
                .map_err(|_| RequestError::BadMethod(method.clone()))?,
            None if body.is_some() => Method::POST,
            None => Method::GET,
        };
        let (username, password) = (text(runner, "username"), text(runner, "password"));
        let basic_auth = (username.is_some() || password.is_some())
            .then(|| (username.unwrap_or_default(), password.unwrap_or_default()));
        let timeout = match params.get("timeout") {
            Some(Value::Number(number)) => number.as_f64().unwrap_or(DEFAULT_TIMEOUT),
            Some(Value::String(text)) => text.trim().parse().unwrap_or(DEFAULT_TIMEOUT),
            _ => DEFAULT_TIMEOUT,
        };
        let flag = |name: &str, default: bool| runner.get(name).and_then(Value::as_bool).unwrap_or(default);
        Ok(Self {
            url,
            method,
            headers,
            body,
            basic_auth,
            timeout,
            allow_redirects: flag("allow_redirects", false),
            verify_ssl_cert: flag("verify_ssl_cert", true),
            http_proxy: text(runner, "http_proxy"),
            https_proxy: text(runner, "https_proxy"),
        })
    }

    fn client(&self) -> Result<reqwest::Client, RequestError> {
        // The crypto provider rustls uses; installing it again is a harmless no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let redirects =
            if self.allow_redirects { reqwest::redirect::Policy::default() } else { reqwest::redirect::Policy::none() };
        let mut builder = reqwest::Client::builder()
            .redirect(redirects)
            .tls_danger_accept_invalid_certs(!self.verify_ssl_cert)
            .timeout(Duration::from_secs_f64(self.timeout.clamp(0.001, 365.0 * 24.0 * 3600.0)));
        if let Some(proxy) = &self.http_proxy {
            builder = builder
                .proxy(reqwest::Proxy::http(proxy).map_err(|e| RequestError::BadProxy(proxy.clone(), e.to_string()))?);
        }
        if let Some(proxy) = &self.https_proxy {
            builder = builder
                .proxy(reqwest::Proxy::https(proxy).map_err(|e| RequestError::BadProxy(proxy.clone(), e.to_string()))?);
        }
        builder.build().map_err(|e| RequestError::BadProxy(String::new(), error_chain(&e)))
    }

    /// Sends the request and shapes StackStorm's result.
    pub async fn send(&self) -> Outcome {
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => return Outcome::failed(error.to_string()),
        };
        let mut request = client.request(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some((username, password)) = &self.basic_auth {
            request = request.basic_auth(username, Some(password));
        }
        if let Some(body) = &self.body {
            request = request.body(body.clone());
        }
        let answer = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let mut headers = Map::new();
            for (name, value) in response.headers() {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                let name = title_case(name.as_str());
                let joined = match headers.get(&name).and_then(Value::as_str) {
                    Some(before) => format!("{before}, {value}"),
                    None => value,
                };
                headers.insert(name, Value::String(joined));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                body.extend_from_slice(&chunk[..chunk.len().min(BODY_CAP.saturating_sub(body.len()))]);
                if body.len() >= BODY_CAP {
                    break;
                }
            }
            Ok::<_, reqwest::Error>((status, headers, body))
        };
        match answer.await {
            Ok((status_code, headers, body)) => {
                let (body, parsed) = parse_body(&headers, &String::from_utf8_lossy(&body));
                let status = if (200..=206).contains(&status_code) {
                    ExecutionStatus::Succeeded
                } else {
                    ExecutionStatus::Failed
                };
                Outcome {
                    status,
                    result: json!({"status_code": status_code, "body": body, "parsed": parsed, "headers": headers}),
                }
            }
            Err(error) if error.is_timeout() => Outcome {
                status: ExecutionStatus::Timeout,
                result: json!({"error": format!("request to {} timed out ({} seconds)", self.url, self.timeout)}),
            },
            Err(error) => Outcome::failed(error_chain(&error)),
        }
    }
}

/// The request body: JSON bodies (content-type `application/json`) are parsed and re-encoded
/// as Python's json.dumps writes them; objects otherwise go form-encoded, as requests does.
fn body_bytes(body: Option<&Value>, json_content: bool) -> Result<Option<Vec<u8>>, RequestError> {
    let Some(body) = body.filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    if let Value::String(text) = body
        && text.is_empty()
    {
        return Ok(None);
    }
    if json_content {
        let value = match body {
            Value::String(text) => serde_json::from_str(text).map_err(|_| RequestError::BodyNotJson(text.clone()))?,
            other => other.clone(),
        };
        return Ok(Some(json_dumps(&value).into_bytes()));
    }
    Ok(Some(match body {
        Value::String(text) => text.clone().into_bytes(),
        Value::Object(fields) => {
            let mut form =
                Url::parse("http://form.invalid/").map_err(|e| RequestError::BadUrl(String::new(), e.to_string()))?;
            form.query_pairs_mut().extend_pairs(fields.iter().map(|(k, v)| (k.clone(), py_str(v))));
            form.query().unwrap_or_default().as_bytes().to_vec()
        }
        other => py_str(other).into_bytes(),
    }))
}

/// The body parsed as JSON when the response's content type is `application/json`.
fn parse_body(headers: &Map<String, Value>, body: &str) -> (Value, bool) {
    let content_type = headers.get("Content-Type").and_then(Value::as_str).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case("application/json")
        && let Ok(parsed) = serde_json::from_str(body)
    {
        return (parsed, true);
    }
    (Value::String(body.to_string()), false)
}

/// `content-type` → `Content-Type`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// An error with its causes, `a: b: c`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
