//! The inquiry verbs: `inquiry list|get|respond`, as StackStorm's `st2 inquiry` takes them
//! (st2client/commands/inquiry.py); without `-r`, `respond` asks for each key of the schema
//! (st2client's InteractiveForm), reading answers line by line from standard input.
//!
//! Owns: inquiry arguments, the questions and inquiry output. Must not: check a response
//! against its schema (the daemon does, and says why it refuses one).

use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};
use st2d_proto::v1 as pb;

use crate::cli::InquiryVerb;
use crate::commands::{call, get_request};
use crate::connect::Client;
use crate::output::{outln, print_json, print_list, print_one};

const LIST_COLUMNS: &[&str] = &["id", "roles", "users", "route", "ttl"];

pub async fn inquiry(client: &mut Client, verb: &InquiryVerb, as_json: bool) -> anyhow::Result<()> {
    match verb {
        InquiryVerb::List { last } => {
            let mut inquiries = call(client.list_inquiries(pb::ListInquiriesRequest { limit: *last })).await?.inquiries;
            inquiries.reverse();
            print_list("inquiries", LIST_COLUMNS, inquiries.iter().map(inquiry_json), as_json);
        }
        InquiryVerb::Get { id } => {
            let inquiry = call(client.get_inquiry(get_request(id))).await?;
            print_one(&inquiry_json(&inquiry), as_json);
        }
        InquiryVerb::Respond { id, response, user } => {
            let response = match response {
                Some(text) => match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(object)) => Value::Object(object),
                    Ok(other) => bail!("the response must be a JSON object, not {other}"),
                    Err(error) => bail!("the response is not valid JSON: {error}"),
                },
                None => {
                    let inquiry = call(client.get_inquiry(get_request(id))).await?;
                    let schema: Value = serde_json::from_str(&inquiry.schema_json).unwrap_or(Value::Null);
                    let stdin = std::io::stdin();
                    ask(&schema, &mut stdin.lock(), &mut std::io::stderr())?
                }
            };
            let request = pb::RespondInquiryRequest {
                id: id.clone(),
                response_json: response.to_string(),
                user: user.clone().unwrap_or_default(),
            };
            let answered = call(client.respond_inquiry(request)).await?;
            let response: Value = serde_json::from_str(&answered.response_json).unwrap_or(Value::Null);
            if as_json {
                print_json(&json!({"id": answered.id, "response": response}));
            } else {
                outln!("\nResponse accepted for inquiry {}.", answered.id);
            }
        }
    }
    Ok(())
}

fn inquiry_json(inquiry: &pb::Inquiry) -> Value {
    json!({
        "id": inquiry.id,
        "roles": inquiry.roles,
        "users": inquiry.users,
        "route": inquiry.route,
        "ttl": inquiry.ttl,
        "schema": serde_json::from_str::<Value>(&inquiry.schema_json).unwrap_or(Value::Null),
    })
}

/// Asks each property of `schema` in turn (its description, else its name, and its type),
/// converting the answer by the type; an empty answer leaves the key out (the schema's default
/// then applies).
fn ask(schema: &Value, input: &mut impl BufRead, prompt: &mut impl Write) -> anyhow::Result<Value> {
    let mut response = Map::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(Value::Object(response));
    };
    for (name, property) in properties {
        let kind = property.get("type").and_then(Value::as_str).unwrap_or("string");
        let question = property.get("description").and_then(Value::as_str).unwrap_or(name);
        write!(prompt, "{question} ({name}, {kind}): ")?;
        prompt.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line).context("cannot read the answer")? == 0 {
            bail!("no answer for \"{name}\": standard input ended (give the whole response with -r JSON)");
        }
        let answer = line.trim();
        if answer.is_empty() {
            continue;
        }
        response.insert(name.clone(), convert(answer, kind).with_context(|| format!("\"{name}\""))?);
    }
    Ok(Value::Object(response))
}

/// An answer as the JSON `kind` asks for.
fn convert(answer: &str, kind: &str) -> anyhow::Result<Value> {
    Ok(match kind {
        "boolean" => match answer.to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "1" => Value::Bool(true),
            "n" | "no" | "false" | "0" => Value::Bool(false),
            _ => bail!("\"{answer}\" is not a yes or no"),
        },
        "integer" => Value::from(answer.parse::<i64>().map_err(|_| anyhow::anyhow!("\"{answer}\" is not an integer"))?),
        "number" => {
            let number = answer.parse::<f64>().map_err(|_| anyhow::anyhow!("\"{answer}\" is not a number"))?;
            serde_json::Number::from_f64(number).map(Value::Number).unwrap_or(Value::Null)
        }
        "array" => Value::Array(answer.split(',').map(|item| Value::String(item.trim().to_string())).collect()),
        "object" => serde_json::from_str(answer).map_err(|error| anyhow::anyhow!("not a JSON object: {error}"))?,
        _ => Value::String(answer.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_of_the_schema_is_asked_and_converted() {
        let schema = json!({"type": "object", "properties": {
            "approved": {"type": "boolean", "description": "Continue?"},
            "count": {"type": "integer"},
            "note": {"type": "string"},
            "tags": {"type": "array"}
        }});
        let mut input = "yes\n3\n\na, b\n".as_bytes();
        let mut prompt = Vec::new();
        let response = ask(&schema, &mut input, &mut prompt).expect("answered");
        assert_eq!(response, json!({"approved": true, "count": 3, "tags": ["a", "b"]}));
        let prompt = String::from_utf8(prompt).expect("utf-8");
        assert!(prompt.starts_with("Continue? (approved, boolean): "), "{prompt}");
        assert!(prompt.contains("count (count, integer): "), "{prompt}");
    }

    #[test]
    fn a_wrong_answer_or_no_answer_says_which_key() {
        let schema = json!({"properties": {"approved": {"type": "boolean"}}});
        let error = ask(&schema, &mut "maybe\n".as_bytes(), &mut Vec::new()).expect_err("refused");
        assert_eq!(format!("{error:#}"), "\"approved\": \"maybe\" is not a yes or no");
        let error = ask(&schema, &mut "".as_bytes(), &mut Vec::new()).expect_err("refused");
        assert!(error.to_string().contains("no answer for \"approved\""), "{error}");
    }
}
