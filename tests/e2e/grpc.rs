//! The control plane through a plain gRPC client: Control, health and reflection.

use st2d_proto::v1 as pb;
use st2d_tests::{Daemon, Home, channel, control, write_sample_pack};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_health_and_reflection_answer() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &[]));
    let mut client = control(&home.socket()).await;
    let status = client.get_status(pb::GetStatusRequest {}).await.expect("status").into_inner();
    assert_eq!(status.pid, _daemon.pid());
    assert!(status.packs_loaded >= 3, "core, packs and demo");
    let report = client
        .reload(pb::ReloadRequest {
            register: vec![pb::ContentKind::Rules as i32],
            register_all: false,
            packs: vec!["demo".into()],
        })
        .await
        .expect("reload")
        .into_inner();
    assert_eq!(report.trigger, "rpc");
    let rule = client.get_rule(pb::GetRequest { r#ref: "demo.on_event".into() }).await.expect("rule").into_inner();
    assert!(rule.registered);
    let error = client.get_action(pb::GetRequest { r#ref: String::new() }).await.expect_err("empty ref");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    let error = client
        .reload(pb::ReloadRequest { register: vec![99], register_all: false, packs: vec![] })
        .await
        .expect_err("unknown kind");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);

    let channel = channel(&home.socket()).await.expect("channel");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "st2d.v1.Control"] {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest { service: service.into() })
            .await
            .expect("health")
            .into_inner();
        assert_eq!(
            answer.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    for version in ["v1", "v1alpha"] {
        let services = list_services(channel.clone(), version).await;
        assert!(services.contains(&"st2d.v1.Control".to_string()), "{version}: {services:?}");
    }
}

/// Lists the services through one version of the reflection API (the two differ only in names).
macro_rules! list_services_with {
    ($version:ident, $channel:expr) => {{
        use tonic_reflection::pb::$version as r;
        let mut client = r::server_reflection_client::ServerReflectionClient::new($channel);
        let request = r::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(r::server_reflection_request::MessageRequest::ListServices(String::new())),
        };
        let mut stream =
            client.server_reflection_info(tokio_stream::iter([request])).await.expect("reflection").into_inner();
        let response = stream.message().await.expect("a response").expect("one message");
        match response.message_response {
            Some(r::server_reflection_response::MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect::<Vec<String>>()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        }
    }};
}

async fn list_services(channel: tonic::transport::Channel, version: &str) -> Vec<String> {
    match version {
        "v1" => list_services_with!(v1, channel),
        _ => list_services_with!(v1alpha, channel),
    }
}
