//! End-to-end check of the client's TCP side against a real tonic server on 127.0.0.1 (TLS with
//! a certificate made by `openssl` at test time, or plain), serving `tonic_health` behind a
//! bearer-token check as st2d's TCP listener does.
//!
//! Owns: nothing the binaries use (compiled for tests only). Must not: reach anything but the
//! servers it starts.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use st2d_proto::v1 as pb;
use tempfile::TempDir;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::InterceptorLayer;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::cli::Global;
use crate::commands::{call, explain};
use crate::connect::{self, Bearer, Settings};

const TOKEN: &str = "s3cret";

/// A self-signed leaf certificate and its key (`NAME.pem`, `NAME.key`) for `subject_alt_name`.
fn certificate(dir: &Path, name: &str, subject_alt_name: &str) -> (PathBuf, PathBuf) {
    openssl_req(dir, name, subject_alt_name, &["-addext", "basicConstraints=critical,CA:FALSE"])
}

/// `openssl req -x509` as a one-line self-signed certificate: without `CA:FALSE` it is a CA
/// certificate, which rustls refuses as a server's (`CaUsedAsEndEntity`).
#[allow(clippy::disallowed_methods)] // a test making its certificates with the real openssl
fn openssl_req(dir: &Path, name: &str, subject_alt_name: &str, extra: &[&str]) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    let output = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", &format!("/CN={name}"), "-addext", &format!("subjectAltName={subject_alt_name}")])
        .args(extra)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match output {
        Ok(output) => assert!(output.status.success(), "openssl failed: {}", String::from_utf8_lossy(&output.stderr)),
        Err(error) => panic!("cannot run openssl ({error}): apt-get install openssl"),
    }
    (cert, key)
}

/// Rejects a call without `authorization: Bearer TOKEN`, as st2d's TCP listener does.
fn check_token(request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    match request.metadata().get("authorization").and_then(|value| value.to_str().ok()) {
        Some(value) if value == format!("Bearer {TOKEN}") => Ok(request),
        Some(_) => Err(tonic::Status::unauthenticated("wrong token")),
        None => Err(tonic::Status::unauthenticated("missing token")),
    }
}

/// Serves the health service (behind the token check) on 127.0.0.1, with TLS when given.
async fn serve(tls: Option<ServerTlsConfig>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("a bound listener has an address");
    let (_, health) = tonic_health::server::health_reporter();
    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder.tls_config(tls).expect("a valid server TLS config");
    }
    let router = builder.layer(InterceptorLayer::new(check_token)).add_service(health);
    tokio::spawn(router.serve_with_incoming(TcpListenerStream::new(listener)));
    address
}

fn server_tls(cert: &Path, key: &Path) -> ServerTlsConfig {
    let read = |path: &Path| std::fs::read(path).expect("the test wrote it");
    ServerTlsConfig::new().identity(Identity::from_pem(read(cert), read(key)))
}

fn settings(url: String, token: Option<&str>, ca: Option<&Path>, identity: Option<(&Path, &Path)>) -> Settings {
    let global = Global {
        url: Some(url),
        token: token.map(str::to_string),
        ca: ca.map(Path::to_path_buf),
        cert: identity.map(|(cert, _)| cert.to_path_buf()),
        key: identity.map(|(_, key)| key.to_path_buf()),
        ..Global::default()
    };
    connect::settings(&global, |_| None).expect("valid settings")
}

/// The health of the server through the client's channel, or the error as st2ctl prints it.
async fn health(settings: &Settings) -> Result<ServingStatus, String> {
    let channel = connect::channel(settings).await.map_err(|error| error.to_string())?;
    let bearer = Bearer::new(settings.token.as_deref()).expect("a valid token");
    let mut client = HealthClient::with_interceptor(channel, bearer);
    let reply = call(client.check(HealthCheckRequest { service: String::new() }))
        .await
        .map_err(|error| explain(settings, error).to_string())?;
    Ok(reply.status())
}

