//! Runs one execution with its action's runner and maps what happened to a status and a
//! result (ST2-COMPAT.md 2.3-2.6).
//!
//! Owns: the choice of runner by `runner_type`. Must not: touch the store or the execution's
//! status history (the executor does).

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::action::{announcement, http, inject, inquiry, python, remote, shell};
use crate::execution::Execution;
use crate::packmgmt::{self, PackManager};
use crate::registry::Registry;
use crate::runner::output::LiveOutput;
use crate::runner::{Job, Outcome, RunContext};
use st2d_core::pack::model::Action;
use st2d_core::status::ExecutionStatus;

/// Whether st2d does the action itself whatever runner its metadata names: `core.inject_trigger`
/// and the built-in `packs` pack (whose `packs.install` StackStorm runs as an Orquesta workflow).
pub fn is_native(action_ref: &str) -> bool {
    action_ref == inject::ACTION_REF
        || action_ref.split_once('.').is_some_and(|(pack, _)| pack == packmgmt::actions::PACK)
}

/// Whether an execution is conducted as a workflow (it then takes no execution slot).
pub fn is_conducted(execution: &Execution) -> bool {
    crate::workflow::is_workflow(&execution.runner) && !is_native(&execution.action)
}

/// What the built-in `packs` actions need beside their job: the pack manager, and where an
/// install's stages are recorded.
#[derive(Clone, Copy, Default)]
pub struct PackWork<'a> {
    pub manager: Option<&'a PackManager>,
    pub stages: Option<&'a dyn packmgmt::Stages>,
}

/// Runs `execution` of `action`; `cancel` stops it (its process group is killed). A runner
/// st2d does not implement fails the execution, naming the runner.
pub async fn run(
    context: &RunContext,
    packs: PackWork<'_>,
    registry: &Registry,
    action: &Action,
    execution: &Execution,
    output: &LiveOutput,
    cancel: &CancellationToken,
) -> Outcome {
    let job = Job::new(context, registry, action, execution, output, cancel);
    if action.ref_ == inject::ACTION_REF {
        return inject::run(&job).await;
    }
    if action.pack == packmgmt::actions::PACK && registry.pack(&action.pack).is_some_and(|p| p.builtin) {
        return packmgmt::actions::run(packs.manager, &job, packs.stages).await;
    }
    match action.runner_type.as_str() {
        "noop" => Outcome {
            status: ExecutionStatus::Succeeded,
            result: json!({"failed": false, "succeeded": true, "return_code": 0}),
        },
        "local-shell-cmd" | "local-shell-script" => shell::run(&job).await,
        "remote-shell-cmd" | "remote-shell-script" => remote::run(&job).await,
        "python-script" => python::run(&job).await,
        "http-request" => http::run(&job).await,
        inquiry::RUNNER => inquiry::run(&job).await,
        announcement::RUNNER => announcement::run(&job).await,
        other => Outcome::failed(format!("runner {other} is not supported")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::action::testkit::Kit;

    #[tokio::test]
    async fn runners_st2d_does_not_implement_fail_with_their_name() {
        let kit =
            Kit::new(&[("packs/demo/actions/windows.yaml", "---\nname: windows\nrunner_type: winrm-cmd\n")]).await;
        let cases = [("demo.windows", "runner winrm-cmd is not supported")];
        for (action, error) in cases {
            let (outcome, _) = kit.run(action, json!({"host": "h"}), json!({})).await;
            assert_eq!(outcome, Outcome::failed(error), "{action}");
        }
        let (outcome, _) = kit.run("core.noop", json!({}), json!({})).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(outcome.result, json!({"failed": false, "succeeded": true, "return_code": 0}));
    }

    #[tokio::test]
    async fn the_announcement_runner_publishes_its_parameters_on_its_route() {
        let kit = Kit::new(&[("packs/demo/actions/post.yaml", "---\nname: post\nrunner_type: announcement\n")]).await;
        let mut heard = kit.context.announcer.subscribe();
        let runner = json!({"experimental": true, "route": "chatops"});
        let (outcome, _) = kit.run("demo.post", runner, json!({"message": "hi", "channel": "ops"})).await;
        assert_eq!(outcome.status, ExecutionStatus::Succeeded);
        assert_eq!(
            outcome.result,
            json!({"output": {"message": "hi", "channel": "ops"}, "message": "hi", "channel": "ops"})
        );
        let announcement = heard.try_recv().expect("an announcement");
        assert_eq!(announcement.event(), "st2.announcement__chatops");
        assert_eq!(announcement.payload, json!({"message": "hi", "channel": "ops"}));
        let (outcome, _) = kit.run("demo.post", json!({}), json!({"message": "hi"})).await;
        assert_eq!(outcome, Outcome::failed("Experimental flag is missing for action demo.post"));
    }
}
