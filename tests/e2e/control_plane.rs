//! The control plane as tooling reaches it: TCP with TLS and bearer tokens through a stock
//! Python `grpcio` client (default channel options), st2ctl and a tonic client; the refusals
//! at start; tokens and certificates re-read on SIGHUP; health open for probes and
//! NOT_SERVING while draining; the HTTP probes; and the README's quick start word for word.

use std::path::{Path, PathBuf};
use std::process::Command;

use st2d_proto::v1 as pb;
use st2d_tests::pki::{self, Pki};
use st2d_tests::{Daemon, Home, bins, eventually, free_port, pyenv, stderr, stdout, until, write_sample_pack};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Starts st2d with a TLS TCP listener on a free port and `token` in its token file.
fn start_tls(home: &Home, token: &str, extra: &[&str]) -> (Daemon, Pki, u16, PathBuf) {
    let pki = pki::make(&home.path().join("pki"));
    let tokens = home.path().join("grpc-tokens");
    std::fs::write(&tokens, format!("# control-plane tokens\n{token}\n")).expect("token file");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--grpc-listen",
        &listen,
        "--grpc-token-file",
        tokens.to_str().expect("utf-8"),
        "--grpc-tls-cert",
        pki.server_cert.to_str().expect("utf-8"),
        "--grpc-tls-key",
        pki.server_key.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let daemon = tokio::task::block_in_place(|| Daemon::start(home, &args));
    (daemon, pki, port, tokens)
}

/// A tonic channel over TLS trusting `ca`, presenting `identity` when given.
async fn tls_channel(
    port: u16,
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).expect("ca file")))
        .domain_name("localhost");
    if let Some((cert, key)) = identity {
        tls = tls.identity(Identity::from_pem(std::fs::read(cert).expect("cert"), std::fs::read(key).expect("key")));
    }
    Endpoint::from_shared(format!("https://127.0.0.1:{port}")).expect("an endpoint").tls_config(tls)?.connect().await
}

fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
    request
}

async fn status_with(channel: &Channel, token: Option<&str>) -> Result<pb::Status, tonic::Status> {
    let mut client = pb::control_client::ControlClient::new(channel.clone());
    let request = match token {
        Some(token) => with_token(pb::GetStatusRequest {}, token),
        None => tonic::Request::new(pb::GetStatusRequest {}),
    };
    client.get_status(request).await.map(tonic::Response::into_inner)
}

async fn health_with(channel: &Channel, token: Option<&str>) -> Result<i32, tonic::Status> {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut client = HealthClient::new(channel.clone());
    let message = HealthCheckRequest { service: String::new() };
    let request = match token {
        Some(token) => with_token(message, token),
        None => tonic::Request::new(message),
    };
    client.check(request).await.map(|answer| answer.into_inner().status)
}

const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
const NOT_SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;

/// A Python script run with grpcio against the daemon: prints one line per check.
const GRPCIO_CLIENT: &str = r#"
import sys, grpc
sys.path.insert(0, sys.argv[1])
from grpc_health.v1 import health_pb2, health_pb2_grpc
from st2d.v1 import control_pb2, control_pb2_grpc

port, ca, token, socket = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
credentials = grpc.ssl_channel_credentials(open(ca, "rb").read())
# Default channel options: nothing but the address and the CA.
tls = grpc.secure_channel("localhost:" + port, credentials)
bearer = [("authorization", "Bearer " + token)]
health = health_pb2_grpc.HealthStub(tls).Check(health_pb2.HealthCheckRequest(service=""), metadata=bearer)
print("tls health", health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))
status = control_pb2_grpc.ControlStub(tls).GetStatus(control_pb2.GetStatusRequest(), metadata=bearer)
print("tls status pid", status.pid)
for name, metadata in [("none", []), ("wrong", [("authorization", "Bearer not-" + token)])]:
    try:
        control_pb2_grpc.ControlStub(tls).GetStatus(control_pb2.GetStatusRequest(), metadata=metadata)
        print("tls token", name, "ACCEPTED")
    except grpc.RpcError as error:
        print("tls token", name, error.code().name, error.details())