/// A Control call as `st2ctl status` makes it, and its error as st2ctl prints it.
async fn status(settings: &Settings) -> String {
    let result = async {
        let mut client = connect::connect(settings).await?;
        call(client.get_status(pb::GetStatusRequest {})).await
    }
    .await;
    match result {
        Ok(_) => panic!("the health server has no Control service"),
        Err(error) => explain(settings, error).to_string(),
    }
}

fn tempdir() -> TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

#[tokio::test]
async fn https_with_the_ca_works_and_the_token_is_checked() {
    let dir = tempdir();
    let (cert, key) = certificate(dir.path(), "st2d-test", "IP:127.0.0.1");
    let address = serve(Some(server_tls(&cert, &key))).await;
    let url = format!("https://{address}");

    let trusted = settings(url.clone(), Some(TOKEN), Some(&cert), None);
    assert_eq!(health(&trusted).await, Ok(ServingStatus::Serving));
    // Past TLS and the token, the health server has no Control service.
    assert_eq!(status(&trusted).await, "Operation is not implemented or not supported");

    let no_token = settings(url.clone(), None, Some(&cert), None);
    let expected = format!(
        "st2d at {url} refused the credentials: missing token \
         (no token given: pass --token, --token-file or ST2D_TOKEN)"
    );
    assert_eq!(health(&no_token).await, Err(expected.clone()));
    assert_eq!(status(&no_token).await, expected);
    let wrong = settings(url.clone(), Some("guess"), Some(&cert), None);
    assert_eq!(status(&wrong).await, format!("st2d at {url} refused the credentials: wrong token"));
}

#[tokio::test]
async fn an_untrusted_certificate_says_so() {
    let dir = tempdir();
    let (cert, key) = certificate(dir.path(), "st2d-test", "IP:127.0.0.1");
    let (other, _) = certificate(dir.path(), "other-ca", "DNS:other.example");
    let address = serve(Some(server_tls(&cert, &key))).await;
    let url = format!("https://{address}");

    let system_roots = settings(url.clone(), Some(TOKEN), None, None);
    let (health_said, status_said) = (health(&system_roots).await, status(&system_roots).await);
    assert_eq!(health_said.as_ref().err(), Some(&status_said));
    let untrusted = format!(
        "cannot connect to st2d at {url}: the server's certificate is not trusted \
         (invalid peer certificate: UnknownIssuer); pass --ca FILE with the CA that signed it"
    );
    let no_roots = format!("cannot connect to st2d at {url}: this system has no CA certificates; pass --ca FILE");
    // Without --ca the system's roots are trusted, which did not sign a test certificate.
    assert!(status_said == untrusted || status_said == no_roots, "{status_said}");

    let wrong_ca = health(&settings(url.clone(), Some(TOKEN), Some(&other), None)).await;
    assert_eq!(
        wrong_ca,
        Err(format!(
            "cannot connect to st2d at {url}: the server's certificate is not trusted \
             (invalid peer certificate: UnknownIssuer); pass --ca FILE with the CA that signed it ({} did not)",
            other.display()
        ))
    );

    let by_name = format!("https://localhost:{}", address.port());
    let wrong_name = health(&settings(by_name.clone(), Some(TOKEN), Some(&cert), None)).await;
    let Err(wrong_name) = wrong_name else { panic!("connected with a certificate for another name") };
    assert!(
        wrong_name.starts_with(&format!(
            "cannot connect to st2d at {by_name}: the server's certificate is not trusted (invalid peer certificate: "
        )) && wrong_name.ends_with("); use a url with a name or address the certificate was issued for"),
        "{wrong_name}"
    );
}

