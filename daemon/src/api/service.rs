//! The `st2d.v1.Control` gRPC service: status, reload and the registry reads.
//!
//! Owns: request validation and the mapping of failures to `tonic::Status`. Must not: hold
//! state of its own or block (it reads the published snapshot and sends to the reload actor).

use std::path::PathBuf;
use std::time::Instant;

use st2d_proto::v1 as pb;
use st2d_proto::v1::control_server::Control;
use tonic::{Request, Response, Status};

use super::{convert, runtime, status};
use crate::reload::{Cause, Published, Registration};
use crate::service::catalog::{self, ActionFilter, PolicyFilter, RuleFilter, SensorFilter};
use crate::service::trigger_instances::{self, InstanceFilter};
use crate::service::{Runtime, Services, Window, sensors};
use st2d_core::pack::model::ContentKind;
use st2d_core::pack::model::Sensor;
use std::sync::Arc;

/// Facts about the running daemon that status reports.
#[derive(Debug, Clone)]
pub struct DaemonInfo {
    pub started: Instant,
    pub packs_dirs: Vec<PathBuf>,
    pub socket: PathBuf,
    /// Who actions and sensors run as.
    pub action_user: String,
}

pub struct ControlService {
    services: Services,
    /// The same as `services`' (kept apart as the RPCs read them on every call).
    published: Published,
    runtime: Arc<Runtime>,
    info: DaemonInfo,
}

impl ControlService {
    pub fn new(services: &Services, info: DaemonInfo) -> Self {
        Self {
            services: services.clone(),
            published: services.published.clone(),
            runtime: services.runtime.clone(),
            info,
        }
    }

    fn sensor(&self, sensor: &Sensor, registry: &crate::registry::Registry) -> pb::Sensor {
        convert::sensor(sensor, &self.runtime.sensors.standing(sensor, registry, &self.runtime.sensors.selection()))
    }
}

fn filter(request: &pb::ListRequest) -> Option<&str> {
    Some(request.pack.as_str()).filter(|p| !p.is_empty())
}

fn required_ref(request: &pb::GetRequest) -> Result<&str, Status> {
    let ref_ = request.r#ref.trim();
    if ref_.is_empty() {
        return Err(status::invalid_argument("ref is required"));
    }
    Ok(ref_)
}

fn not_found(kind: &str, ref_: &str) -> Status {
    status::not_found(format!("{kind} \"{ref_}\" not found"))
}

fn content_kind(kind: i32) -> Result<ContentKind, Status> {
    Ok(match pb::ContentKind::try_from(kind) {
        Ok(pb::ContentKind::Actions) => ContentKind::Actions,
        Ok(pb::ContentKind::Triggers) => ContentKind::Triggers,
        Ok(pb::ContentKind::Sensors) => ContentKind::Sensors,
        Ok(pb::ContentKind::Configs) => ContentKind::Configs,
        Ok(pb::ContentKind::Rules) => ContentKind::Rules,
        Ok(pb::ContentKind::Aliases) => ContentKind::Aliases,
        Ok(pb::ContentKind::Policies) => ContentKind::Policies,
        Ok(pb::ContentKind::Unspecified) | Err(_) => {
            return Err(status::invalid_argument(format!("register: unknown content kind {kind}")));
        }
    })
}