# The Unix socket, with the one option the README documents.
unix = grpc.insecure_channel("unix:" + socket, options=[("grpc.default_authority", "localhost")])
health = health_pb2_grpc.HealthStub(unix).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
print("unix health", health_pb2.HealthCheckResponse.ServingStatus.Name(health.status))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_grpcio_client_calls_over_tls_with_a_token_and_on_the_socket() {
    let python = tokio::task::block_in_place(|| {
        pyenv::python_with(
            "grpcio-1.85.1",
            &["grpcio==1.85.1", "grpcio-tools==1.85.1", "grpcio-health-checking==1.85.1"],
        )
    });
    let home = Home::new();
    let http_port = free_port();
    let http = format!("127.0.0.1:{http_port}");
    let (daemon, pki, port, _tokens) = start_tls(&home, "t0ken-for-tooling", &["--http-listen", &http]);
    // Stubs generated from st2d's own proto, as a user of the API would.
    let stubs = home.path().join("stubs");
    std::fs::create_dir_all(&stubs).expect("stubs dir");
    let proto_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/proto");
    let generated = Command::new(&python)
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(&proto_dir)
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .arg("st2d/v1/control.proto")
        .output()
        .expect("grpc_tools runs");
    assert!(generated.status.success(), "protoc: {}", stderr(&generated));
    let script = home.path().join("client.py");
    std::fs::write(&script, GRPCIO_CLIENT).expect("script");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&stubs)
        .arg(port.to_string())
        .arg(&pki.ca)
        .arg("t0ken-for-tooling")
        .arg(home.socket())
        .output()
        .expect("python runs");
    let printed = stdout(&output);
    assert!(
        output.status.success(),
        "grpcio client failed: {}\n{printed}\nst2d log:\n{}",
        stderr(&output),
        daemon.log()
    );
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines[0], "tls health SERVING");
    assert_eq!(lines[1], format!("tls status pid {}", daemon.pid()));
    assert_eq!(
        lines[2],
        "tls token none UNAUTHENTICATED a bearer token is required: send the metadata authorization: Bearer TOKEN"
    );
    assert_eq!(lines[3], "tls token wrong UNAUTHENTICATED the bearer token is not valid");
    assert_eq!(lines[4], "unix health SERVING");
    // Both refusals are counted.
    let page = Command::new("curl")
        .args(["-s", &format!("http://{http}/metrics")])
        .output()
        .expect("curl runs (apt-get install curl)");
    let page = stdout(&page);
    assert!(page.lines().any(|line| line == "st2d_grpc_unauthenticated_total 2"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rereads_tokens_and_certificates_without_dropping_the_listener() {
    let home = Home::new();
    let (daemon, pki, port, tokens) = start_tls(&home, "first", &["--grpc-health-open"]);
    let channel = tls_channel(port, &pki.ca, None).await.expect("TLS with the first CA");
    assert_eq!(status_with(&channel, Some("first")).await.expect("first token").pid, daemon.pid());
    // Health is open for probes; Control is not.
    assert_eq!(health_with(&channel, None).await.expect("open health"), SERVING);
    let refused = status_with(&channel, None).await.expect_err("no token");
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    // A new token file and a certificate from another CA, then SIGHUP.
    std::fs::write(&tokens, "second\n").expect("token file");
    let renewed = pki::make(&home.path().join("pki-renewed"));
    std::fs::copy(&renewed.server_cert, &pki.server_cert).expect("new certificate");
    std::fs::copy(&renewed.server_key, &pki.server_key).expect("new key");
    daemon.signal(1);
    until("the second token to be accepted", || async { status_with(&channel, Some("second")).await.ok().map(|_| ()) })
        .await;
    let old = status_with(&channel, Some("first")).await.expect_err("the first token is gone");
    assert_eq!(old.code(), tonic::Code::Unauthenticated);
    // The connection made before SIGHUP still works; new ones get the new certificate.
    let fresh = tls_channel(port, &renewed.ca, None).await.expect("TLS with the renewed CA");
    assert_eq!(status_with(&fresh, Some("second")).await.expect("renewed").pid, daemon.pid());
    let stale_ca = match tls_channel(port, &pki.ca, None).await {
        Ok(channel) => status_with(&channel, Some("second")).await.err().map(|e| e.to_string()),
        Err(error) => Some(format!("{error:?}")),
    };
    assert!(stale_ca.is_some(), "the old CA no longer verifies the new certificate");

    // An empty token file is refused at re-read, and the tokens in force stay.
    std::fs::write(&tokens, "\n").expect("empty token file");
    daemon.signal(1);
    eventually("the refused re-read to be logged", || {
        daemon.log().contains("credentials not re-read; the previous ones stay in force").then_some(())
    });
    assert!(status_with(&fresh, Some("second")).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_are_required_when_a_client_ca_is_given() {
    let home = Home::new();
    let ca = home.path().join("pki/ca.pem");
    let (daemon, pki, port, _tokens) = start_tls(&home, "tok", &["--grpc-tls-client-ca", ca.to_str().expect("utf-8")]);
    let with_cert = tls_channel(port, &pki.ca, Some((&pki.client_cert, &pki.client_key))).await.expect("mutual TLS");
    assert_eq!(status_with(&with_cert, Some("tok")).await.expect("status").pid, daemon.pid());
    let without = match tls_channel(port, &pki.ca, None).await {
        Ok(channel) => status_with(&channel, Some("tok")).await.is_err(),
        Err(_) => true,
    };
    assert!(without, "a client without a certificate is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn st2ctl_reaches_the_tls_listener_with_a_token_and_a_ca() {
    let home = Home::new();
    let (daemon, pki, port, tokens) = start_tls(&home, "ctl-token", &[]);
    let url = format!("https://127.0.0.1:{port}");
    let ctl = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::new(&bins().st2ctl);
        command.args(args).env_remove("ST2D_SOCKET").env_remove("ST2D_HOME");
        for (key, value) in env {
            command.env(key, value);
        }
        command.output().expect("st2ctl runs")
    };
    let ca = pki.ca.to_str().expect("utf-8");
    let token_file = tokens.to_str().expect("utf-8");
    let ok = ctl(&["--url", &url, "--token", "ctl-token", "--ca", ca, "status"], &[]);
    assert!(ok.status.success(), "{}\n{}", stderr(&ok), daemon.log());
    assert!(stdout(&ok).contains(&daemon.pid().to_string()), "{}", stdout(&ok));
    let from_env = ctl(&["-j", "status"], &[("ST2D_URL", &url), ("ST2D_TOKEN_FILE", token_file), ("ST2D_CA", ca)]);
    assert!(from_env.status.success(), "{}", stderr(&from_env));

    // One line each, naming the cause.
    let bad_token = ctl(&["--url", &url, "--token", "wrong", "--ca", ca, "status"], &[]);
    assert_eq!(bad_token.status.code(), Some(1));
    let message = stderr(&bad_token);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("refused the credentials") && message.contains("not valid"), "{message}");
    let no_ca = ctl(&["--url", &url, "--token", "ctl-token", "status"], &[]);
    let message = stderr(&no_ca);
    assert_eq!(no_ca.status.code(), Some(1));
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("certificate is not trusted") && message.contains("--ca"), "{message}");
    let closed = format!("https://127.0.0.1:{}", free_port());
    let refused = ctl(&["--url", &closed, "--token", "ctl-token", "--ca", ca, "status"], &[]);
    let message = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("no st2d daemon at") && message.contains("refused"), "{message}");
}

#[test]
fn tcp_beyond_loopback_without_tls_or_without_tokens_is_refused_at_start() {
    let home = Home::new();
    let tokens = home.path().join("tokens");
    std::fs::write(&tokens, "tok\n").expect("token file");
    let beyond = format!("0.0.0.0:{}", free_port());
    let local = format!("127.0.0.1:{}", free_port());
    let cases = [
        (
            vec!["--grpc-listen", beyond.as_str(), "--grpc-token-file", tokens.to_str().expect("utf-8")],
            format!(
                "st2d: --grpc-listen {beyond} is beyond loopback: add --grpc-tls-cert FILE and --grpc-tls-key FILE \
                 (plain TCP is served on loopback only)"
            ),
        ),
        (
            vec!["--grpc-listen", local.as_str()],
            format!(
                "st2d: --grpc-listen {local}: every call over TCP needs a bearer token; add --grpc-token-file FILE"
            ),
        ),
    ];
    for (args, expected) in cases {
        let output = st2d_tests::st2d_command()
            .arg("--home")
            .arg(home.path())
            .args(&args)
            .env("ST2D_LOG", "off")
            .output()
            .expect("st2d runs");
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&output).trim_end(), expected, "{args:?}");
        assert!(!home.socket().exists(), "nothing was started");
    }
}

