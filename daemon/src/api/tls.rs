//! TLS of the control plane's TCP listeners: the certificate chain, the key and the optional
//! client CAs, read from PEM files into a rustls server configuration (ALPN `h2`, which gRPC
//! clients insist on), kept behind a swap so SIGHUP re-reads them while the listeners run.
//!
//! Owns: reading and checking the PEM files and the live server configuration. Must not:
//! accept connections (the TCP door does), or replace a working configuration with a broken one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

/// Where the TLS material is.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// When given, clients must present a certificate signed by one of these CAs.
    pub client_ca: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("--grpc-tls-client-ca {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("the certificate {cert} and the key {key} do not make a TLS configuration: {source}")]
    Config { cert: PathBuf, key: PathBuf, source: rustls::Error },
}

/// The server configuration in force, and the files it came from.
#[derive(Debug)]
pub struct LiveTls {
    files: TlsFiles,
    current: ArcSwap<ServerConfig>,
}

impl LiveTls {
    pub fn open(files: &TlsFiles) -> Result<Arc<Self>, TlsError> {
        let config = load(files)?;
        Ok(Arc::new(Self { files: files.clone(), current: ArcSwap::from_pointee(config) }))
    }

    /// The configuration a new connection is handshaken with.
    pub fn current(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Reads the files again; connections already open keep theirs, and when the files do not
    /// make a configuration the previous one stays (the error is logged).
    pub fn reread(&self) {
        match load(&self.files) {
            Ok(config) => {
                tracing::info!(path = %self.files.cert.display(), "TLS certificate re-read");
                self.current.store(Arc::new(config));
            }
            Err(error) => {
                tracing::error!(error = %error, "TLS certificate not re-read; the previous one stays in force");
            }
        }
    }
}

fn load(files: &TlsFiles) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = certificates(&files.cert)?;
    let key_pem = read(&files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|error| TlsError::Pem { path: files.key.clone(), reason: format!("no private key: {error}") })?;
    let config_error = |source| TlsError::Config { cert: files.cert.clone(), key: files.key.clone(), source };
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(config_error)?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let ca_error = |reason: String| TlsError::ClientCa { path: path.clone(), reason };
            let mut roots = RootCertStore::empty();
            for certificate in certificates(path)? {
                roots.add(certificate).map_err(|error| ca_error(error.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|error| ca_error(error.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key).map_err(config_error)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { path: path.to_path_buf(), source })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Pem { path: path.to_path_buf(), reason: error.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: path.to_path_buf() });
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_and_empty_files_are_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let files = TlsFiles { cert: empty.clone(), key: dir.path().join("missing.pem"), client_ca: None };
        let error = LiveTls::open(&files).expect_err("no certificate").to_string();
        assert_eq!(error, format!("{} holds no PEM certificate", empty.display()));
        let files = TlsFiles { cert: dir.path().join("missing.pem"), ..files };
        let error = LiveTls::open(&files).expect_err("missing").to_string();
        assert!(error.starts_with(&format!("cannot read {}: ", dir.path().join("missing.pem").display())), "{error}");
    }
}
