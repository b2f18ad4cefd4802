//! Compiles `proto/st2d/v1/*.proto` with the vendored protoc (or `$PROTOC`), and writes the
//! descriptor set that the daemon serves through gRPC reflection.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc: PathBuf = match std::env::var_os("PROTOC") {
        Some(path) => path.into(),
        None => protoc_bin_vendored::protoc_bin_path()?,
    };
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let mut config = tonic_prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure().file_descriptor_set_path(out.join("st2d_descriptor.bin")).compile_with_config(
        config,
        &["proto/st2d/v1/control.proto"],
        &["proto"],
    )?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
