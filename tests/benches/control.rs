//! Benchmark of the control plane, printing figures: the round trip of a unary Control RPC
//! (`GetStatus`) over TCP with TLS and a bearer token, next to the same RPC on the Unix socket,
//! one call at a time on one connection (p50, p99, mean).
//!
//! Run: `cargo bench -p st2d-tests --bench control`.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use st2d_proto::v1 as pb;
use st2d_tests::{Home, free_port, pki};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

const CALLS: usize = 2000;
const WARM_UP: usize = 200;

async fn round_trips(
    mut client: pb::control_client::ControlClient<tonic::transport::Channel>,
    token: Option<&str>,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(CALLS);
    for i in 0..WARM_UP + CALLS {
        let mut request = tonic::Request::new(pb::GetStatusRequest {});
        if let Some(token) = token {
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ascii"));
        }
        let started = Instant::now();
        client.get_status(request).await.expect("GetStatus");
        if i >= WARM_UP {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    samples
}

fn report(what: &str, samples: &[Duration]) {
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)].as_secs_f64() * 1e6;
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6;
    println!(
        "GetStatus round trip, {what}: p50 {:.0} µs, p99 {:.0} µs, mean {mean:.0} µs over {} calls",
        at(0.5),
        at(0.99),
        samples.len()
    );
}

fn main() {
    let home = Home::new();
    let pki = pki::make(&home.path().join("pki"));
    let tokens = home.path().join("tokens");
    std::fs::write(&tokens, "bench-token\n").expect("token file");
    let port = free_port();
    let mut daemon = st2d_tests::st2d_command()
        .arg("--home")
        .arg(home.path())
        .args(["--grpc-listen", &format!("127.0.0.1:{port}"), "--grpc-token-file"])
        .arg(&tokens)
        .arg("--grpc-tls-cert")
        .arg(&pki.server_cert)
        .arg("--grpc-tls-key")
        .arg(&pki.server_key)
        .env("ST2D_LOG", "warn")
        .spawn()
        .expect("st2d starts");
    st2d_tests::eventually("the socket", || std::os::unix::net::UnixStream::connect(home.socket()).ok().map(|_| ()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let unix = st2d_tests::control(&home.socket()).await;
        let unix_samples = round_trips(unix, None).await;
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(std::fs::read(&pki.ca).expect("ca")))
            .domain_name("localhost");
        let channel = Endpoint::from_shared(format!("https://127.0.0.1:{port}"))
            .expect("endpoint")
            .tls_config(tls)
            .expect("tls")
            .tcp_nodelay(true)
            .connect()
            .await
            .expect("TLS connection");
        let tcp_samples = round_trips(pb::control_client::ControlClient::new(channel), Some("bench-token")).await;
        report("Unix socket", &unix_samples);
        report("TCP with TLS and a bearer token", &tcp_samples);
    });
    let _ = std::process::Command::new("kill").arg(daemon.id().to_string()).status();
    let _ = daemon.wait();
}
