//! The store's export while the daemon runs (`st2d store export` against a running daemon): a
//! consistent copy of the store written to a spool file beside it, for a door to stream.
//!
//! Owns: where the spool is and that it is complete before anyone reads it. Must not: stream
//! it (the door does) or hold the store's write gate longer than the copy takes.

use std::io::{Seek, Write};

use super::{Runtime, ServiceError};

/// Writes an export of the store (trigger instances too when asked) to an unnamed file in the
/// data directory and returns it, rewound. Writes to the store wait while the records are
/// copied; nothing waits for the reader.
pub async fn export(runtime: &Runtime, trigger_instances: bool) -> Result<std::fs::File, ServiceError> {
    let store = runtime.store.clone();
    let key = runtime.datastore.key_fingerprint().to_string();
    let spooled = tokio::task::spawn_blocking(move || -> Result<std::fs::File, ServiceError> {
        let dir = store.dir().parent().unwrap_or(store.dir()).to_path_buf();
        let spool = tempfile::tempfile_in(&dir)
            .map_err(|e| ServiceError::internal(format!("cannot make a spool file in {}: {e}", dir.display())))?;
        let mut out = std::io::BufWriter::new(spool);
        crate::backup::export(&store, Some(&key), trigger_instances, &mut out).map_err(ServiceError::internal)?;
        out.flush().map_err(|e| ServiceError::internal(format!("cannot write the spool file: {e}")))?;
        let mut spool = out.into_inner().map_err(|e| ServiceError::internal(e.error()))?;
        spool.rewind().map_err(|e| ServiceError::internal(format!("cannot read the spool file: {e}")))?;
        Ok(spool)
    });
    spooled.await.map_err(|e| ServiceError::internal(format!("the export stopped: {e}")))?
}
