//! The gRPC control plane (DESIGN.md 3.8): the Control service, the standard health service
//! and server reflection (v1 and v1alpha), on the Unix socket and on the TCP listeners.
//!
//! Owns: the socket file (stale-socket detection, mode 0660, appearing only once it listens,
//! removal at exit), the routes every
//! door serves and the tonic servers. Must not: let proto types leak out of `api`, or serve a
//! TCP listener without its gate.

mod aliases;
mod backup;
mod convert;
mod gate;
mod inquiries;
mod keys;
mod runtime;
mod service;
mod status;
pub mod tcp;
pub mod tls;

pub use runtime::object_field;
pub use service::{ControlService, DaemonInfo};
pub use tcp::{TcpConfig, TcpDoors};

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gate::Gate;
use st2d_proto::v1::control_server::ControlServer;
use tokio::net::UnixListener;
use tokio::task::JoinSet;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::Router;
use tonic_health::pb::health_server::HealthServer;
use tonic_health::server::{HealthReporter, HealthService};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("another st2d is already listening on {0}")]
    InUse(PathBuf),
    #[error("cannot bind the control socket {path}: {source}")]
    Bind { path: PathBuf, source: std::io::Error },
    #[error("the gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    #[error("cannot build the reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("--grpc-listen {0}: every call over TCP needs a bearer token; add --grpc-token-file FILE")]
    NoTokens(SocketAddr),
    #[error(
        "--grpc-listen {0} is beyond loopback: add --grpc-tls-cert FILE and --grpc-tls-key FILE \
         (plain TCP is served on loopback only)"
    )]
    PlainBeyondLoopback(SocketAddr),
    #[error("--grpc-token-file: {0}")]
    Tokens(#[from] crate::credentials::CredentialsError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("--grpc-listen {addr}: cannot listen: {source}")]
    BindTcp { addr: SocketAddr, source: std::io::Error },
}

/// Binds the control socket at `path`, replacing a stale socket file left by a daemon that died.
pub async fn bind(path: &Path) -> Result<UnixListener, ApiError> {
    let bind_error = |source| ApiError::Bind { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(bind_error)?;
    }
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(ApiError::InUse(path.to_path_buf()));
        }
        tracing::info!(path = %path.display(), "removing a stale control socket");
        std::fs::remove_file(path).map_err(bind_error)?;
    }
    // Bound and given its mode under a temporary name, then linked into place: the socket's
    // path appears only once it accepts connections (a client that waits for the file never
    // meets a refused connection) and never with a wider mode; the link fails if another
    // daemon's socket appeared meanwhile.
    let pending = path.with_file_name(format!(".{}.new", std::process::id()));
    let _ = std::fs::remove_file(&pending);
    let listener = UnixListener::bind(&pending).map_err(bind_error)?;
    let placed = std::fs::set_permissions(&pending, std::fs::Permissions::from_mode(0o660))
        .and_then(|()| std::fs::hard_link(&pending, path));
    let _ = std::fs::remove_file(&pending);
    match placed {
        Ok(()) => Ok(listener),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(ApiError::InUse(path.to_path_buf())),
        Err(error) => Err(bind_error(error)),
    }
}

/// The largest request message a call may send (a bigger one is refused before it is decoded,
/// with OUT_OF_RANGE naming both sizes).
pub const MAX_REQUEST_BYTES: usize = 4 << 20;

/// The most header (metadata) bytes a call may send; beyond it the stream is reset.
const MAX_HEADER_LIST_BYTES: u32 = 64 << 10;

/// The services every door serves: Control, health (one set of statuses for every door) and
/// reflection.
pub(crate) struct Routes {
    health: HealthReporter,
    control: Arc<ControlService>,
}

impl Routes {
    /// A router whose Control and reflection calls pass `gate`, and health calls `health_gate`.
    fn router(&self, gate: Gate, health_gate: Gate) -> Result<Router, ApiError> {
        let health = HealthServer::new(HealthService::from_health_reporter(self.health.clone()));
        let reflection_v1 = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(st2d_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()?;
        let reflection_v1alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(st2d_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()?;
        let control = ControlServer::from_arc(self.control.clone()).max_decoding_message_size(MAX_REQUEST_BYTES);
        Ok(tonic::transport::Server::builder()
            .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
            .add_service(InterceptedService::new(health, health_gate))
            .add_service(InterceptedService::new(reflection_v1, gate.clone()))
            .add_service(InterceptedService::new(reflection_v1alpha, gate.clone()))
            .add_service(InterceptedService::new(control, gate)))
    }
}

/// Serves the socket and the TCP listeners until `shutdown` is cancelled, then removes the
/// socket file. Health turns NOT_SERVING on every door as soon as `draining` is cancelled (the
/// daemon started to stop), while the API still answers.
pub async fn serve(
    listener: UnixListener,
    socket: PathBuf,
    tcp: Option<TcpDoors>,
    service: ControlService,
    draining: CancellationToken,
    shutdown: CancellationToken,
) -> Result<(), ApiError> {
    let health_reporter = HealthReporter::default();
    health_reporter.set_serving::<ControlServer<ControlService>>().await;
    let not_serving = {
        let health_reporter = health_reporter.clone();
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                () = draining.cancelled() => {}
                () = shutdown.cancelled() => {}
            }
            health_reporter.set_not_serving::<ControlServer<ControlService>>().await;
            health_reporter.set_service_status("", tonic_health::ServingStatus::NotServing).await;
        }
    };
    let health_task = tokio::spawn(not_serving);
    let routes = Routes { health: health_reporter, control: Arc::new(service) };
    let mut servers = JoinSet::new();
    if let Some(tcp) = tcp {
        tcp.serve(&routes, &shutdown, &mut servers)?;
    }
    let result = routes
        .router(Gate::Open, Gate::Open)?
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), shutdown.clone().cancelled_owned())
        .await;
    while let Some(joined) = servers.join_next().await {
        if let Ok(Err(error)) = joined {
            tracing::error!(error = %error, "a TCP control-plane listener failed");
        }
    }
    health_task.abort();
    if let Err(error) = std::fs::remove_file(&socket)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %socket.display(), error = %error, "cannot remove the control socket");
    }
    result.map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn the_socket_appears_connectable_with_its_mode_and_a_second_daemon_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("st2d.sock");
        let _listener = bind(&path).await.expect("bound");
        let mode = std::fs::metadata(&path).expect("the socket").permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        tokio::net::UnixStream::connect(&path).await.expect("connectable as soon as it exists");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("st2d.sock")], "no temporary name is left");
        assert!(matches!(bind(&path).await, Err(ApiError::InUse(_))));
    }
}