#[tonic::async_trait]
impl Control for ControlService {
    async fn get_status(&self, _: Request<pb::GetStatusRequest>) -> Result<Response<pb::Status>, Status> {
        let registry = self.published.registry();
        let counts = registry.counts();
        Ok(Response::new(pb::Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            uptime_seconds: self.info.started.elapsed().as_secs(),
            packs_loaded: counts.packs as u32,
            packs_with_errors: counts.packs_with_errors as u32,
            actions: counts.actions as u32,
            trigger_types: counts.trigger_types as u32,
            rules: counts.rules as u32,
            sensors: counts.sensors as u32,
            packs_dirs: self.info.packs_dirs.iter().map(|p| p.display().to_string()).collect(),
            socket: self.info.socket.display().to_string(),
            action_user: self.info.action_user.clone(),
            last_reload: self.published.last_report().map(|r| convert::reload_report(&r)),
            sensors_running: registry
                .sensors(None)
                .filter(|s| {
                    self.runtime
                        .sensors
                        .status(&s.ref_)
                        .is_some_and(|st| st.state == crate::sensor::SensorState::Running)
                })
                .count() as u32,
            dispatches_accepted: self.runtime.shim.dispatch_counts().0,
            dispatches_dropped: self.runtime.shim.dispatch_counts().1,
            warm_interpreters: self
                .runtime
                .executor
                .warm_interpreters()
                .into_iter()
                .chain(self.runtime.sensors.warm_interpreters())
                .map(|w| pb::WarmInterpreter {
                    python: w.python.display().to_string(),
                    kind: w.kind.to_string(),
                    state: w.state.to_string(),
                    pid: w.pid,
                    forks: w.forks,
                    restarts: w.restarts,
                    pack: w.pack,
                    preloaded: w.preloaded,
                })
                .collect(),
        }))
    }

    async fn reload(&self, request: Request<pb::ReloadRequest>) -> Result<Response<pb::ReloadReport>, Status> {
        let request = request.into_inner();
        let mut kinds =
            request.register.iter().map(|k| content_kind(*k)).collect::<Result<std::collections::BTreeSet<_>, _>>()?;
        if request.register_all {
            kinds.extend(ContentKind::ALL);
        }
        let registry = self.published.registry();
        if let Some(unknown) = request.packs.iter().find(|p| registry.pack(p).is_none()) {
            return Err(status::invalid_argument(format!("packs: no pack \"{unknown}\" is loaded")));
        }
        let registration =
            (!kinds.is_empty()).then_some(Registration { kinds, packs: request.packs, ..Registration::default() });
        let report = self
            .services
            .reload
            .reload(Cause::Rpc, registration)
            .await
            .map_err(|e| status::unavailable(e.to_string()))?;
        Ok(Response::new(convert::reload_report(&report)))
    }

    async fn list_packs(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::ListPacksResponse>, Status> {
        let registry = self.published.registry();
        let only = filter(request.get_ref());
        let packs = catalog::packs(&registry, only.unwrap_or_default()).into_iter().map(convert::pack).collect();
        Ok(Response::new(pb::ListPacksResponse { packs }))
    }

    async fn get_pack(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Pack>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let registry = self.published.registry();
        Ok(Response::new(convert::pack(catalog::pack(&registry, ref_)?)))
    }

    async fn list_webhooks(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListWebhooksResponse>, Status> {
        let registry = self.published.registry();
        let only = filter(request.get_ref());
        let webhooks = crate::service::catalog::webhooks(&registry, only)
            .into_iter()
            .map(|hook| pb::Webhook { url: hook.url, trigger: hook.trigger.ref_, rules: hook.rules })
            .collect();
        Ok(Response::new(pb::ListWebhooksResponse { webhooks }))
    }

    async fn set_pack_config(&self, request: Request<pb::SetPackConfigRequest>) -> Result<Response<pb::Pack>, Status> {
        let request = request.into_inner();
        let values = super::runtime::object_field(&request.values_json, "values_json")?;
        self.runtime.packs.set_config(&request.pack, values, request.replace).await.map_err(Status::from)?;
        let registry = self.published.registry();
        let entry = registry.pack(&request.pack).ok_or_else(|| not_found("pack", &request.pack))?;
        Ok(Response::new(convert::pack(entry)))
    }

    async fn list_actions(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListActionsResponse>, Status> {
        let registry = self.published.registry();
        let only = ActionFilter { pack: request.get_ref().pack.clone(), ..ActionFilter::default() };
        let actions = catalog::actions(&registry, &only).iter().map(|a| convert::action(a)).collect();
        Ok(Response::new(pb::ListActionsResponse { actions }))
    }

    async fn get_action(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Action>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let registry = self.published.registry();
        let action = catalog::action(&registry, ref_)?;
        Ok(Response::new(convert::action(&action)))
    }

    async fn list_trigger_types(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListTriggerTypesResponse>, Status> {
        let registry = self.published.registry();
        let trigger_types = catalog::trigger_types(&registry, &request.get_ref().pack)
            .iter()
            .map(|t| convert::trigger_type(t))
            .collect();
        Ok(Response::new(pb::ListTriggerTypesResponse { trigger_types }))
    }

    async fn get_trigger_type(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::TriggerType>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let registry = self.published.registry();
        let trigger_type = catalog::trigger_type(&registry, ref_)?;
        Ok(Response::new(convert::trigger_type(&trigger_type)))
    }

    async fn list_rules(&self, request: Request<pb::ListRequest>) -> Result<Response<pb::ListRulesResponse>, Status> {
        let registry = self.published.registry();
        let only = RuleFilter { pack: request.get_ref().pack.clone(), ..RuleFilter::default() };
        let rules = catalog::rules(&registry, &only).iter().map(|r| convert::rule(r, &registry)).collect();
        Ok(Response::new(pb::ListRulesResponse { rules }))
    }

    async fn get_rule(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Rule>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let registry = self.published.registry();
        let rule = catalog::rule(&registry, ref_)?;
        Ok(Response::new(convert::rule(&rule, &registry)))
    }

    async fn list_sensors(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListSensorsResponse>, Status> {
        let only = SensorFilter { pack: request.get_ref().pack.clone(), ..SensorFilter::default() };
        let entries = sensors::list(&self.services, &only);
        let sensors = entries.iter().map(|e| convert::sensor(&e.sensor, &e.standing)).collect();
        Ok(Response::new(pb::ListSensorsResponse { sensors }))
    }

    async fn get_sensor(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Sensor>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let entry = sensors::get(&self.services, ref_)?;
        Ok(Response::new(convert::sensor(&entry.sensor, &entry.standing)))
    }

    async fn list_aliases(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListAliasesResponse>, Status> {
        Ok(Response::new(super::aliases::list_aliases(&self.published, request.get_ref())))
    }

    async fn match_alias(&self, request: Request<pb::MatchAliasRequest>) -> Result<Response<pb::AliasMatch>, Status> {
        super::aliases::match_alias(&self.published, request.get_ref()).map(Response::new)
    }

    async fn execute_alias(
        &self,
        request: Request<pb::ExecuteAliasRequest>,
    ) -> Result<Response<pb::ExecuteAliasReply>, Status> {
        super::aliases::execute_alias(&self.published, &self.runtime, request.into_inner()).await.map(Response::new)
    }

    async fn list_policies(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let registry = self.published.registry();
        let only = PolicyFilter { pack: request.get_ref().pack.clone(), ..PolicyFilter::default() };
        let policies = catalog::policies(&registry, &only).iter().map(|p| convert::policy(p)).collect();
        Ok(Response::new(pb::ListPoliciesResponse { policies }))
    }

    async fn restart_sensor(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Sensor>, Status> {
        let ref_ = required_ref(request.get_ref())?;
        let registry = self.published.registry();
        let sensor = registry.sensor(ref_).ok_or_else(|| not_found("sensor", ref_))?;
        if !self.runtime.sensors.restart(ref_) {
            return Err(status::failed_precondition(format!(
                "sensor \"{ref_}\" is not supervised: it is disabled, or its pack does not register sensors"
            )));
        }
        Ok(Response::new(self.sensor(sensor, &registry)))
    }

    async fn restart_component(
        &self,
        request: Request<pb::RestartComponentRequest>,
    ) -> Result<Response<pb::RestartComponentReply>, Status> {
        let name = request.get_ref().name.trim().to_ascii_lowercase();
        if !crate::packmgmt::actions::SENSOR_CONTAINER.contains(&name.as_str()) {
            return Err(status::invalid_argument(format!(
                "unknown component \"{name}\"; valid components: {}",
                crate::packmgmt::actions::SENSOR_CONTAINER.join(", ")
            )));
        }
        let restarted = self.runtime.sensors.restart_all() as u32;
        Ok(Response::new(pb::RestartComponentReply { component: "sensor_container".to_string(), restarted }))
    }

    async fn list_trigger_instances(
        &self,
        request: Request<pb::ListTriggerInstancesRequest>,
    ) -> Result<Response<pb::ListTriggerInstancesResponse>, Status> {
        let request = request.into_inner();
        let window = Window { offset: 0, limit: (request.limit > 0).then_some(request.limit as usize) };
        let filter = InstanceFilter {
            triggers: Some(request.trigger).filter(|t| !t.is_empty()).into_iter().collect(),
            ..InstanceFilter::default()
        };
        let (runtime, registry) = (self.runtime.clone(), self.published.registry());
        let page = tokio::task::spawn_blocking(move || trigger_instances::list(&runtime, &registry, &filter, window))
            .await
            .map_err(|e| status::internal(e.to_string()))??;
        let instances = page.items.iter().map(convert::trigger_instance).collect();
        Ok(Response::new(pb::ListTriggerInstancesResponse { instances }))
    }

    async fn get_trigger_instance(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<pb::TriggerInstance>, Status> {
        let id = required_ref(request.get_ref())?;
        let instance = trigger_instances::get(&self.runtime, id)?;
        Ok(Response::new(convert::trigger_instance(&instance)))
    }

    async fn set_sensor_enabled(
        &self,
        request: Request<pb::SetEnabledRequest>,
    ) -> Result<Response<pb::Sensor>, Status> {
        let request = request.into_inner();
        let entry = sensors::set_enabled(&self.services, &request.r#ref, request.enabled)?;
        Ok(Response::new(convert::sensor(&entry.sensor, &entry.standing)))
    }

    type WatchTriggerInstancesStream =
        std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::TriggerInstance, Status>> + Send + 'static>>;

    async fn watch_trigger_instances(
        &self,
        request: Request<pb::ListTriggerInstancesRequest>,
    ) -> Result<Response<Self::WatchTriggerInstancesStream>, Status> {
        use tokio_stream::StreamExt;
        let wanted = request.into_inner().trigger;
        let stream =
            tokio_stream::wrappers::BroadcastStream::new(self.runtime.journal.subscribe()).filter_map(move |item| {
                match item {
                    Ok(instance) if wanted.is_empty() || instance.trigger == wanted => {
                        Some(Ok(convert::trigger_instance(&instance)))
                    }
                    Ok(_) => None,
                    Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(missed)) => {
                        Some(Err(status::data_loss(format!(
                            "the watcher fell behind and missed {missed} instances; list them with ListTriggerInstances"
                        ))))
                    }
                }
            });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn fire_trigger(
        &self,
        request: Request<pb::FireTriggerRequest>,
    ) -> Result<Response<pb::TriggerInstance>, Status> {
        runtime::fire_trigger(&self.published, &self.runtime, request.into_inner()).await.map(Response::new)
    }

    async fn set_rule_enabled(&self, request: Request<pb::SetEnabledRequest>) -> Result<Response<pb::Rule>, Status> {
        let request = request.into_inner();
        let rule = crate::service::rules::set_enabled(&self.services, &request.r#ref, request.enabled).await?;
        Ok(Response::new(convert::rule(&rule, &self.published.registry())))
    }

    async fn list_rule_enforcements(
        &self,
        request: Request<pb::ListRuleEnforcementsRequest>,
    ) -> Result<Response<pb::ListRuleEnforcementsResponse>, Status> {
        let runtime = self.runtime.clone();
        tokio::task::spawn_blocking(move || runtime::list_enforcements(&runtime, request.into_inner()))
            .await
            .map_err(|e| status::internal(e.to_string()))?
            .map(Response::new)
    }

    async fn run_action(&self, request: Request<pb::RunActionRequest>) -> Result<Response<pb::Execution>, Status> {
        runtime::run_action(&self.published, &self.runtime, request.into_inner()).await.map(Response::new)
    }

    async fn list_executions(
        &self,
        request: Request<pb::ListExecutionsRequest>,
    ) -> Result<Response<pb::ListExecutionsResponse>, Status> {
        runtime::list_executions(&self.published, &self.runtime, request.into_inner()).map(Response::new)
    }

    async fn get_execution(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Execution>, Status> {
        let id = required_ref(request.get_ref())?;
        runtime::get_execution(&self.published, &self.runtime, id).map(Response::new)
    }

    type WatchExecutionStream = runtime::ExecutionEvents;

    async fn watch_execution(
        &self,
        request: Request<pb::GetRequest>,
    ) -> Result<Response<Self::WatchExecutionStream>, Status> {
        let id = required_ref(request.get_ref())?;
        runtime::watch_execution(&self.published, &self.runtime, id).map(Response::new)
    }

    async fn cancel_execution(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Execution>, Status> {
        let id = required_ref(request.get_ref())?;
        runtime::cancel_execution(&self.published, &self.runtime, id).await.map(Response::new)
    }

    async fn re_run_execution(&self, request: Request<pb::ReRunRequest>) -> Result<Response<pb::Execution>, Status> {
        let request = request.into_inner();
        if request.id.trim().is_empty() {
            return Err(status::invalid_argument("id is required"));
        }
        runtime::re_run_execution(&self.published, &self.runtime, request).await.map(Response::new)
    }

    async fn pause_execution(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Execution>, Status> {
        let id = required_ref(request.get_ref())?;
        runtime::pause_execution(&self.published, &self.runtime, id, true).map(Response::new)
    }

    async fn resume_execution(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Execution>, Status> {
        let id = required_ref(request.get_ref())?;
        runtime::pause_execution(&self.published, &self.runtime, id, false).map(Response::new)
    }

    async fn list_inquiries(
        &self,
        request: Request<pb::ListInquiriesRequest>,
    ) -> Result<Response<pb::ListInquiriesResponse>, Status> {
        Ok(Response::new(super::inquiries::list_inquiries(&self.published, &self.runtime, request.get_ref())))
    }

    async fn get_inquiry(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::Inquiry>, Status> {
        let id = required_ref(request.get_ref())?;
        super::inquiries::get_inquiry(&self.published, &self.runtime, id).map(Response::new)
    }

    async fn respond_inquiry(
        &self,
        request: Request<pb::RespondInquiryRequest>,
    ) -> Result<Response<pb::InquiryResponse>, Status> {
        super::inquiries::respond_inquiry(&self.runtime, request.get_ref()).await.map(Response::new)
    }

    async fn get_key(&self, request: Request<pb::KeyRequest>) -> Result<Response<pb::KeyValuePair>, Status> {
        super::keys::get_key(&self.runtime, request.get_ref()).map(Response::new)
    }

    async fn list_keys(&self, request: Request<pb::ListKeysRequest>) -> Result<Response<pb::ListKeysResponse>, Status> {
        super::keys::list_keys(&self.runtime, request.get_ref()).map(Response::new)
    }

    async fn set_key(&self, request: Request<pb::SetKeyRequest>) -> Result<Response<pb::KeyValuePair>, Status> {
        super::keys::set_key(&self.runtime, request.get_ref()).map(Response::new)
    }

    async fn delete_key(&self, request: Request<pb::KeyRequest>) -> Result<Response<pb::DeleteKeyReply>, Status> {
        super::keys::delete_key(&self.runtime, request.get_ref()).map(Response::new)
    }

    type ExportStoreStream = super::backup::ExportChunks;

    async fn export_store(
        &self,
        request: Request<pb::ExportStoreRequest>,
    ) -> Result<Response<Self::ExportStoreStream>, Status> {
        super::backup::export_store(&self.runtime, request.get_ref()).await.map(Response::new)
    }
}
