//! The pack verbs: `pack list|get`, and the pack management verbs: `pack install|remove|download|register` run the built-in
//! `packs.*` actions and follow them (progress printed as it comes), as `st2 pack install`
//! does; `pack config` writes a pack's config through the daemon, from `key=value` words or
//! prompts for each key of the pack's schema.
//!
//! Owns: those verbs. Must not: convert `key=value` words itself (`params` does).

use std::io::{BufRead, Write};

use serde_json::{Map, Value, json};
use st2d_proto::v1 as pb;

use crate::cli::{PackInstallArgs, PackVerb};
use crate::commands::{call, get_request, list_request};
use crate::connect::Client;
use crate::output::{out, outln, print_json, print_list, print_one, print_pack};

const PACK_COLUMNS: &[&str] = &["ref", "name", "version", "status", "errors", "description"];
use crate::{Exit, executions, json, params};

pub async fn pack(client: &mut Client, verb: &PackVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        PackVerb::List(list) => {
            let packs = call(client.list_packs(list_request(list))).await?.packs;
            print_list("packs", PACK_COLUMNS, packs.iter().map(json::pack), as_json);
        }
        PackVerb::Get { ref_ } => {
            let pack = call(client.get_pack(get_request(ref_))).await?;
            print_pack(&pack, json::pack(&pack), as_json);
        }
        PackVerb::Install(args) => {
            let execution = follow(client, "packs.install", install_parameters(args, true), as_json).await?;
            let result: Value = serde_json::from_str(&execution.result_json).unwrap_or(Value::Null);
            if !as_json {
                for pack in result["output"]["packs_list"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    let pack = call(client.get_pack(get_request(pack))).await?;
                    print_pack(&pack, json::pack(&pack), false);
                }
            }
        }
        PackVerb::Download(args) => {
            follow(client, "packs.download", install_parameters(args, false), as_json).await?;
        }
        PackVerb::Remove { packs } => {
            follow(client, "packs.uninstall", json!({"packs": packs}), as_json).await?;
        }
        PackVerb::Register { packs, types } => {
            let mut parameters = json!({"packs": packs});
            if !types.is_empty() {
                parameters["register"] = json!(types.join(","));
            }
            let execution = follow(client, "packs.load", parameters, as_json).await?;
            if !as_json {
                let result: Value = serde_json::from_str(&execution.result_json).unwrap_or(Value::Null);
                print_one(&result["result"], false);
            }
        }
        PackVerb::Config { pack, values, replace } => {
            let current = call(client.get_pack(get_request(pack))).await?;
            let schema = match serde_json::from_str(&current.config_schema_json) {
                Ok(Value::Object(schema)) => schema,
                _ => Map::new(),
            };
            if let Some(word) = values.iter().find(|w| !w.contains('=')) {
                anyhow::bail!("\"{word}\" is not key=value");
            }
            let values = if values.is_empty() {
                prompt(&schema, &current)?
            } else {
                params::from_words(values, &schema, |path| {
                    std::fs::read_to_string(path).map_err(|e| format!("cannot read \"{path}\": {e}"))
                })
                .map_err(anyhow::Error::msg)?
            };
            let request = pb::SetPackConfigRequest {
                pack: pack.clone(),
                values_json: Value::Object(values).to_string(),
                replace: *replace,
            };
            let updated = call(client.set_pack_config(request)).await?;
            if as_json {
                print_json(&json::pack(&updated));
            } else {
                outln!("The config of {pack} is written to {}.", updated.config_source);
                print_one(&serde_json::from_str(&updated.config_json).unwrap_or(Value::Null), false);
            }
        }
    }
    Ok(())
}

fn install_parameters(args: &PackInstallArgs, install: bool) -> Value {
    let mut parameters = json!({"packs": args.packs, "force": args.force});
    if install {
        parameters["skip_dependencies"] = json!(args.skip_dependencies);
        if let Some(register) = &args.register {
            parameters["register"] = json!(register);
        }
    }
    if let Some(url) = &args.repo_url {
        parameters["repo_url"] = json!(url);
    }
    parameters
}

/// Runs a `packs.*` action and waits for it, printing its progress lines (not with `-j`). A
/// failed execution prints its error and exits 1.
async fn follow(client: &mut Client, action: &str, parameters: Value, as_json: bool) -> anyhow::Result<pb::Execution> {
    let request = pb::RunActionRequest {
        action: action.to_string(),
        parameters_json: parameters.to_string(),
        ..Default::default()
    };
    let execution = call(client.run_action(request)).await?;
    let execution = executions::wait(client, &execution.id, |line| {
        if !as_json {
            outln!("{}", line.line);
        }
    })
    .await?;
    if as_json {
        print_json(&json::execution(&execution));
    }
    if execution.status != "succeeded" {
        let result: Value = serde_json::from_str(&execution.result_json).unwrap_or(Value::Null);
        let error = result["error"].as_str().map_or_else(|| result.to_string(), String::from);
        eprintln!("ERROR: {action} {}: {error}", execution.status);
        return Err(Exit(1).into());
    }
    Ok(execution)
}

/// Asks for each key of the schema on stdin; an empty answer keeps what is there (or the
/// schema's default).
fn prompt(schema: &Map<String, Value>, current: &pb::Pack) -> anyhow::Result<Map<String, Value>> {
    if schema.is_empty() {
        anyhow::bail!("pack {} has no config.schema.yaml; give key=value words instead", current.r#ref);
    }
    let shown: Map<String, Value> = match serde_json::from_str(&current.config_json) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut words = Vec::new();
    for (key, item) in schema {
        let description = item.get("description").and_then(Value::as_str).unwrap_or("");
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("string");
        let now = shown.get(key).or_else(|| item.get("default")).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        out!(
            "{key} ({kind}{}){}: ",
            if description.is_empty() { String::new() } else { format!(", {description}") },
            now.map(|n| format!(" [{n}]")).unwrap_or_default()
        );
        std::io::stdout().flush()?;
        let Some(answer) = lines.next().transpose()? else { break };
        let answer = answer.trim();
        if !answer.is_empty() {
            words.push(format!("{key}={answer}"));
        }
    }
    outln!();
    params::from_words(&words, schema, |path| {
        std::fs::read_to_string(path).map_err(|e| format!("cannot read \"{path}\": {e}"))
    })
    .map_err(anyhow::Error::msg)
}
