//! Finding the daemon and connecting to it: its Unix socket by default, or a TCP URL (http, or
//! https with rustls).
//!
//! Owns: what a connection is made of (`Target`, `Settings`, `Tls`), the channel, and the
//! `Client` with its bearer header. `settings` resolves the flags and the environment, `tls`
//! builds the TLS config, `errors` words the connection errors. Must not: issue RPCs or word a
//! call's failure other than a connection failure (`commands` does).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::anyhow;
use st2d_proto::v1::control_client::ControlClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint, Uri};

mod errors;
mod settings;
mod tls;

pub use errors::connect_error;
use errors::tls_setup_error;
use settings::tcp_endpoint;
pub use settings::{Usage, settings};
use tls::tls_config;

/// The largest answer accepted.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// How long to wait for a connection (and for a TLS handshake) before giving up.
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

/// Where the daemon is and how to reach it: the global flags and the environment, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub target: Target,
    /// Never empty.
    pub token: Option<String>,
    /// Set exactly when the target is an https url.
    pub tls: Option<Tls>,
}

/// The TLS files for an https url.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tls {
    /// The only CA trusted for the server's certificate; the system's roots when unset.
    pub ca: Option<PathBuf>,
    /// The client certificate and its key.
    pub identity: Option<(PathBuf, PathBuf)>,
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

/// Connects to the Control service; the error names the target and the cause in one line.
pub async fn connect(settings: &Settings) -> anyhow::Result<Client> {
    let bearer = Bearer::new(settings.token.as_deref())?;
    let channel = channel(settings).await?;
    // Listing every action of a large pack set (parameters included) exceeds gRPC's 4 MiB default.
    Ok(ControlClient::with_interceptor(channel, bearer).max_decoding_message_size(MAX_MESSAGE))
}

/// A connected channel to the daemon (TLS set up for an https url).
pub async fn channel(settings: &Settings) -> anyhow::Result<Channel> {
    let target = &settings.target;
    match target {
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
        Target::Tcp(url) => {
            let mut endpoint = tcp_endpoint(url)?.connect_timeout(CONNECT_TIMEOUT);
            if let Some(tls) = &settings.tls {
                endpoint = endpoint.tls_config(tls_config(tls)?).map_err(|error| tls_setup_error(settings, &error))?;
            }
            endpoint.connect().await
        }
    }
    .map_err(|error| connect_error(settings, &error))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    pub(super) fn unix(path: &str) -> Target {
        Target::Unix(PathBuf::from(path))
    }

    pub(super) fn tcp(url: &str) -> Target {
        Target::Tcp(url.to_string())
    }

    pub(super) fn token_file(content: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
        file.write_all(content.as_bytes()).expect("write the token file");
        file
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

    #[tokio::test]
    async fn a_missing_socket_is_no_daemon() {
        let settings = Settings { target: unix("/nonexistent/st2d-test/st2d.sock"), token: None, tls: None };
        let Err(error) = connect(&settings).await else {
            panic!("connected to a socket that does not exist");
        };
        assert_eq!(
            error.to_string(),
            "no st2d daemon at /nonexistent/st2d-test/st2d.sock \
             (is it running? start it with: st2d --home DIR)"
        );
    }
}
