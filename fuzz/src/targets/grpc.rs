//! `grpc`: the request message of every Control RPC decoded from mutated bytes (prost, as
//! tonic decodes them), then what the api layer reads from a request before the service: the
//! `*_json` fields (`st2d::api::object_field`), content kinds, ids; and an encode/decode round
//! trip of whatever decoded.
//!
//! Input layout: the first byte picks the message, the rest is its encoding.
//!
//! Owns: this target's seeds. Must not: start a server.

use prost::Message;
use st2d_proto::v1 as pb;

use crate::engine::{Outcome, Target};
use crate::mutate::Grammar;

pub static TARGET: Target = Target {
    name: "grpc",
    about: "every Control RPC's request message decoded from random bytes, then the api layer's field reads",
    grammar: Grammar {
        tokens: &[
            "\u{0}",
            "\u{1}",
            "\n",
            "\u{12}",
            "\u{1a}",
            "\u{8}",
            "\u{10}",
            "\u{ff}",
            "\u{7f}",
            "{}",
            "{\"a\":1}",
            "[",
            "null",
            "core.noop",
            "core.local",
            "\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{ff}\u{1}",
        ],
        nesting: &[("{\"a\":", "}"), ("[", "]")],
    },
    seeds,
    run,
};

/// One sample of each request message, encoded.
fn samples() -> Vec<Vec<u8>> {
    vec![
        pb::GetStatusRequest {}.encode_to_vec(),
        pb::ReloadRequest { register: vec![1, 5, 99], register_all: true, packs: vec!["core".into()] }.encode_to_vec(),
        pb::ListRequest { pack: "core".into() }.encode_to_vec(),
        pb::GetRequest { r#ref: "core.local".into() }.encode_to_vec(),
        pb::MatchAliasRequest { command: "run date on localhost".into() }.encode_to_vec(),
        pb::ExecuteAliasRequest {
            command: "run date".into(),
            user: "stanley".into(),
            source_channel: "cli".into(),
            notification_route: "hubot".into(),
        }
        .encode_to_vec(),
        pb::RestartComponentRequest { name: "sensor_container".into() }.encode_to_vec(),
        pb::SetEnabledRequest { r#ref: "core.r".into(), enabled: true }.encode_to_vec(),
        pb::ListTriggerInstancesRequest { trigger: "core.st2.webhook".into(), limit: 50 }.encode_to_vec(),
        pb::SetPackConfigRequest::default().encode_to_vec(),
        pb::FireTriggerRequest { trigger: "core.t".into(), payload_json: "{\"a\": 1}".into(), trace_tag: "x".into() }
            .encode_to_vec(),
        pb::ListRuleEnforcementsRequest { rule: "core.r".into(), trigger_instance: "00ff".into(), limit: 3 }
            .encode_to_vec(),
        pb::RunActionRequest {
            action: "core.local".into(),
            parameters_json: "{\"cmd\": \"{{ st2kv.system.x }}\"}".into(),
            trace_tag: String::new(),
            user: String::new(),
        }
        .encode_to_vec(),
        pb::ReRunRequest {
            id: "0000000000000001".into(),
            parameters_json: "{}".into(),
            tasks: vec!["t1".into()],
            reset: vec!["t1".into()],
            user: String::new(),
        }
        .encode_to_vec(),
        pb::ListExecutionsRequest {
            action: "core.local".into(),
            limit: 5,
            include_children: true,
            ..Default::default()
        }
        .encode_to_vec(),
        pb::KeyRequest { name: "k".into(), scope: "user".into(), user: "u".into(), decrypt: true }.encode_to_vec(),
        pb::ListKeysRequest { prefix: "k".into(), scope: "all".into(), ..Default::default() }.encode_to_vec(),
        pb::SetKeyRequest {
            name: "k".into(),
            value: "v".into(),
            ttl_seconds: u64::MAX,
            encrypt: true,
            ..Default::default()
        }
        .encode_to_vec(),
        pb::ListInquiriesRequest { limit: 1 }.encode_to_vec(),
        pb::RespondInquiryRequest {
            id: "01".into(),
            response_json: "{\"continue\": true}".into(),
            user: String::new(),
        }
        .encode_to_vec(),
    ]
}

fn seeds() -> Vec<Vec<u8>> {
    samples()
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| {
            let mut input = vec![u8::try_from(i).unwrap_or(0)];
            input.extend(bytes);
            input
        })
        .collect()
}

/// Decodes `bytes` as `M`; when it decodes, the round trip must give the same message.
fn decode<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> Option<M> {
    let message = M::decode(bytes).ok()?;
    let again = M::decode(message.encode_to_vec().as_slice());
    assert_eq!(again.as_ref().ok(), Some(&message), "a decoded message encodes to itself");
    Some(message)
}

fn json_field(text: &str, field: &str) {
    let _ = st2d::api::object_field(text, field);
}

fn run(input: &[u8]) -> Outcome {
    let Some((&which, bytes)) = input.split_first() else { return Outcome::Rejected };
    let decoded = match which % 20 {
        0 => decode::<pb::GetStatusRequest>(bytes).is_some(),
        1 => decode::<pb::ReloadRequest>(bytes)
            .map(|r| r.register.iter().filter(|k| pb::ContentKind::try_from(**k).is_ok()).count())
            .is_some(),
        2 => decode::<pb::ListRequest>(bytes).is_some(),
        3 => decode::<pb::GetRequest>(bytes).map(|r| st2d::trigger::parse_id(&r.r#ref)).is_some(),
        4 => decode::<pb::MatchAliasRequest>(bytes).is_some(),
        5 => decode::<pb::ExecuteAliasRequest>(bytes).is_some(),
        6 => decode::<pb::RestartComponentRequest>(bytes).is_some(),
        7 => decode::<pb::SetEnabledRequest>(bytes).is_some(),
        8 => decode::<pb::ListTriggerInstancesRequest>(bytes).is_some(),
        9 => decode::<pb::SetPackConfigRequest>(bytes).map(|r| json_field(&r.values_json, "values_json")).is_some(),
        10 => decode::<pb::FireTriggerRequest>(bytes).map(|r| json_field(&r.payload_json, "payload_json")).is_some(),
        11 => decode::<pb::ListRuleEnforcementsRequest>(bytes)
            .map(|r| st2d::trigger::parse_id(&r.trigger_instance))
            .is_some(),
        12 => {
            decode::<pb::RunActionRequest>(bytes).map(|r| json_field(&r.parameters_json, "parameters_json")).is_some()
        }
        13 => decode::<pb::ReRunRequest>(bytes).map(|r| json_field(&r.parameters_json, "parameters_json")).is_some(),
        14 => decode::<pb::ListExecutionsRequest>(bytes).is_some(),
        15 => decode::<pb::KeyRequest>(bytes).is_some(),
        16 => decode::<pb::ListKeysRequest>(bytes).is_some(),
        17 => decode::<pb::SetKeyRequest>(bytes).is_some(),
        18 => decode::<pb::ListInquiriesRequest>(bytes).is_some(),
        _ => {
            decode::<pb::RespondInquiryRequest>(bytes).map(|r| json_field(&r.response_json, "response_json")).is_some()
        }
    };
    if decoded { Outcome::Accepted } else { Outcome::Rejected }
}
