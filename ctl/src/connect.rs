//! Finding the daemon's socket and connecting to it.
//!
//! Owns: socket discovery order (`--socket`, `ST2D_SOCKET`, `--home`/`ST2D_HOME`, the system
//! default) and the "no daemon" error. Must not: issue RPCs.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use st2d_proto::v1::control_client::ControlClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The system default, as st2d's.
pub const SYSTEM_SOCKET: &str = "/run/st2d/st2d.sock";

/// The largest answer accepted.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Where the daemon's socket is, given the flags and an environment lookup.
pub fn socket_path(
    socket: Option<&Path>,
    home: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> PathBuf {
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

/// Connects to the Control service at `socket`; the error names the socket and says what to do.
pub async fn connect(socket: &Path) -> anyhow::Result<ControlClient<Channel>> {
    let path = socket.to_path_buf();
    let channel = Endpoint::from_static("http://st2d.local")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|_| {
            anyhow!(
                "no st2d daemon at {} (is it running? start it with: st2d --home DIR)",
                socket.display()
            )
        })?;
    // Listing every action of a large pack set (parameters included) exceeds gRPC's 4 MiB default.
    Ok(ControlClient::new(channel).max_decoding_message_size(MAX_MESSAGE))
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
        assert_eq!(
            socket_path(flag_socket, flag_home, env_all),
            PathBuf::from("/flag.sock")
        );
        assert_eq!(
            socket_path(None, flag_home, env_all),
            PathBuf::from("/env.sock")
        );
        assert_eq!(
            socket_path(None, flag_home, env_home),
            PathBuf::from("/flaghome/st2d.sock")
        );
        assert_eq!(
            socket_path(None, None, env_home),
            PathBuf::from("/envhome/st2d.sock")
        );
        assert_eq!(socket_path(None, None, none), PathBuf::from(SYSTEM_SOCKET));
    }
}
