//! The alias verbs: `alias list`, `alias match "COMMAND"` (which alias and format a command
//! matches, and the parameters it gives) and `alias execute "COMMAND"` (StackStorm's
//! `st2 action-alias match|execute`).
//!
//! Owns: alias arguments and output. Must not: match commands itself (the daemon does).

use serde_json::{Value, json};
use st2d_proto::v1 as pb;

use crate::cli::AliasVerb;
use crate::commands::{call, list_request};
use crate::connect::Client;
use crate::json;
use crate::output::{outln, print_json, print_list};

const LIST_COLUMNS: &[&str] = &["ref", "pack", "action_ref", "description"];

pub async fn alias(client: &mut Client, verb: &AliasVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        AliasVerb::List(list) => {
            let items = call(client.list_aliases(list_request(list))).await?;
            print_list("aliases", LIST_COLUMNS, items.aliases.iter().map(json::alias), as_json);
        }
        AliasVerb::Match { command } => {
            let matched = call(client.match_alias(pb::MatchAliasRequest { command: command.clone() })).await?;
            let alias_ref = matched.alias.as_ref().map(|a| a.r#ref.clone()).unwrap_or_default();
            let parameters: Vec<Value> =
                matched.parameters_json.iter().map(|p| serde_json::from_str(p).unwrap_or(Value::Null)).collect();
            if as_json {
                print_json(&json!({
                    "alias": matched.alias.as_ref().map(json::alias),
                    "display": matched.display,
                    "representation": matched.representation,
                    "match_multiple": matched.match_multiple,
                    "parameters": parameters,
                }));
            } else {
                outln!("alias: {alias_ref}");
                if !matched.display.is_empty() {
                    outln!("display: {}", matched.display);
                }
                outln!("representation: {}", matched.representation);
                for found in &parameters {
                    outln!("parameters: {found}");
                }
            }
        }
        AliasVerb::Execute { command, user, source_channel, notification_route } => {
            let request = pb::ExecuteAliasRequest {
                command: command.clone(),
                user: user.clone().unwrap_or_default(),
                source_channel: source_channel.clone().unwrap_or_default(),
                notification_route: notification_route.clone().unwrap_or_default(),
            };
            let reply = call(client.execute_alias(request)).await?;
            let alias_ref = reply.alias.as_ref().map(|a| a.r#ref.clone()).unwrap_or_default();
            if as_json {
                let executions: Vec<Value> = reply
                    .executions
                    .iter()
                    .map(|e| {
                        json!({
                            "execution": e.execution.as_ref().map(json::execution),
                            "message": e.message,
                            "extra": serde_json::from_str::<Value>(&e.extra_json).unwrap_or(Value::Null),
                        })
                    })
                    .collect();
                print_json(&json!({"alias": reply.alias.as_ref().map(json::alias), "executions": executions}));
            } else {
                outln!("Matching Action-alias: '{alias_ref}'");
                for done in &reply.executions {
                    if !done.message.is_empty() {
                        outln!("{}", done.message.trim_end());
                    }
                    if let Some(execution) = &done.execution {
                        outln!("To get the results, execute:\n st2ctl execution get {}", execution.id);
                    }
                }
            }
        }
    }
    Ok(())
}
