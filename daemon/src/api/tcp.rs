//! The control plane on TCP (`--grpc-listen`, DESIGN.md 3.8): the same services as the Unix
//! socket, behind a bearer token on every call, and beyond loopback only with TLS.
//!
//! Owns: checking the TCP configuration before anything starts, binding the listeners, the TLS
//! handshakes (each with the certificate in force when it starts) and what SIGHUP re-reads
//! (tokens, certificates). Must not: serve a listener without tokens, or plain TCP beyond
//! loopback.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use super::gate::Gate;
use super::tls::{LiveTls, TlsFiles};
use super::{ApiError, Routes};
use crate::credentials::SecretsFile;
use crate::signal::Reread;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What `--grpc-listen` and its companions ask for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TcpConfig {
    pub listen: Vec<SocketAddr>,
    pub token_file: Option<PathBuf>,
    pub tls: Option<TlsFiles>,
    /// Health answers without a token (for probes).
    pub health_open: bool,
}

/// The bound TCP listeners, ready to serve.
pub struct TcpDoors {
    listeners: Vec<TcpListener>,
    tokens: Arc<SecretsFile>,
    tls: Option<Arc<LiveTls>>,
    health_open: bool,
}

/// Checks the configuration and binds every listener; `None` when no TCP listener is asked for.
pub async fn bind(config: &TcpConfig) -> Result<Option<TcpDoors>, ApiError> {
    let Some(first) = config.listen.first() else {
        return Ok(None);
    };
    let Some(token_file) = &config.token_file else {
        return Err(ApiError::NoTokens(*first));
    };
    if config.tls.is_none()
        && let Some(open) = config.listen.iter().find(|addr| !addr.ip().is_loopback())
    {
        return Err(ApiError::PlainBeyondLoopback(*open));
    }
    let tokens = SecretsFile::open(token_file)?;
    let tls = config.tls.as_ref().map(LiveTls::open).transpose()?;
    let mut listeners = Vec::with_capacity(config.listen.len());
    for addr in &config.listen {
        let listener = TcpListener::bind(addr).await.map_err(|source| ApiError::BindTcp { addr: *addr, source })?;
        listeners.push(listener);
    }
    Ok(Some(TcpDoors { listeners, tokens, tls, health_open: config.health_open }))
}

impl TcpDoors {
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners.iter().filter_map(|listener| listener.local_addr().ok()).collect()
    }

    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// What SIGHUP re-reads: the tokens, and the certificate when there is one.
    pub fn rereads(&self) -> Vec<Arc<dyn Reread>> {
        let mut rereads: Vec<Arc<dyn Reread>> = vec![self.tokens.clone()];
        if let Some(tls) = &self.tls {
            rereads.push(tls.clone());
        }
        rereads
    }

    /// Starts a server per listener into `servers`; each stops when `shutdown` is cancelled.
    pub(super) fn serve(
        self,
        routes: &Routes,
        shutdown: &CancellationToken,
        servers: &mut JoinSet<Result<(), tonic::transport::Error>>,
    ) -> Result<(), ApiError> {
        let gate = Gate::Bearer(self.tokens.clone());
        let health_gate = if self.health_open { Gate::Open } else { gate.clone() };
        for listener in self.listeners {
            let router = routes.router(gate.clone(), health_gate.clone())?;
            let stop = shutdown.clone().cancelled_owned();
            match &self.tls {
                None => {
                    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                    servers.spawn(router.serve_with_incoming_shutdown(incoming, stop));
                }
                Some(tls) => {
                    let incoming = handshakes(listener, tls.clone(), shutdown.clone());
                    servers.spawn(router.serve_with_incoming_shutdown(incoming, stop));
                }
            }
        }
        Ok(())
    }
}

/// Accepts connections and hands over those whose TLS handshake succeeded; a failed or slow
/// handshake is dropped without holding up the others.
fn handshakes(
    listener: TcpListener,
    tls: Arc<LiveTls>,
    shutdown: CancellationToken,
) -> ReceiverStream<std::io::Result<TlsStream<TcpStream>>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => return,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: say so, and do not spin.
                    tracing::warn!(error = %error, "cannot accept a control-plane connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.current());
            let sender = sender.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => {
                        let _ = sender.send(Ok(stream)).await;
                    }
                    Ok(Err(error)) => tracing::debug!(peer = %peer, error = %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %peer, "TLS handshake timed out"),
                }
            });
        }
    });
    ReceiverStream::new(receiver)
}

impl Reread for LiveTls {
    fn reread(&self) {
        LiveTls::reread(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tcp_needs_tokens_and_tls_beyond_loopback() {
        let open: SocketAddr = "0.0.0.0:0".parse().expect("an address");
        let local: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let no_tokens = TcpConfig { listen: vec![local], ..TcpConfig::default() };
        let error = bind(&no_tokens).await.err().expect("refused").to_string();
        assert_eq!(
            error,
            "--grpc-listen 127.0.0.1:0: every call over TCP needs a bearer token; add --grpc-token-file FILE"
        );
        let plain = TcpConfig { listen: vec![local, open], token_file: Some("/t".into()), ..TcpConfig::default() };
        let error = bind(&plain).await.err().expect("refused").to_string();
        assert_eq!(
            error,
            "--grpc-listen 0.0.0.0:0 is beyond loopback: add --grpc-tls-cert FILE and --grpc-tls-key FILE \
             (plain TCP is served on loopback only)"
        );
        assert!(bind(&TcpConfig::default()).await.expect("nothing asked").is_none());
    }
}
