//! A minimal HTTP/1.1 client for the benchmarks: one request and its whole response at a time
//! on a keep-alive connection, with nothing between the load generator and the socket.
//!
//! Owns: framing (headers, then `Content-Length` bytes of body). Must not: be used where a real
//! client is the point (the end-to-end tests use curl, st2client and grpcio).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A keep-alive connection to `127.0.0.1:port`.
pub async fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
}

/// One response: its status, its head (status line and headers) and its body.
pub struct Response {
    pub status: u16,
    head: String,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of header `name` (case-insensitive), the first if repeated.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then_some(value.trim())
        })
    }
}

/// Sends `request` and reads one response: its status and body. `buffer` is reused between
/// calls.
pub async fn exchange(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> (u16, Vec<u8>) {
    let response = send(stream, request, buffer).await;
    (response.status, response.body)
}

/// Sends `request` and reads one whole response. `buffer` is reused between calls.
pub async fn send(stream: &mut TcpStream, request: &[u8], buffer: &mut Vec<u8>) -> Response {
    stream.write_all(request).await.expect("write");
    buffer.clear();
    let mut chunk = [0u8; 16384];
    let (status, head, start, total) = loop {
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        let lower = head.to_ascii_lowercase();
        let status: u16 = lower.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
        let length: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        break (status, head, end + 4, end + 4 + length);
    };
    while buffer.len() < total {
        let read = stream.read(&mut chunk).await.expect("read");
        assert!(read > 0, "the server closed the connection");
        buffer.extend_from_slice(&chunk[..read]);
    }
    Response { status, head, body: buffer[start..total].to_vec() }
}

/// Sends `request` on one connection, each time the previous answer arrives, until `until`;
/// returns how many answers there were. Each must have status `expected`.
pub async fn repeat_until(port: u16, request: &[u8], expected: u16, until: std::time::Instant) -> usize {
    let mut stream = connect(port).await;
    let mut buffer = Vec::with_capacity(16384);
    let mut answered = 0;
    while std::time::Instant::now() < until {
        let (status, body) = exchange(&mut stream, request, &mut buffer).await;
        assert_eq!(status, expected, "{}", String::from_utf8_lossy(&body));
        answered += 1;
    }
    answered
}

/// A request with a JSON body.
pub fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}
