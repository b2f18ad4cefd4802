//! The supervisor: keeps one task per enabled sensor in line with the published registry
//! (start added sensors, stop removed or disabled ones, restart exactly those whose fingerprint
//! changed), and answers restart requests.
//!
//! Owns: the map of running sensor tasks. Must not: touch processes directly (tasks do).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::spec::{Selection, SensorSpec, desired};
use super::task::{self, Command, SensorContext};
use super::{SensorState, SensorStatus, Standing};
use crate::metrics::SensorOverview;
use crate::registry::Registry;
use crate::reload::Published;
use crate::store::Store;
use st2d_core::pack::model::ContentKind;
use st2d_core::pack::model::Sensor;

struct Running {
    fingerprint: u64,
    triggers: Vec<serde_json::Value>,
    commands: mpsc::UnboundedSender<Command>,
    status: Arc<Mutex<SensorStatus>>,
    task: tokio::task::JoinHandle<()>,
}

/// A cheap handle to the supervisor.
#[derive(Clone)]
pub struct Supervisor {
    sensors: Arc<Mutex<HashMap<String, Running>>>,
    ctx: Arc<SensorContext>,
    virtualenvs: PathBuf,
    python: PathBuf,
    store: Store,
    only: Option<String>,
    /// Wakes the supervisor to reconcile again (after a toggle).
    poke: Arc<Notify>,
}

impl Supervisor {
    /// The warm (green) interpreters sensor processes are forked from.
    pub fn warm_interpreters(&self) -> Vec<crate::warm::WarmStatus> {
        self.ctx.warm.interpreters()
    }

    /// `only`: run that sensor alone (`st2d --sensor-ref`).
    pub fn new(ctx: SensorContext, virtualenvs: PathBuf, python: PathBuf, store: Store, only: Option<String>) -> Self {
        Self {
            sensors: Arc::new(Mutex::new(HashMap::new())),
            ctx: Arc::new(ctx),
            virtualenvs,
            python,
            store,
            only,
            poke: Arc::new(Notify::new()),
        }
    }

    /// The current selection (toggles from the store, `--sensor-ref`).
    pub fn selection(&self) -> Selection {
        let toggles = self.store.sensor_toggles().unwrap_or_else(|error| {
            tracing::error!(error = %error, "cannot read sensor toggles; using the sensor files");
            HashMap::new()
        });
        Selection { toggles, only: self.only.clone() }
    }

    /// Reconciles again now: the sensors whose environment changed (StackStorm's base
    /// libraries became ready) start again.
    pub fn refresh(&self) {
        self.poke.notify_one();
    }

    /// Enables or disables a sensor, kept across restarts; `file_enabled` is its file's value.
    pub fn set_enabled(&self, sensor: &str, enabled: bool, file_enabled: bool) -> Result<(), crate::store::StoreError> {
        // A toggle equal to the file is no toggle: editing the file later then takes effect.
        let toggle = (enabled != file_enabled).then_some(enabled);
        self.store.set_sensor_toggle(sensor, toggle)?;
        self.poke.notify_one();
        Ok(())
    }

    /// Follows the published registry until `shutdown`, then stops every sensor.
    pub async fn run(mut self, published: Published, shutdown: CancellationToken) {
        // Resolved here, not before READY: it runs the interpreter once.
        self.python = super::spec::resolve_interpreter(&self.python, self.ctx.user.as_ref()).await;
        tracing::info!(python = %self.python.display(), "python interpreter for sensors");
        // Sensors start with StackStorm's base libraries when a build is there.
        self.ctx.python_env.base.settled().await;
        let mut generations = published.subscribe();
        loop {
            let registry = published.registry();
            let (virtualenvs, python) = (self.virtualenvs.clone(), self.python.clone());
            let base = self.ctx.python_env.base.site_dir();
            let selection = self.selection();
            let desired = move || desired(&registry, &selection, &virtualenvs, &python, base.as_deref());
            match tokio::task::spawn_blocking(desired).await {
                Ok(specs) => self.reconcile(specs).await,
                Err(error) => tracing::error!(error = %error, "cannot compute the sensors to run"),
            }
            tokio::select! {
                changed = generations.changed() => if changed.is_err() { break },
                () = self.poke.notified() => {}
                () = shutdown.cancelled() => break,
            }
        }
        self.stop_all().await;
    }

