//! Unix signals: SIGHUP reloads, SIGTERM and SIGINT shut down gracefully.
//!
//! Owns: the signal-hook stream. Must not: do the work itself; it asks the reload actor and
//! cancels the shutdown token.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio_util::sync::CancellationToken;

use crate::reload::{Cause, ReloadHandle};
use crate::systemd;

/// Registers the handlers; call before the daemon reports ready so no signal is missed.
pub fn install() -> std::io::Result<Signals> {
    Signals::new([SIGHUP, SIGTERM, SIGINT])
}

/// Handles signals until shutdown.
pub async fn run(mut signals: Signals, reload: ReloadHandle, shutdown: CancellationToken) {
    loop {
        let signal = tokio::select! {
            signal = signals.next() => match signal { Some(s) => s, None => return },
            () = shutdown.cancelled() => return,
        };
        match signal {
            SIGHUP => {
                tracing::info!("SIGHUP: reloading");
                systemd::reloading();
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
