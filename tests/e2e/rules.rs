//! The rules engine end to end: trigger instances fired over gRPC are matched against
//! registered rules, enforcements are recorded, executions run; a crash during a burst loses
//! nothing and fires nothing twice.

use std::collections::HashSet;

use serde_json::{Value, json};
use st2d_proto::v1 as pb;
use st2d_tests::{Client, Daemon, Home, completed_execution, control, pack_yaml, until};

/// A pack `rulez` with trigger type `rulez.event` and rules on it.
fn write_rules_pack(home: &Home) {
    home.write("packs/rulez/pack.yaml", &pack_yaml("rulez", "rules under test"));
    home.write(
        "packs/rulez/triggers/event.yaml",
        "---\nname: event\ndescription: an event\npayload_schema:\n  type: object\n  properties:\n    level: {}\n    host: {type: string}\n",
    );
    home.write(
        "packs/rulez/rules/high.yaml",
        "---\nname: high\nenabled: true\ntrigger: {type: rulez.event}\ncriteria:\n  trigger.level: {type: greaterthan, pattern: 2}\n  trigger.host: {type: startswith, pattern: web}\naction: {ref: core.noop}\n",
    );
    home.write(
        "packs/rulez/rules/fallback.yaml",
        "---\nname: fallback\nenabled: true\ntype: {ref: backstop}\ntrigger: {type: rulez.event}\naction: {ref: core.noop}\n",
    );
    home.write(
        "packs/rulez/rules/missing_action.yaml",
        "---\nname: missing_action\nenabled: true\ntrigger: {type: rulez.event}\ncriteria:\n  trigger.host: {type: equals, pattern: ghost}\naction: {ref: rulez.nope}\n",
    );
}

async fn fire(client: &mut Client, payload: Value) -> pb::TriggerInstance {
    client
        .fire_trigger(pb::FireTriggerRequest {
            trigger: "rulez.event".into(),
            payload_json: payload.to_string(),
            trace_tag: String::new(),
        })
        .await
        .expect("fire")
        .into_inner()
}

async fn enforcements_of(client: &mut Client, instance: &str) -> Vec<pb::RuleEnforcement> {
    client
        .list_rule_enforcements(pb::ListRuleEnforcementsRequest {
            rule: String::new(),
            trigger_instance: instance.into(),
            limit: 0,
        })
        .await
        .expect("enforcements")
        .into_inner()
        .enforcements
}

/// The enforcements for instance `id` once there are at least `count`.
async fn enforcements_at_least(client: &Client, id: &str, count: usize, what: &str) -> Vec<pb::RuleEnforcement> {
    until(what, || {
        let mut client = client.clone();
        let id = id.to_string();
        async move { Some(enforcements_of(&mut client, &id).await).filter(|e| e.len() >= count) }
    })
    .await
}