    async fn reconcile(&self, specs: Vec<SensorSpec>) {
        let mut stopping = Vec::new();
        {
            let Ok(mut sensors) = self.sensors.lock() else {
                return;
            };
            let wanted: HashMap<&str, &SensorSpec> = specs.iter().map(|s| (s.ref_(), s)).collect();
            let gone: Vec<String> = sensors
                .iter()
                .filter(|(name, running)| {
                    wanted.get(name.as_str()).is_none_or(|spec| spec.fingerprint != running.fingerprint)
                })
                .map(|(name, _)| name.clone())
                .collect();
            for name in gone {
                if let Some(running) = sensors.remove(&name) {
                    tracing::info!(sensor = %name, "stopping sensor (removed, disabled or changed)");
                    stopping.push(stop(running, false));
                }
            }
        }
        for done in stopping {
            done.await;
        }
        let Ok(mut sensors) = self.sensors.lock() else {
            return;
        };
        for spec in specs {
            if let Some(running) = sensors.get_mut(spec.ref_()) {
                if running.triggers != spec.triggers {
                    running.triggers = spec.triggers.clone();
                    let _ = running.commands.send(Command::Triggers(spec.triggers.clone()));
                }
                continue;
            }
            let (commands, receiver) = mpsc::unbounded_channel();
            let status = Arc::new(Mutex::new(SensorStatus::new(SensorState::Starting)));
            let fingerprint = spec.fingerprint;
            let triggers = spec.triggers.clone();
            let name = spec.ref_().to_string();
            let task = tokio::spawn(task::run(spec, self.ctx.clone(), status.clone(), receiver));
            sensors.insert(name, Running { fingerprint, triggers, commands, status, task });
        }
    }

    /// Restarts one sensor now; false when no such sensor runs.
    pub fn restart(&self, sensor: &str) -> bool {
        self.sensors
            .lock()
            .ok()
            .and_then(|sensors| sensors.get(sensor).map(|r| r.commands.send(Command::Restart).is_ok()))
            .unwrap_or(false)
    }

    /// Restarts every sensor; returns how many.
    pub fn restart_all(&self) -> usize {
        let Ok(sensors) = self.sensors.lock() else {
            return 0;
        };
        sensors.values().filter(|r| r.commands.send(Command::Restart).is_ok()).count()
    }

    /// The status of one sensor, if it is supervised.
    pub fn status(&self, sensor: &str) -> Option<SensorStatus> {
        let sensors = self.sensors.lock().ok()?;
        let running = sensors.get(sensor)?;
        running.status.lock().ok().map(|s| s.clone())
    }

    /// Where `sensor` stands, under `selection` (see [`Supervisor::selection`]).
    pub fn standing(&self, sensor: &Sensor, registry: &Registry, selection: &Selection) -> Standing {
        Standing {
            status: self.status(&sensor.ref_),
            registered: registry.pack(&sensor.pack).is_some_and(|p| p.registers(ContentKind::Sensors)),
            enabled: selection.enabled(sensor),
            selected: selection.only.as_ref().is_none_or(|only| *only == sensor.ref_),
        }
    }

    /// Every sensor of `registry`, with the state `st2ctl sensor list` shows and its restarts.
    pub fn overview(&self, registry: &Registry) -> Vec<SensorOverview> {
        let selection = self.selection();
        registry
            .sensors(None)
            .map(|sensor| {
                let standing = self.standing(sensor, registry, &selection);
                SensorOverview {
                    ref_: sensor.ref_.clone(),
                    state: standing.state(),
                    restarts: standing.status.map_or(0, |s| s.restarts),
                }
            })
            .collect()
    }

    async fn stop_all(&self) {
        let running: Vec<Running> = match self.sensors.lock() {
            Ok(mut sensors) => sensors.drain().map(|(_, r)| r).collect(),
            Err(_) => return,
        };
        let stops: Vec<_> = running.into_iter().map(|r| stop(r, false)).collect();
        for done in stops {
            done.await;
        }
    }
}

/// Asks a sensor task to stop; the future completes once its process is gone.
fn stop(running: Running, disabled: bool) -> impl std::future::Future<Output = ()> {
    let (done, stopped) = oneshot::channel();
    let sent = running.commands.send(Command::Stop { disabled, done }).is_ok();
    async move {
        if sent {
            let _ = stopped.await;
        }
        let _ = running.task.await;
    }
}
