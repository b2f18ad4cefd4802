//! Test certificates made with the real `openssl`: a CA, a server certificate for 127.0.0.1 and
//! localhost signed by it, and a client certificate signed by it.
//!
//! Owns: the files of one test's PKI in a directory it is handed. Must not: reuse keys between
//! tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The PEM files of one test's PKI.
pub struct Pki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// Fails the test, saying how to get openssl, when it is missing.
pub fn require_openssl() {
    let found = Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success());
    assert!(found, "openssl is needed to make test certificates: install it with `apt-get install openssl`");
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(output.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Makes a CA and a server and a client certificate signed by it, under `dir`.
pub fn make(dir: &Path) -> Pki {
    require_openssl();
    std::fs::create_dir_all(dir).expect("pki dir");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend(["-days", "2", "-subj", "/CN=st2d test CA", "-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    for (name, cn, extensions) in [
        (
            "server",
            "/CN=localhost",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "client",
            "/CN=st2d test client",
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        ),
    ] {
        let ext = format!("{name}.ext");
        std::fs::write(dir.join(&ext), extensions).expect("extensions file");
        let (key, csr, cert) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"));
        let mut request = vec!["req"];
        request.extend(ec);
        request.extend(["-subj", cn, "-keyout", &key, "-out", &csr]);
        openssl(dir, &request);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &ext,
                "-out",
                &cert,
            ],
        );
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}
