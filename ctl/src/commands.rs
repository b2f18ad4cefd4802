//! The verbs: each issues its RPC and prints the answer as a table or JSON.
//!
//! Owns: which columns each listing shows and the text of status and reload. Must not: build
//! JSON itself (`json` does) or draw tables (`table` does).

use serde_json::Value;
use st2d_proto::v1 as pb;
use tonic::Status;

use crate::cli::{
    Cli, Command, ListArgs, ListVerb, ReloadArgs, SensorVerb, TriggerInstanceVerb, Verb,
};
use crate::connect::{connect, socket_path};
use crate::{json, report, table};

/// Runs one command against the daemon.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    let socket = socket_path(
        cli.global.socket.as_deref(),
        cli.global.home.as_deref(),
        |k| std::env::var(k).ok(),
    );
    let mut client = connect(&socket).await?;
    let as_json = cli.global.json;
    match &cli.command {
        Command::Status => {
            let status = client
                .get_status(pb::GetStatusRequest {})
                .await
                .map_err(rpc)?
                .into_inner();
            report::print_status(&status, as_json);
        }
        Command::Reload(args) => {
            let report = client
                .reload(reload_request(args))
                .await
                .map_err(rpc)?
                .into_inner();
            report::print_reload(&report, as_json);
        }
        Command::Pack(noun) => match &noun.verb {
            Verb::List(list) => {
                let packs = client
                    .list_packs(list_request(list))
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .packs;
                print_list(
                    "packs",
                    &["ref", "name", "version", "status", "errors", "description"],
                    packs.iter().map(json::pack),
                    as_json,
                    |row| {
                        row["errors"] = Value::from(row["errors"].as_array().map_or(0, Vec::len));
                    },
                );
            }
            Verb::Get { ref_ } => {
                let pack = client
                    .get_pack(get_request(ref_))
                    .await
                    .map_err(rpc)?
                    .into_inner();
                print_one(json::pack(&pack), as_json);
                if !as_json {
                    print_pack_problems(&pack);
                }
            }
        },
        Command::Action(noun) => match &noun.verb {
            Verb::List(list) => {
                let items = client
                    .list_actions(list_request(list))
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .actions;
                print_list(
                    "actions",
                    &["ref", "pack", "runner_type", "enabled", "description"],
                    items.iter().map(json::action),
                    as_json,
                    |_| {},
                );
            }
            Verb::Get { ref_ } => print_one(
                json::action(
                    &client
                        .get_action(get_request(ref_))
                        .await
                        .map_err(rpc)?
                        .into_inner(),
                ),
                as_json,
            ),
        },
        Command::Trigger(noun) => match &noun.verb {
            Verb::List(list) => {
                let items = client
                    .list_trigger_types(list_request(list))
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .trigger_types;
                print_list(
                    "trigger types",
                    &["ref", "pack", "description"],
                    items.iter().map(json::trigger_type),
                    as_json,
                    |_| {},
                );
            }
            Verb::Get { ref_ } => print_one(
                json::trigger_type(
                    &client
                        .get_trigger_type(get_request(ref_))
                        .await
                        .map_err(rpc)?
                        .into_inner(),
                ),
                as_json,
            ),
        },
        Command::Rule(noun) => match &noun.verb {
            Verb::List(list) => {
                let items = client
                    .list_rules(list_request(list))
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .rules;
                print_list(
                    "rules",
                    &[
                        "ref",
                        "pack",
                        "enabled",
                        "registered",
                        "trigger",
                        "action",
                        "description",
                    ],
                    items.iter().map(json::rule),
                    as_json,
                    |_| {},
                );
            }
            Verb::Get { ref_ } => print_one(
                json::rule(
                    &client
                        .get_rule(get_request(ref_))
                        .await
                        .map_err(rpc)?
                        .into_inner(),
                ),
                as_json,
            ),
        },
        Command::Sensor(noun) => match &noun.verb {
            SensorVerb::List(list) => {
                let items = client
                    .list_sensors(list_request(list))
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .sensors;
                print_list(
                    "sensors",
                    &[
                        "ref",
                        "pack",
                        "enabled",
                        "state",
                        "pid",
                        "restarts",
                        "last_exit",
                        "trigger_types",
                    ],
                    items.iter().map(json::sensor),
                    as_json,
                    |_| {},
                );
            }
            SensorVerb::Get { ref_ } => print_one(
                json::sensor(
                    &client
                        .get_sensor(get_request(ref_))
                        .await
                        .map_err(rpc)?
                        .into_inner(),
                ),
                as_json,
            ),
            SensorVerb::Restart { ref_ } => {
                let sensor = client
                    .restart_sensor(get_request(ref_))
                    .await
                    .map_err(rpc)?
                    .into_inner();
                if as_json {
                    print_json(&json::sensor(&sensor));
                } else {
                    println!("restarting sensor {}", sensor.r#ref);
                }
            }
        },
        Command::RestartComponent { name } => {
            let reply = client
                .restart_component(pb::RestartComponentRequest { name: name.clone() })
                .await
                .map_err(rpc)?
                .into_inner();
            if as_json {
                print_json(
                    &serde_json::json!({"component": reply.component, "restarted": reply.restarted}),
                );
            } else {
                println!(
                    "restarting {}: {} sensors",
                    reply.component, reply.restarted
                );
            }
        }
        Command::TriggerInstance(noun) => match &noun.verb {
            TriggerInstanceVerb::List { trigger, last } => {
                let request = pb::ListTriggerInstancesRequest {
                    trigger: trigger.clone().unwrap_or_default(),
                    limit: *last,
                };
                let items = client
                    .list_trigger_instances(request)
                    .await
                    .map_err(rpc)?
                    .into_inner()
                    .instances;
                print_list(
                    "trigger instances",
                    &["id", "trigger", "occurrence_time", "status"],
                    items.iter().map(json::trigger_instance),
                    as_json,
                    |_| {},
                );
            }
            TriggerInstanceVerb::Get { id } => print_one(
                json::trigger_instance(
                    &client
                        .get_trigger_instance(get_request(id))
                        .await
                        .map_err(rpc)?
                        .into_inner(),
                ),
                as_json,
            ),
        },
        Command::Alias(noun) => {
            let ListVerb::List(list) = &noun.verb;
            let items = client
                .list_aliases(list_request(list))
                .await
                .map_err(rpc)?
                .into_inner()
                .aliases;
            print_list(
                "aliases",
                &["ref", "pack", "action_ref", "description"],
                items.iter().map(json::alias),
                as_json,
                |_| {},
            );
        }
        Command::Policy(noun) => {
            let ListVerb::List(list) = &noun.verb;
            let items = client
                .list_policies(list_request(list))
                .await
                .map_err(rpc)?
                .into_inner()
                .policies;
            print_list(
                "policies",
                &["ref", "pack", "resource_ref", "policy_type", "description"],
                items.iter().map(json::policy),
                as_json,
                |_| {},
            );
        }
    }
    Ok(())
}

