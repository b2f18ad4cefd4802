//! The verbs: each issues its RPC and prints the answer as a table or JSON.
//!
//! Owns: which RPC each verb calls, which columns each listing shows, and how a failed call
//! reads (the daemon's words; refused credentials and broken connections name the target).
//! Must not: build JSON itself (`json` does), choose between JSON and tables (`output` does),
//! word the status and reload reports (`report` does) or classify transport errors (`connect`
//! does).

use std::future::Future;

use st2d_proto::v1 as pb;
use tonic::{Code, Response, Status};

use crate::cli::{
    ActionVerb, Cli, Command, ListArgs, ListVerb, ReloadArgs, RuleEnforcementVerb, RuleVerb, RunArgs, SensorVerb,
    TriggerInstanceVerb, TriggerVerb,
};
use crate::connect::{self, Client, Settings};
use crate::output::{outln, print_json, print_list, print_one};
use crate::{executions, json, keys, packs, report};

const ACTION_COLUMNS: &[&str] = &["ref", "pack", "runner_type", "enabled", "description"];
const TRIGGER_TYPE_COLUMNS: &[&str] = &["ref", "pack", "description"];
const RULE_COLUMNS: &[&str] = &["ref", "pack", "enabled", "registered", "trigger", "action", "description"];
const SENSOR_COLUMNS: &[&str] = &["ref", "pack", "enabled", "state", "pid", "restarts", "last_exit", "trigger_types"];
const TRIGGER_INSTANCE_COLUMNS: &[&str] = &["id", "trigger", "occurrence_time", "status"];
const WEBHOOK_COLUMNS: &[&str] = &["url", "trigger", "rules"];
const POLICY_COLUMNS: &[&str] = &["ref", "pack", "resource_ref", "policy_type", "description"];
const RULE_ENFORCEMENT_COLUMNS: &[&str] =
    &["id", "rule.ref", "trigger_instance_id", "execution_id", "status", "failure_reason", "enforced_at"];

/// Runs one command against the daemon.
pub async fn run(cli: &Cli) -> anyhow::Result<()> {
    if let Command::RuleTester { rule, trigger_instance } = &cli.command {
        return rule_tester(rule, trigger_instance);
    }
    let settings = connect::settings(&cli.global, |key| std::env::var(key).ok())?;
    let mut client = connect::connect(&settings).await?;
    verb(cli, &mut client).await.map_err(|error| explain(&settings, error))
}

