//! The client's TLS config for an https url: rustls through tonic, with the `--ca`, `--cert`
//! and `--key` files checked as PEM before connecting.
//!
//! Owns: reading and checking the PEM files and building the `ClientTlsConfig`. Must not: decide
//! which files apply (`settings` does) or word a TLS failure (`errors` does).

use std::path::Path;

use anyhow::anyhow;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use super::{CONNECT_TIMEOUT, Tls};

/// rustls through tonic: ALPN h2, the server name checked is the url's host (a name, or an IP
/// address against the certificate's IP SANs), only `--ca` trusted when given.
pub(super) fn tls_config(tls: &Tls) -> anyhow::Result<ClientTlsConfig> {
    let config = ClientTlsConfig::new().timeout(CONNECT_TIMEOUT);
    let config = match &tls.ca {
        Some(ca) => config.ca_certificate(Certificate::from_pem(read_certificates(ca, "CA")?)),
        None => config.with_native_roots(),
    };
    Ok(match &tls.identity {
        Some((cert, key)) => {
            config.identity(Identity::from_pem(read_certificates(cert, "client certificate")?, read_key(key)?))
        }
        None => config,
    })
}

/// A PEM file with at least one certificate, as read.
fn read_certificates(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let pem =
        std::fs::read(path).map_err(|error| anyhow!("cannot read the {what} file {}: {error}", path.display()))?;
    match CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>() {
        Ok(certificates) if !certificates.is_empty() => Ok(pem),
        Ok(_) => Err(anyhow!("the {what} file {} has no PEM certificate", path.display())),
        Err(error) => Err(anyhow!("the {what} file {} is not a PEM certificate: {error}", path.display())),
    }
}

/// A PEM file with a private key, as read.
fn read_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = std::fs::read(path).map_err(|error| anyhow!("cannot read the key file {}: {error}", path.display()))?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|error| anyhow!("the key file {} has no PEM private key ({error})", path.display()))?;
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::tests::token_file;

    #[test]
    fn pem_files_are_checked_and_named() {
        let missing = Path::new("/nonexistent/st2d-test/ca.pem");
        let error = read_certificates(missing, "CA").expect_err("missing").to_string();
        assert!(error.starts_with("cannot read the CA file /nonexistent/st2d-test/ca.pem: "), "{error}");
        let not_pem = token_file("hello\n");
        assert_eq!(
            read_certificates(not_pem.path(), "CA").expect_err("not pem").to_string(),
            format!("the CA file {} has no PEM certificate", not_pem.path().display())
        );
        let error = read_key(not_pem.path()).expect_err("not a key").to_string();
        assert!(error.starts_with(&format!("the key file {} has no PEM private key", not_pem.path().display())));
    }
}