/// An RPC failure as the daemon worded it.
fn rpc(status: Status) -> anyhow::Error {
    anyhow::anyhow!("{}", status.message())
}

fn list_request(args: &ListArgs) -> pb::ListRequest {
    pb::ListRequest {
        pack: args.pack.clone().unwrap_or_default(),
    }
}

fn get_request(ref_: &str) -> pb::GetRequest {
    pb::GetRequest {
        r#ref: ref_.to_string(),
    }
}

fn reload_request(args: &ReloadArgs) -> pb::ReloadRequest {
    use pb::ContentKind as K;
    let flags = [
        (args.register_actions, K::Actions),
        (args.register_triggers, K::Triggers),
        (args.register_sensors, K::Sensors),
        (args.register_configs, K::Configs),
        (args.register_rules, K::Rules),
        (args.register_aliases, K::Aliases),
        (args.register_policies, K::Policies),
    ];
    pb::ReloadRequest {
        register: flags
            .into_iter()
            .filter(|(on, _)| *on)
            .map(|(_, kind)| kind as i32)
            .collect(),
        register_all: args.register_all,
        packs: args.packs.clone(),
    }
}

pub(crate) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

fn print_list(
    kind: &str,
    columns: &[&str],
    rows: impl Iterator<Item = Value>,
    as_json: bool,
    adjust: impl Fn(&mut Value),
) {
    let mut rows: Vec<Value> = rows.collect();
    if as_json {
        print_json(&Value::Array(rows));
        return;
    }
    if rows.is_empty() {
        println!("No {kind} found.");
        return;
    }
    rows.iter_mut().for_each(adjust);
    print!("{}", table::render(columns, &rows));
}

fn print_one(value: Value, as_json: bool) {
    if as_json {
        print_json(&value);
    } else {
        print!("{}", table::properties(&value));
    }
}

fn print_pack_problems(pack: &pb::Pack) {
    for error in &pack.errors {
        let line = if error.line > 0 {
            format!(":{}", error.line)
        } else {
            String::new()
        };
        let kept = if error.kept_last_good {
            " (the last good version stays live)"
        } else {
            ""
        };
        println!("error: {}{line}: {}{kept}", error.file, error.message);
    }
    for warning in &pack.warnings {
        println!("warning: {warning}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_flags_become_content_kinds() {
        let args = ReloadArgs {
            register_rules: true,
            register_configs: true,
            packs: vec!["demo".into()],
            ..ReloadArgs::default()
        };
        let request = reload_request(&args);
        assert_eq!(
            request.register,
            vec![
                pb::ContentKind::Configs as i32,
                pb::ContentKind::Rules as i32
            ]
        );
        assert_eq!(request.packs, ["demo"]);
        assert!(!request.register_all);
    }
}
