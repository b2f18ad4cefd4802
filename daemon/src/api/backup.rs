//! The ExportStore RPC: the spool file `service::backup` wrote, streamed in chunks.
//!
//! Owns: the chunking and the read of the spool on a blocking thread. Must not: touch the
//! store (the service made the copy before the first chunk is sent).

use std::io::Read;

use st2d_proto::v1 as pb;
use tonic::Status;

use super::status;
use crate::service::Runtime;

/// The bytes of one chunk: far below gRPC's 4 MiB message limit.
const CHUNK: usize = 256 * 1024;

pub type ExportChunks =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ExportStoreChunk, Status>> + Send>>;

pub async fn export_store(runtime: &Runtime, request: &pb::ExportStoreRequest) -> Result<ExportChunks, Status> {
    let mut spool = crate::service::backup::export(runtime, request.trigger_instances).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        loop {
            let mut data = vec![0u8; CHUNK];
            let chunk = match spool.read(&mut data) {
                Ok(0) => return,
                Ok(read) => {
                    data.truncate(read);
                    Ok(pb::ExportStoreChunk { data })
                }
                Err(error) => Err(status::internal(format!("cannot read the export's spool file: {error}"))),
            };
            let failed = chunk.is_err();
            // The client went away: the spool (an unnamed file) goes with this thread.
            if sender.blocking_send(chunk).is_err() || failed {
                return;
            }
        }
    });
    Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver)))
}