#[tokio::test]
async fn a_closed_port_is_no_daemon() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("a bound listener has an address");
    drop(listener);
    for scheme in ["https", "http"] {
        let url = format!("{scheme}://{address}");
        let dir = tempdir();
        let (cert, _) = certificate(dir.path(), "st2d-test", "IP:127.0.0.1");
        let ca = (scheme == "https").then_some(cert.as_path());
        let expected = format!("no st2d daemon at {url} (connection refused)");
        assert_eq!(health(&settings(url.clone(), Some(TOKEN), ca, None)).await, Err(expected.clone()));
        assert_eq!(status(&settings(url, Some(TOKEN), ca, None)).await, expected);
    }
}

#[tokio::test]
async fn a_required_client_certificate_is_asked_for() {
    let dir = tempdir();
    let (cert, key) = certificate(dir.path(), "st2d-test", "IP:127.0.0.1");
    let (client_cert, client_key) = certificate(dir.path(), "st2ctl-client", "DNS:st2ctl.client");
    let (stranger_cert, stranger_key) = certificate(dir.path(), "stranger", "DNS:stranger.client");
    let client_ca = Certificate::from_pem(std::fs::read(&client_cert).expect("the test wrote it"));
    let address = serve(Some(server_tls(&cert, &key).client_ca_root(client_ca))).await;
    let url = format!("https://{address}");

    let with_cert = settings(url.clone(), Some(TOKEN), Some(&cert), Some((&client_cert, &client_key)));
    assert_eq!(health(&with_cert).await, Ok(ServingStatus::Serving));

    let without = settings(url.clone(), Some(TOKEN), Some(&cert), None);
    let expected = format!(
        "cannot connect to st2d at {url}: the server requires a client certificate \
         (received fatal alert: CertificateRequired); pass --cert FILE --key FILE"
    );
    assert_eq!(health(&without).await, Err(expected.clone()));
    assert_eq!(status(&without).await, expected);

    let stranger = settings(url.clone(), Some(TOKEN), Some(&cert), Some((&stranger_cert, &stranger_key)));
    let refused = health(&stranger).await;
    assert!(
        matches!(&refused, Err(text) if text.starts_with(&format!(
            "cannot connect to st2d at {url}: the server refused the client certificate (received fatal alert: "
        ))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn tls_and_plain_mismatches_are_named() {
    let dir = tempdir();
    let (cert, key) = certificate(dir.path(), "st2d-test", "IP:127.0.0.1");

    let plain = serve(None).await;
    let url = format!("https://{plain}");
    let tls_to_plain = settings(url.clone(), Some(TOKEN), Some(&cert), None);
    let expected = format!(
        "cannot connect to st2d at {url}: the server does not speak TLS \
         (received corrupt message of type InvalidContentType); is it a plain http port? then use http://"
    );
    assert_eq!(health(&tls_to_plain).await, Err(expected.clone()));
    assert_eq!(status(&tls_to_plain).await, expected);

    let tls = serve(Some(server_tls(&cert, &key))).await;
    let url = format!("http://{tls}");
    let plain_to_tls = settings(url.clone(), Some(TOKEN), None, None);
    for said in [health(&plain_to_tls).await.expect_err("not TLS"), status(&plain_to_tls).await] {
        assert!(
            said.starts_with(&format!("cannot connect to st2d at {url}: the server closed the connection ("))
                && said.ends_with("); is it a TLS port? then use https://"),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_ca_certificate_as_the_servers_is_named() {
    let dir = tempdir();
    // The one-line `openssl req -x509` without CA:FALSE: a CA certificate.
    let (cert, key) = openssl_req(dir.path(), "st2d-test", "IP:127.0.0.1", &[]);
    let address = serve(Some(server_tls(&cert, &key))).await;
    let url = format!("https://{address}");
    assert_eq!(
        health(&settings(url.clone(), Some(TOKEN), Some(&cert), None)).await,
        Err(format!(
            "cannot connect to st2d at {url}: the server's certificate is not trusted \
             (invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))); it is a CA certificate \
             (basicConstraints CA:TRUE), which cannot be a server's: issue it with \
             basicConstraints=critical,CA:FALSE"
        ))
    );
}