async fn instance_status(client: &mut Client, id: &str) -> String {
    client.get_trigger_instance(pb::GetRequest { r#ref: id.into() }).await.expect("instance").into_inner().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_rules_fire_backstops_fill_in_and_failures_are_recorded() {
    let home = Home::new();
    write_rules_pack(&home);
    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &["serve", "--register-rules-by-default"]));
    let mut client = control(&home.socket()).await;

    // A standard rule matches: one succeeded enforcement, its execution runs; no backstop.
    let hit = fire(&mut client, json!({"level": 5, "host": "web-1"})).await;
    let enforcements = enforcements_at_least(&client, &hit.id, 1, "the enforcement of a matching rule").await;
    assert_eq!(enforcements.len(), 1, "{enforcements:?}");
    assert_eq!(enforcements[0].rule, "rulez.high");
    assert_eq!(enforcements[0].status, "succeeded");
    let execution_id = enforcements[0].execution.clone();
    let execution = completed_execution(&client, &execution_id).await;
    assert_eq!(execution.status, "succeeded", "{execution:?}");
    assert_eq!(execution.action, "core.noop");
    assert_eq!(execution.rule, "rulez.high");
    assert_eq!(execution.trigger_instance, hit.id);
    assert_eq!(instance_status(&mut client, &hit.id).await, "processed");

    // No standard rule matches: the backstop fires.
    let miss = fire(&mut client, json!({"level": 1, "host": "web-1"})).await;
    let enforcements = enforcements_at_least(&client, &miss.id, 1, "the backstop enforcement").await;
    let rules: Vec<&str> = enforcements.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(rules, ["rulez.fallback"]);

    // Comparing a string with an integer fails the evaluation: a failed enforcement says why
    // (and the backstop still fires, since no standard rule matched).
    let bad = fire(&mut client, json!({"level": "high", "host": "web-1"})).await;
    let enforcements = enforcements_at_least(&client, &bad.id, 2, "the failed enforcement").await;
    let failed = enforcements.iter().find(|e| e.rule == "rulez.high").expect("rulez.high enforcement");
    assert_eq!(failed.status, "failed");
    assert!(failed.failure_reason.contains("trigger.level"), "{failed:?}");
    assert!(failed.execution.is_empty());

    // A rule whose action does not exist: failed enforcement, StackStorm's wording.
    let ghost = fire(&mut client, json!({"level": 0, "host": "ghost"})).await;
    let enforcements =
        enforcements_at_least(&client, &ghost.id, 1, "the enforcement of a rule without its action").await;
    let missing = enforcements.iter().find(|e| e.rule == "rulez.missing_action").expect("enforcement");
    assert_eq!(missing.failure_reason, "Action \"rulez.nope\" doesn't exist");

    // A disabled rule no longer fires; the toggle shows in the rule.
    let rule = client
        .set_rule_enabled(pb::SetEnabledRequest { r#ref: "rulez.high".into(), enabled: false })
        .await
        .expect("disable")
        .into_inner();
    assert!(!rule.enabled);
    let after = fire(&mut client, json!({"level": 5, "host": "web-2"})).await;
    let enforcements = enforcements_at_least(&client, &after.id, 1, "the enforcement with the rule disabled").await;
    let rules: Vec<&str> = enforcements.iter().map(|e| e.rule.as_str()).collect();
    assert_eq!(rules, ["rulez.fallback"], "a disabled rule leaves the field to the backstop");

    // Bad input is refused with the field named.
    let error = client
        .fire_trigger(pb::FireTriggerRequest {
            trigger: "rulez.event".into(),
            payload_json: json!({"host": 7}).to_string(),
            trace_tag: String::new(),
        })
        .await
        .expect_err("invalid payload");
    assert_eq!(error.code(), tonic::Code::InvalidArgument);
    assert!(error.message().contains("host"), "{}", error.message());
    let error = client
        .fire_trigger(pb::FireTriggerRequest {
            trigger: "rulez.nope".into(),
            payload_json: "{".into(),
            trace_tag: "".into(),
        })
        .await
        .expect_err("bad json");
    assert!(error.message().contains("payload_json"), "{}", error.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_during_a_burst_loses_nothing_and_fires_each_rule_once() {
    let home = Home::new();
    write_rules_pack(&home);
    let daemon = tokio::task::block_in_place(|| Daemon::start(&home, &["serve", "--register-rules-by-default"]));
    let client = control(&home.socket()).await;
    // Fire from several tasks until the daemon is killed under them.
    let mut firers = Vec::new();
    for task in 0..4 {
        let mut client = client.clone();
        firers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..100_000 {
                let request = pb::FireTriggerRequest {
                    trigger: "rulez.event".into(),
                    payload_json: json!({"level": 5, "host": format!("web-{task}-{n}")}).to_string(),
                    trace_tag: String::new(),
                };
                match client.fire_trigger(request).await {
                    Ok(instance) => acknowledged.push(instance.into_inner().id),
                    Err(_) => break,
                }
            }
            acknowledged
        }));
    }
    // Kill once a good number of instances have been acknowledged.
    until("a burst of enforcements", || {
        let mut client = client.clone();
        async move {
            let list = client
                .list_rule_enforcements(pb::ListRuleEnforcementsRequest {
                    rule: String::new(),
                    trigger_instance: String::new(),
                    limit: 300,
                })
                .await
                .ok()?
                .into_inner();
            (list.enforcements.len() >= 300).then_some(())
        }
    })
    .await;
    daemon.signal(9);
    let _ = tokio::task::block_in_place(|| daemon.wait_exit());
    let mut acknowledged = Vec::new();
    for firer in firers {
        acknowledged.extend(firer.await.expect("firer"));
    }
    assert!(acknowledged.len() >= 300, "only {} acknowledged", acknowledged.len());

    let _daemon = tokio::task::block_in_place(|| Daemon::start(&home, &["serve", "--register-rules-by-default"]));
    let mut client = control(&home.socket()).await;
    // Every acknowledged instance (and any journaled but not acknowledged) gets processed.
    let instances = until("every journaled instance to be processed", || {
        let mut client = client.clone();
        async move {
            let list = client
                .list_trigger_instances(pb::ListTriggerInstancesRequest {
                    trigger: "rulez.event".into(),
                    limit: 1_000_000,
                })
                .await
                .ok()?
                .into_inner();
            list.instances.iter().all(|i| i.status == "processed").then_some(list.instances)
        }
    })
    .await;
    let journaled: HashSet<String> = instances.iter().map(|i| i.id.clone()).collect();
    for id in &acknowledged {
        assert!(journaled.contains(id), "acknowledged instance {id} was lost");
    }
    let enforcements = client
        .list_rule_enforcements(pb::ListRuleEnforcementsRequest {
            rule: String::new(),
            trigger_instance: String::new(),
            limit: 10_000_000,
        })
        .await
        .expect("enforcements")
        .into_inner()
        .enforcements;
    let mut seen = HashSet::new();
    for enforcement in &enforcements {
        assert!(
            seen.insert((enforcement.trigger_instance.clone(), enforcement.rule.clone())),
            "({}, {}) enforced twice",
            enforcement.trigger_instance,
            enforcement.rule
        );
    }
    for id in &journaled {
        assert!(seen.contains(&(id.clone(), "rulez.high".to_string())), "instance {id} never fired rulez.high");
    }
    // Every execution those enforcements created exists exactly once and completes.
    let executions: HashSet<&str> = enforcements.iter().map(|e| e.execution.as_str()).collect();
    assert_eq!(executions.len(), enforcements.len(), "each enforcement has its own execution");
}
