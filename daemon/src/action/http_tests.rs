//! Tests of the http-request runner against a local server started by each test.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::*;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Serves one connection with `response` (None: never answers); sends back the raw request.
async fn serve_once(response: Option<&'static str>) -> (String, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = stream.read(&mut buffer).await.expect("read");
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break;
                }
            }
            if read == 0 {
                break;
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&request).to_string());
        match response {
            Some(response) => {
                let _ = stream.write_all(response.as_bytes()).await;
            }
            None => tokio::time::sleep(Duration::from_secs(30)).await,
        }
    });
    (url, rx)
}

async fn send(runner: Value, params: Value) -> Outcome {
    HttpRequest::build("http", &object(runner), &object(params)).expect("a valid request").send().await
}

#[tokio::test]
async fn a_json_response_is_parsed_and_the_request_carries_everything() {
    let (url, request) = serve_once(Some(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json; charset=utf-8\r\nx-thing: a\r\ncontent-length: 8\r\nconnection: close\r\n\r\n{\"a\": 1}",
    ))
    .await;
    let runner = json!({"url": format!("{url}/p?x=1"), "headers": {"X-Custom": "yes"}, "cookies": {"c": "v"}, "username": "u", "password": "p"});
    let outcome = send(runner, json!({"method": "get", "params": {"q": "a b", "n": 2}})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{}", outcome.result);
    assert_eq!(outcome.result["status_code"], 200);
    assert_eq!(outcome.result["body"], json!({"a": 1}));
    assert_eq!(outcome.result["parsed"], true);
    assert_eq!(outcome.result["headers"]["X-Thing"], "a");
    let request = request.await.expect("a request").to_ascii_lowercase();
    for expected in [
        "get /p?x=1&q=a+b&n=2 http/1.1",
        "x-custom: yes",
        "cookie: c=v",
        "authorization: basic dtpw",
        "user-agent: st2/v",
        "x-stanley-action: http",
    ] {
        assert!(request.contains(expected), "{expected} missing from {request}");
    }
}

#[tokio::test]
async fn a_json_body_is_re_encoded_and_the_method_defaults_to_post() {
    let (url, request) =
        serve_once(Some("HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok")).await;
    let runner = json!({"url": url, "headers": {"Content-Type": "application/json"}});
    let outcome = send(runner, json!({"body": "{\"a\":[1,2]}"})).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.result["body"], "ok");
    assert_eq!(outcome.result["parsed"], false);
    let request = request.await.expect("a request");
    assert!(request.starts_with("POST / HTTP/1.1"), "{request}");
    assert!(request.ends_with("\r\n\r\n{\"a\": [1, 2]}"), "{request}");
}

#[tokio::test]
async fn statuses_outside_200_to_206_fail() {
    let cases = [
        ("HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\nnope", 404, ExecutionStatus::Failed),
        ("HTTP/1.1 302 Found\r\nlocation: /else\r\ncontent-length: 0\r\n\r\n", 302, ExecutionStatus::Failed),
        ("HTTP/1.1 206 Partial Content\r\ncontent-length: 0\r\n\r\n", 206, ExecutionStatus::Succeeded),
    ];
    for (response, code, status) in cases {
        let (url, _request) = serve_once(Some(response)).await;
        let outcome = send(json!({"url": url}), json!({})).await;
        assert_eq!((outcome.result["status_code"].as_u64(), outcome.status), (Some(code), status), "{response}");
    }
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let (url, _request) = serve_once(None).await;
    let outcome = send(json!({"url": url}), json!({"timeout": 0.3})).await;
    assert_eq!(outcome.status, ExecutionStatus::Timeout);
    assert!(outcome.result["error"].as_str().is_some_and(|e| e.contains("timed out")), "{}", outcome.result);
}

#[tokio::test]
async fn a_refused_connection_fails_with_the_cause() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let outcome = send(json!({"url": url}), json!({})).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert!(outcome.result["error"].as_str().is_some_and(|e| !e.is_empty()));
}

#[test]
fn requests_that_cannot_be_built() {
    let cases = [
        (json!({}), json!({}), RequestError::NoUrl),
        (
            json!({"url": "http://a.example/x", "url_hosts_blacklist": ["a.example"]}),
            json!({}),
            RequestError::Blacklisted("http://a.example/x".into()),
        ),
        (
            json!({"url": "http://[::1]:80/", "url_hosts_whitelist": ["b.example"]}),
            json!({}),
            RequestError::NotWhitelisted("http://[::1]:80/".into()),
        ),
        (
            json!({"url": "http://a/", "url_hosts_whitelist": ["a"], "url_hosts_blacklist": ["b"]}),
            json!({}),
            RequestError::BothHostLists,
        ),
        (
            json!({"url": "http://a/", "headers": {"Content-Type": "application/json"}}),
            json!({"body": "not json"}),
            RequestError::BodyNotJson("not json".into()),
        ),
        (json!({"url": "http://a/"}), json!({"auth": "digest"}), RequestError::Auth("digest".into())),
        (json!({"url": "http://a/"}), json!({"method": "BAD METHOD"}), RequestError::BadMethod("BAD METHOD".into())),
    ];
    for (runner, params, expected) in cases {
        assert_eq!(HttpRequest::build("a", &object(runner.clone()), &object(params)), Err(expected), "{runner}");
    }
    let allowed = json!({"url": "http://[::1]:8080/", "url_hosts_whitelist": ["::1"]});
    assert!(HttpRequest::build("a", &object(allowed), &Map::new()).is_ok());
}

#[test]
fn object_bodies_are_form_encoded_without_a_json_content_type() {
    let request =
        HttpRequest::build("a", &object(json!({"url": "http://a/"})), &object(json!({"body": {"k": "a b", "n": 1}})))
            .expect("valid");
    assert_eq!(request.body.as_deref(), Some(b"k=a+b&n=1".as_slice()));
    assert_eq!(request.method, Method::POST);
    assert_eq!(title_case("x-stanley-action"), "X-Stanley-Action");
}
