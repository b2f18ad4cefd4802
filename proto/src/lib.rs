//! Generated gRPC types of the `st2d.v1` control plane; nothing hand-written lives here.
#![allow(clippy::all, clippy::pedantic, clippy::unwrap_used)]

pub mod v1 {
    tonic::include_proto!("st2d.v1");
}

/// The encoded file descriptor set, served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("st2d_descriptor");
