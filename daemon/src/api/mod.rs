//! The gRPC control plane on a Unix socket (DESIGN.md 3.8): the Control service, the standard
//! health service and server reflection (v1 and v1alpha).
//!
//! Owns: the socket file (stale-socket detection, mode 0660, removal at exit) and the tonic
//! server. Must not: let proto types leak out of `api`.

mod convert;
mod keys;
mod runtime;
mod service;

pub use service::{ControlService, DaemonInfo, Runtime};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use st2d_proto::v1::control_server::ControlServer;
use tokio::net::UnixListener;
use tokio_stream::wrappers::UnixListenerStream;
use tokio_util::sync::CancellationToken;

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
    let listener = UnixListener::bind(path).map_err(bind_error)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(bind_error)?;
    Ok(listener)
}

/// Serves until `shutdown` is cancelled, then removes the socket file. Health turns NOT_SERVING
/// as soon as `draining` is cancelled (the daemon started to stop), while the API still answers.
pub async fn serve(
    listener: UnixListener,
    socket: PathBuf,
    service: ControlService,
    draining: CancellationToken,
    shutdown: CancellationToken,
) -> Result<(), ApiError> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<ControlServer<ControlService>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(st2d_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(st2d_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
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
    let stopping = async move { shutdown.cancelled().await };
    let result = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(ControlServer::new(service))
        .serve_with_incoming_shutdown(UnixListenerStream::new(listener), stopping)
        .await;
    health_task.abort();
    if let Err(error) = std::fs::remove_file(&socket)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %socket.display(), error = %error, "cannot remove the control socket");
    }
    result.map_err(ApiError::from)
}
