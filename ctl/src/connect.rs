//! Finding the daemon and connecting to it: its Unix socket by default, or a TCP URL.
//!
//! Owns: discovery order (`--url`, then `--socket`, `ST2D_SOCKET`, `--home`/`ST2D_HOME`, the
//! system default), the bearer token and the "no daemon" error. Must not: issue RPCs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use st2d_proto::v1::control_client::ControlClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::cli::Global;

/// The system default, as st2d's.
pub const SYSTEM_SOCKET: &str = "/run/st2d/st2d.sock";

/// The largest answer accepted.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// How long to wait for a connection before saying there is no daemon.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected Control client that sends the bearer token, if any, with every call.
pub type Client = ControlClient<InterceptedService<Channel, Bearer>>;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    Tcp(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(path) => write!(f, "{}", path.display()),
            Target::Tcp(url) => f.write_str(url),
        }
    }
}

/// Where the daemon is, given the global flags and an environment lookup.
pub fn target(global: &Global, env: impl Fn(&str) -> Option<String>) -> Target {
    match &global.url {
        Some(url) => Target::Tcp(url.clone()),
        None => Target::Unix(socket_path(global.socket.as_deref(), global.home.as_deref(), env)),
    }
}

/// Where the daemon's socket is, given the flags and an environment lookup.
pub fn socket_path(socket: Option<&Path>, home: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(socket) = socket {
        return socket.to_path_buf();
    }
    if let Some(socket) = env("ST2D_SOCKET").filter(|s| !s.is_empty()) {
        return PathBuf::from(socket);
    }
    if let Some(home) = home {
        return home.join("st2d.sock");
    }
    if let Some(home) = env("ST2D_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join("st2d.sock");
    }
    PathBuf::from(SYSTEM_SOCKET)
}

/// Sends `authorization: Bearer TOKEN` with every call when a token is set.
#[derive(Debug, Clone, Default)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    /// No header for no token (or an empty one); an error when it cannot be a header value.
    pub fn new(token: Option<&str>) -> anyhow::Result<Self> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Ok(Self(None));
        };
        let mut value: MetadataValue<Ascii> =
            format!("Bearer {token}").parse().map_err(|_| anyhow!("the token must be printable ascii"))?;
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Connects to the Control service at `target`; the error names it and says what to do.
pub async fn connect(target: &Target, token: Option<&str>) -> anyhow::Result<Client> {
    let bearer = Bearer::new(token)?;
    let channel = match target {
        Target::Unix(path) => {
            let path = path.clone();
            Endpoint::from_static("http://st2d.local")
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(path).await?;
                        Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                    }
                }))
                .await
        }
        Target::Tcp(url) => tcp_endpoint(url)?.connect_timeout(CONNECT_TIMEOUT).connect().await,
    }
    .map_err(|error| connect_error(target, &error))?;
    // Listing every action of a large pack set (parameters included) exceeds gRPC's 4 MiB default.
    Ok(ControlClient::with_interceptor(channel, bearer).max_decoding_message_size(MAX_MESSAGE))
}

/// An endpoint for `http://host:port` (or https); anything else is a usage error.
fn tcp_endpoint(url: &str) -> anyhow::Result<Endpoint> {
    let invalid = || format!("invalid url {url} (expected http://host:port)");
    let uri: Uri = url.parse().with_context(invalid)?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(anyhow!(invalid()));
    }
    Endpoint::from_shared(url.to_string()).with_context(invalid)
}

/// "No daemon" when nothing listens there (or the cause is unknown), else the I/O error itself.
fn connect_error(target: &Target, error: &(dyn std::error::Error + 'static)) -> anyhow::Error {
    use std::io::ErrorKind;
    let io = std::iter::successors(Some(error), |e| e.source()).find_map(|e| e.downcast_ref::<std::io::Error>());
    match io {
        Some(io) if !matches!(io.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused | ErrorKind::TimedOut) => {
            anyhow!("cannot connect to st2d at {target}: {io}")
        }
        _ => anyhow!("no st2d daemon at {target} (is it running? start it with: st2d --home DIR)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_follows_the_documented_order() {
        let env_all = |key: &str| match key {
            "ST2D_SOCKET" => Some("/env.sock".to_string()),
            "ST2D_HOME" => Some("/envhome".to_string()),
            _ => None,
        };
        let env_home = |key: &str| (key == "ST2D_HOME").then(|| "/envhome".to_string());
        let none = |_: &str| None;
        let flag_socket = Some(Path::new("/flag.sock"));
        let flag_home = Some(Path::new("/flaghome"));
        assert_eq!(socket_path(flag_socket, flag_home, env_all), PathBuf::from("/flag.sock"));
        assert_eq!(socket_path(None, flag_home, env_all), PathBuf::from("/env.sock"));
        assert_eq!(socket_path(None, flag_home, env_home), PathBuf::from("/flaghome/st2d.sock"));
        assert_eq!(socket_path(None, None, env_home), PathBuf::from("/envhome/st2d.sock"));
        assert_eq!(socket_path(None, None, none), PathBuf::from(SYSTEM_SOCKET));
        let empty = |_: &str| Some(String::new());
        assert_eq!(socket_path(None, None, empty), PathBuf::from(SYSTEM_SOCKET), "empty variables are unset");
    }

    #[test]
    fn a_url_means_tcp() {
        let global = Global { url: Some("http://127.0.0.1:7000".into()), ..Global::default() };
        assert_eq!(target(&global, |_| None), Target::Tcp("http://127.0.0.1:7000".into()));
        let global = Global { home: Some(PathBuf::from("/h")), ..Global::default() };
        assert_eq!(target(&global, |_| None), Target::Unix(PathBuf::from("/h/st2d.sock")));
    }

    #[test]
    fn tokens_become_bearer_headers() {
        let mut bearer = Bearer::new(Some("s3cret")).expect("a valid token");
        let request = bearer.call(tonic::Request::new(())).expect("the interceptor never refuses");
        assert_eq!(request.metadata().get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer s3cret"));
        for none in [None, Some("")] {
            let mut bearer = Bearer::new(none).expect("no token is fine");
            let request = bearer.call(tonic::Request::new(())).expect("the interceptor never refuses");
            assert!(request.metadata().get("authorization").is_none());
        }
        assert!(Bearer::new(Some("bad\ntoken")).is_err());
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(tcp_endpoint("http://127.0.0.1:9101").is_ok());
        assert!(tcp_endpoint("https://st2d.example:443").is_ok());
        for bad in ["nonsense", "127.0.0.1:9101", "ftp://h:1", "http://"] {
            let error = tcp_endpoint(bad).expect_err(bad).to_string();
            assert!(error.starts_with("invalid url"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_missing_socket_is_no_daemon() {
        let target = Target::Unix(PathBuf::from("/nonexistent/st2d-test/st2d.sock"));
        let Err(error) = connect(&target, None).await else {
            panic!("connected to a socket that does not exist");
        };
        assert_eq!(
            error.to_string(),
            "no st2d daemon at /nonexistent/st2d-test/st2d.sock \
             (is it running? start it with: st2d --home DIR)"
        );
    }

    #[test]
    fn other_io_errors_are_shown() {
        let target = Target::Unix(PathBuf::from("/s.sock"));
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let message = connect_error(&target, &denied).to_string();
        assert!(message.starts_with("cannot connect to st2d at /s.sock: "), "{message}");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(connect_error(&target, &refused).to_string().starts_with("no st2d daemon at /s.sock"));
    }
}
