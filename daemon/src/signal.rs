//! Unix signals: SIGHUP re-reads credentials and certificates and reloads the packs, SIGTERM and
//! SIGINT shut down gracefully.
//!
//! Owns: the signal-hook stream. Must not: do the work itself; it asks the reload actor, the
//! owners of what is re-read, and cancels the shutdown token.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

use crate::reload::{Cause, ReloadHandle};
use crate::systemd;

/// Something SIGHUP re-reads besides the packs (token files, TLS certificates); a re-read that
/// fails keeps what was in force.
pub trait Reread: Send + Sync {
    fn reread(&self);
}

/// Registers the handlers; call before the daemon reports ready so no signal is missed.
pub fn install() -> std::io::Result<Signals> {
    Signals::new([SIGHUP, SIGTERM, SIGINT])
}

/// Handles signals until shutdown.
pub async fn run(
    mut signals: Signals,
    reload: ReloadHandle,
    rereads: Vec<std::sync::Arc<dyn Reread>>,
    shutdown: CancellationToken,
) {
    loop {
        let signal = tokio::select! {
            signal = signals.next() => match signal { Some(s) => s, None => return },
            () = shutdown.cancelled() => return,
        };
        match signal {
            SIGHUP => {
                tracing::info!("SIGHUP: reloading");
                systemd::reloading();
                let files = rereads.clone();
                let _ = tokio::task::spawn_blocking(move || files.iter().for_each(|file| file.reread())).await;
                match reload.reload(Cause::Sighup, None).await {
                    Ok(report) => systemd::ready(&format!(
                        "reloaded: {} packs, {} actions, {} problems",
                        report.counts.packs,
                        report.counts.actions,
                        report.problems.len()
                    )),
                    Err(_) => return,
                }
            }
            _ => {
                tracing::info!(signal, "shutting down");
                shutdown.cancel();
                return;
            }
        }
    }
}