#[test]
fn serve_flags_work_without_the_subcommand() {
    let home = Home::new();
    let daemon = Daemon::start(&home, &["--register-rules-by-default"]);
    write_sample_pack(&home.packs(), "demo", "demo");
    daemon.wait_json("the dropped-in pack's rule to be registered", &["rule", "get", "demo.on_event"], |rule| {
        rule["registered"] == true
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_without_credentials_and_health_drains_on_sigterm() {
    let home = Home::new();
    let tokens = home.path().join("http-tokens");
    std::fs::write(&tokens, "web\n").expect("token file");
    let http = format!("127.0.0.1:{}", free_port());
    let daemon = tokio::task::block_in_place(|| {
        Daemon::start(&home, &["--http-listen", &http, "--http-token-file", tokens.to_str().expect("utf-8")])
    });
    let get = |path: &str| {
        let output = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", &format!("http://{http}{path}")])
            .output()
            .expect("curl runs (apt-get install curl)");
        let text = stdout(&output);
        let (body, code) = text.rsplit_once('\n').expect("curl printed the status");
        (code.to_string(), body.to_string())
    };
    assert_eq!(get("/healthz"), ("200".to_string(), "ok\n".to_string()));
    assert_eq!(get("/readyz"), ("200".to_string(), "ready\n".to_string()));
    assert_eq!(get("/metrics").0, "401", "the metrics page still needs the token");
    // The HTTP token file is re-read on SIGHUP too.
    let metrics_with = |token: &str| {
        let output = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("http://{http}/metrics"))
            .output()
            .expect("curl runs (apt-get install curl)");
        stdout(&output)
    };
    assert_eq!(metrics_with("web"), "200");
    std::fs::write(&tokens, "renewed\n").expect("token file");
    daemon.signal(1);
    eventually("the renewed HTTP token to be accepted", || (metrics_with("renewed") == "200").then_some(()));
    assert_eq!(metrics_with("web"), "401");

    // A running action holds the drain open; health turns NOT_SERVING meanwhile.
    let run = daemon.ctl(&["run", "-a", "core.local", "cmd=sleep 30"]);
    assert!(run.status.success(), "{}", stderr(&run));
    daemon.wait_json("the action to run", &["execution", "list"], |list| {
        list.as_array().is_some_and(|items| items.iter().any(|e| e["status"] == "running"))
    });
    let channel = st2d_tests::channel(&home.socket()).await.expect("socket");
    assert_eq!(health_with(&channel, None).await.expect("health"), SERVING);
    daemon.signal(15);
    until("health to report NOT_SERVING while draining", || async {
        (health_with(&channel, None).await.ok()? == NOT_SERVING).then_some(())
    })
    .await;
    let exit = tokio::task::block_in_place(|| daemon.wait_exit());
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn the_quick_start_works_as_the_readme_writes_it() {
    // `cargo run -p st2d -- --home ./st2d-home`, in a fresh directory.
    let cwd = tempfile::tempdir().expect("a working directory");
    let home = cwd.path().join("st2d-home");
    let daemon = Daemon::spawn_in(cwd.path(), &home, &["--home", "./st2d-home"]);
    let relative_ctl = |args: &[&str]| {
        Command::new(&bins().st2ctl)
            .args(["--home", "./st2d-home"])
            .args(args)
            .current_dir(cwd.path())
            .env_remove("ST2D_SOCKET")
            .env_remove("ST2D_HOME")
            .output()
            .expect("st2ctl runs")
    };
    eventually("st2ctl status to answer", || relative_ctl(&["status"]).status.success().then_some(()));
    // `cp -r /path/to/some/pack ./st2d-home/packs/`: appears without a reload.
    let elsewhere = tempfile::tempdir().expect("a pack elsewhere");
    write_sample_pack(elsewhere.path(), "some_pack", "some_pack");
    let copied = Command::new("cp")
        .args(["-r"])
        .arg(elsewhere.path().join("some_pack"))
        .arg("./st2d-home/packs/")
        .current_dir(cwd.path())
        .status()
        .expect("cp runs");
    assert!(copied.success());
    eventually("the copied pack to be listed by st2ctl pack list", || {
        let listed = relative_ctl(&["pack", "list"]);
        stdout(&listed).contains("some_pack").then_some(())
    });
    let actions = relative_ctl(&["action", "list", "--pack=some_pack"]);
    assert!(stdout(&actions).contains("some_pack."), "{}\n{}", stdout(&actions), daemon.log());
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&relative_ctl(&["-j", "status"]))).expect("status as JSON");
    assert_eq!(status["last_reload"]["trigger"], "watch", "the watcher found it; no st2ctl reload was needed");
}
