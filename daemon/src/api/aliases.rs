//! The action alias RPCs: `ListAliases`, `MatchAlias` and `ExecuteAlias`, through
//! `service::aliases`, as StackStorm's `/actionalias`, `/actionalias/match` and
//! `/aliasexecution/match_and_execute` answer.
//!
//! Owns: decoding those requests and building their replies. Must not: match or execute
//! anything itself.

use st2d_proto::v1 as pb;
use tonic::Status;

use super::{convert, runtime};
use crate::reload::Published;
use crate::service::Runtime;
use crate::service::aliases::{self, AliasFilter, MatchAndExecute};

/// Where a command comes from when the request names nothing.
const CLI_CHANNEL: &str = "cli";

pub fn list_aliases(published: &Published, request: &pb::ListRequest) -> pb::ListAliasesResponse {
    let filter = AliasFilter { pack: request.pack.clone(), name: String::new() };
    let aliases = aliases::list(&published.registry(), &filter).iter().map(|a| convert::alias(a)).collect();
    pb::ListAliasesResponse { aliases }
}

pub fn match_alias(published: &Published, request: &pb::MatchAliasRequest) -> Result<pb::AliasMatch, Status> {
    let registry = published.registry();
    let matched = aliases::matching(&registry, &request.command)?;
    let parameters = aliases::matched_parameters(&matched, &request.command)?;
    Ok(pb::AliasMatch {
        alias: Some(convert::alias(&matched.alias)),
        display: matched.display.clone().unwrap_or_default(),
        representation: matched.representation.clone(),
        match_multiple: matched.match_multiple,
        parameters_json: parameters.iter().map(|p| serde_json::Value::Object(p.clone()).to_string()).collect(),
    })
}

pub async fn execute_alias(
    published: &Published,
    runtime: &Runtime,
    request: pb::ExecuteAliasRequest,
) -> Result<pb::ExecuteAliasReply, Status> {
    let registry = published.registry();
    let source_channel = if request.source_channel.trim().is_empty() { CLI_CHANNEL } else { &request.source_channel };
    let asked = MatchAndExecute {
        command: request.command.clone(),
        user: request.user.clone(),
        source_channel: source_channel.to_string(),
        notification_channel: String::new(),
        notification_route: request.notification_route.clone(),
        requester: request.user.clone(),
    };
    let done = aliases::match_and_execute(&registry, runtime, asked, &crate::rest::execution_view).await?;
    let alias = done.first().map(|d| convert::alias(&d.alias));
    let executions = done
        .iter()
        .map(|d| pb::AliasExecution {
            execution: Some(runtime::execution_message(published, &d.execution)),
            message: d.message.clone().unwrap_or_default(),
            extra_json: d.extra.as_ref().map(|e| e.to_string()).unwrap_or_default(),
        })
        .collect();
    Ok(pb::ExecuteAliasReply { alias, executions })
}