/// Runs the verb with a connected client.
async fn verb(cli: &Cli, client: &mut Client) -> anyhow::Result<()> {
    let as_json = cli.global.json;
    match &cli.command {
        Command::Status => {
            let status = call(client.get_status(pb::GetStatusRequest {})).await?;
            report::print_status(&status, as_json);
        }
        Command::Reload(args) => {
            let reload = call(client.reload(reload_request(args))).await?;
            report::print_reload(&reload, as_json);
        }
        Command::Pack(noun) => packs::pack(client, &noun.verb, as_json).await?,
        Command::Action(noun) => match &noun.verb {
            ActionVerb::List(list) => {
                let items = call(client.list_actions(list_request(list))).await?;
                let rows = items.actions.iter().map(json::action);
                print_list("actions", ACTION_COLUMNS, rows, as_json);
            }
            ActionVerb::Get { ref_ } => {
                let action = call(client.get_action(get_request(ref_))).await?;
                print_one(&json::action(&action), as_json);
            }
            ActionVerb::Execute(args) => {
                // As in StackStorm, `action execute` does not wait.
                let args = RunArgs { run_async: true, ..args.clone() };
                executions::run(client, &args, as_json).await?;
            }
        },
        Command::Run(args) => executions::run(client, args, as_json).await?,
        Command::Execution(noun) => executions::execution(client, &noun.verb, as_json).await?,
        Command::Inquiry(noun) => crate::inquiries::inquiry(client, &noun.verb, as_json).await?,
        Command::Trigger(noun) => match &noun.verb {
            TriggerVerb::List(list) => {
                let items = call(client.list_trigger_types(list_request(list))).await?;
                let rows = items.trigger_types.iter().map(json::trigger_type);
                print_list("trigger types", TRIGGER_TYPE_COLUMNS, rows, as_json);
            }
            TriggerVerb::Get { ref_ } => {
                let trigger_type = call(client.get_trigger_type(get_request(ref_))).await?;
                print_one(&json::trigger_type(&trigger_type), as_json);
            }
            TriggerVerb::Fire { ref_, payload, trace_tag } => {
                let request = pb::FireTriggerRequest {
                    trigger: ref_.clone(),
                    payload_json: payload.clone().unwrap_or_default(),
                    trace_tag: trace_tag.clone().unwrap_or_default(),
                };
                let instance = call(client.fire_trigger(request)).await?;
                print_one(&json::trigger_instance(&instance), as_json);
            }
        },
        Command::Rule(noun) => match &noun.verb {
            RuleVerb::List(list) => {
                let items = call(client.list_rules(list_request(list))).await?;
                let rows = items.rules.iter().map(json::rule);
                print_list("rules", RULE_COLUMNS, rows, as_json);
            }
            RuleVerb::Get { ref_ } => {
                let rule = call(client.get_rule(get_request(ref_))).await?;
                print_one(&json::rule(&rule), as_json);
            }
            RuleVerb::Enable { ref_ } | RuleVerb::Disable { ref_ } => {
                let enabled = matches!(noun.verb, RuleVerb::Enable { .. });
                let request = pb::SetEnabledRequest { r#ref: ref_.clone(), enabled };
                let rule = call(client.set_rule_enabled(request)).await?;
                print_one(&json::rule(&rule), as_json);
            }
        },
        Command::RuleEnforcement(noun) => {
            let RuleEnforcementVerb::List { rule, trigger_instance, last } = &noun.verb;
            let request = pb::ListRuleEnforcementsRequest {
                rule: rule.clone().unwrap_or_default(),
                trigger_instance: trigger_instance.clone().unwrap_or_default(),
                limit: *last,
            };
            let items = call(client.list_rule_enforcements(request)).await?;
            let rows = items.enforcements.iter().map(|e| {
                let mut row = json::rule_enforcement(e);
                row["rule.ref"] = row["rule"]["ref"].clone();
                row
            });
            if as_json {
                print_json(&serde_json::Value::Array(items.enforcements.iter().map(json::rule_enforcement).collect()));
            } else {
                print_list("rule enforcements", RULE_ENFORCEMENT_COLUMNS, rows, false);
            }
        }
        Command::Sensor(noun) => sensor(client, &noun.verb, as_json).await?,
        Command::RestartComponent { name } => {
            let request = pb::RestartComponentRequest { name: name.clone() };
            let reply = call(client.restart_component(request)).await?;
            if as_json {
                print_json(&json::restart_component(&reply));
            } else {
                outln!("restarting {}: {} sensors", reply.component, reply.restarted);
            }
        }
        Command::TriggerInstance(noun) => match &noun.verb {
            TriggerInstanceVerb::List { trigger, last } => {
                let request =
                    pb::ListTriggerInstancesRequest { trigger: trigger.clone().unwrap_or_default(), limit: *last };
                let items = call(client.list_trigger_instances(request)).await?;
                let rows = items.instances.iter().map(json::trigger_instance);
                print_list("trigger instances", TRIGGER_INSTANCE_COLUMNS, rows, as_json);
            }
            TriggerInstanceVerb::Get { id } => {
                let instance = call(client.get_trigger_instance(get_request(id))).await?;
                print_one(&json::trigger_instance(&instance), as_json);
            }
        },
        Command::RuleTester { rule, trigger_instance } => rule_tester(rule, trigger_instance)?,
        Command::Key(noun) => keys::key(client, &noun.verb, as_json).await?,
        Command::Alias(noun) => crate::aliases::alias(client, &noun.verb, as_json).await?,
        Command::Policy(noun) => {
            let ListVerb::List(list) = &noun.verb;
            let items = call(client.list_policies(list_request(list))).await?;
            let rows = items.policies.iter().map(json::policy);
            print_list("policies", POLICY_COLUMNS, rows, as_json);
        }
        Command::Webhook(noun) => {
            let ListVerb::List(list) = &noun.verb;
            let items = call(client.list_webhooks(list_request(list))).await?;
            let rows = items.webhooks.iter().map(json::webhook);
            print_list("webhooks", WEBHOOK_COLUMNS, rows, as_json);
        }
    }
    Ok(())
}

/// st2-rule-tester's verdict: `=== RULE MATCHES ===` (exit 0) or `=== RULE DOES NOT MATCH ===`
/// (exit 1), after the reason it does not.
fn rule_tester(rule: &std::path::Path, instance: &std::path::Path) -> anyhow::Result<()> {
    use crate::rule_tester::{Verdict, test_files};
    match test_files(rule, instance).map_err(anyhow::Error::msg)? {
        Verdict::Matches => {
            outln!("=== RULE MATCHES ===");
            Ok(())
        }
        Verdict::DoesNotMatch(reason) => {
            outln!("{reason}");
            outln!("=== RULE DOES NOT MATCH ===");
            Err(crate::Exit(1).into())
        }
    }
}

async fn sensor(client: &mut Client, verb: &SensorVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        SensorVerb::List(list) => {
            let items = call(client.list_sensors(list_request(list))).await?;
            let rows = items.sensors.iter().map(json::sensor);
            print_list("sensors", SENSOR_COLUMNS, rows, as_json);
        }
        SensorVerb::Get { ref_ } => {
            let sensor = call(client.get_sensor(get_request(ref_))).await?;
            print_one(&json::sensor(&sensor), as_json);
        }
        SensorVerb::Enable { ref_ } | SensorVerb::Disable { ref_ } => {
            let enabled = matches!(verb, SensorVerb::Enable { .. });
            let sensor =
                call(client.set_sensor_enabled(pb::SetEnabledRequest { r#ref: ref_.clone(), enabled })).await?;
            if as_json {
                print_json(&json::sensor(&sensor));
            } else {
                outln!("sensor {} {}", sensor.r#ref, if enabled { "enabled" } else { "disabled" });
            }
        }
        SensorVerb::Restart { ref_ } => {
            let sensor = call(client.restart_sensor(get_request(ref_))).await?;
            if as_json {
                print_json(&json::sensor(&sensor));
            } else {
                outln!("restarting sensor {}", sensor.r#ref);
            }
        }
    }
    Ok(())
}

/// A call that failed, as the daemon answered it; it reads as `status_text`. The status stays
/// whole so that `explain` can tell refused credentials and broken connections.
#[derive(Debug)]
pub(crate) struct Failed(pub Status);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&status_text(&self.0))
    }
}

// No `source()`: the printed error is one line, the daemon's words.
impl std::error::Error for Failed {}

/// Awaits one RPC; a failure reads as the daemon worded it (`action x.y not found`).
pub(crate) async fn call<T>(rpc: impl Future<Output = Result<Response<T>, Status>>) -> anyhow::Result<T> {
    rpc.await.map(Response::into_inner).map_err(|status| Failed(status).into())
}

/// A failed call's message, or its code's description when the daemon gave none.
pub(crate) fn status_text(status: &Status) -> String {
    if status.message().is_empty() { status.code().description().to_string() } else { status.message().to_string() }
}

/// A command's error, with a failed call that is about the connection rather than the verb
/// reworded: refused credentials, or a transport error (a refused connection, an untrusted
/// certificate: tonic may report those at the first call rather than at connect).
pub(crate) fn explain(settings: &Settings, error: anyhow::Error) -> anyhow::Error {
    match error.downcast_ref::<Failed>().and_then(|Failed(status)| connection_text(settings, status)) {
        Some(text) => anyhow::Error::msg(text),
        None => error,
    }
}

/// The words for a status that is about the connection, if it is one.
fn connection_text(settings: &Settings, status: &Status) -> Option<String> {
    if status.code() == Code::Unauthenticated {
        let hint =
            if settings.token.is_none() { " (no token given: pass --token, --token-file or ST2D_TOKEN)" } else { "" };
        return Some(format!("st2d at {} refused the credentials: {}{hint}", settings.target, status_text(status)));
    }
    // A status the daemon sent has no source; one made from a transport error has it.
    let source = std::error::Error::source(status)?;
    Some(connect::connect_error(settings, source).to_string())
}

pub fn list_request(args: &ListArgs) -> pb::ListRequest {
    pb::ListRequest { pack: args.pack.clone().unwrap_or_default() }
}

pub(crate) fn get_request(ref_: &str) -> pb::GetRequest {
    pb::GetRequest { r#ref: ref_.to_string() }
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
        register: flags.into_iter().filter(|(on, _)| *on).map(|(_, kind)| kind as i32).collect(),
        register_all: args.register_all,
        packs: args.packs.clone(),
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
        assert_eq!(request.register, vec![pb::ContentKind::Configs as i32, pb::ContentKind::Rules as i32]);
        assert_eq!(request.packs, ["demo"]);
        assert!(!request.register_all);
    }

    #[test]
    fn failures_read_as_the_daemon_worded_them() {
        assert_eq!(status_text(&Status::not_found("action x.y not found")), "action x.y not found");
        assert_eq!(status_text(&Status::unavailable("")), Status::unavailable("").code().description());
    }

    fn tcp(token: Option<&str>) -> Settings {
        let target = connect::Target::Tcp("https://127.0.0.1:9443".into());
        Settings { target, token: token.map(str::to_string), tls: Some(connect::Tls::default()) }
    }

    fn explained(settings: &Settings, status: Status) -> String {
        explain(settings, Failed(status).into()).to_string()
    }

    #[test]
    fn refused_credentials_name_the_daemon_and_say_what_to_pass() {
        assert_eq!(
            explained(&tcp(None), Status::unauthenticated("missing bearer token")),
            "st2d at https://127.0.0.1:9443 refused the credentials: missing bearer token \
             (no token given: pass --token, --token-file or ST2D_TOKEN)"
        );
        assert_eq!(
            explained(&tcp(Some("guess")), Status::unauthenticated("invalid token")),
            "st2d at https://127.0.0.1:9443 refused the credentials: invalid token"
        );
    }

    #[test]
    fn other_failures_keep_the_daemons_words() {
        assert_eq!(explained(&tcp(None), Status::not_found("action x.y not found")), "action x.y not found");
        assert_eq!(explained(&tcp(None), Status::unavailable("shutting down")), "shutting down");
        let other = anyhow::anyhow!("Action \"x.y\" cannot be found.");
        assert_eq!(explain(&tcp(None), other).to_string(), "Action \"x.y\" cannot be found.");
    }

    #[test]
    fn transport_failures_at_a_call_read_as_connection_errors() {
        // What tonic makes of a connection refused when it reconnects for a call.
        let refused = Status::from_error(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)));
        assert_eq!(explained(&tcp(None), refused), "no st2d daemon at https://127.0.0.1:9443 (connection refused)");
        let untrusted = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert_eq!(
            explained(&tcp(None), Status::from_error(Box::new(untrusted))),
            "cannot connect to st2d at https://127.0.0.1:9443: the server's certificate is not trusted \
             (invalid peer certificate: UnknownIssuer); pass --ca FILE with the CA that signed it"
        );
    }
}
