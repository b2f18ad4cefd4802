//! Wiring of the running daemon: start order, readiness and ordered shutdown.
//!
//! Owns: the start sequence (signals, the action user, directories, store, built-in packs and
//! Python shim, what the action user reaches, reload actor, watcher, first load, journal, shim
//! socket, sensors, control socket, READY) and
//! the shutdown sequence (stop intake, stop sensors, drain the journal, close the API).
//! Must not: contain domain logic.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::action::remote::ssh::close_kept_connections;
use crate::action_user::{ActionUser, access};
use crate::api::{self, ControlService, DaemonInfo, TcpDoors};
use crate::config::Config;
use crate::datastore::Datastore;
use crate::executor::{Executor, ExecutorConfig};
use crate::pack::builtin;
use crate::packmgmt::{PackManager, PackPaths};
use crate::pyenv::base::BaseError;
use crate::pyenv::{BaseLibraries, PythonEnv};
use crate::registry::build::Scanner;
use crate::reload::{self, Cause, Reloader};
use crate::rule::reactor::Reactor;
use crate::runner::RunContext;
use crate::sensor::supervisor::Supervisor;
use crate::sensor::task::{STOP_GRACE, SensorContext};
use crate::service::{Runtime, Services};
use crate::shim::ShimServer;
use crate::store::Store;
use crate::trigger::journal::Journal;
use crate::warm::WarmPool;
use crate::{signal, systemd, watch};

/// How long in-flight work may take to finish after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Runs the daemon until `shutdown` is cancelled (or SIGTERM/SIGINT arrives).
pub async fn run(config: Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let started = Instant::now();
    // Before anything else, so an early SIGHUP or SIGTERM is handled rather than fatal.
    let signals = signal::install().context("cannot install signal handlers")?;
    let paths = config.paths.clone();
    let action_user = ActionUser::resolve(config.action_user.as_deref())?;
    action_user.log();
    let user = action_user.switch.clone();
    if user.is_some()
        && let Some((before, after)) = access::open_umask()
    {
        tracing::info!("umask {before:04o} -> {after:04o}: the action user may read what st2d creates");
    }
    let http = match &config.ingress {
        Some(ingress) => Some(crate::ingress::bind(ingress).await.map_err(anyhow::Error::msg)?),
        None => None,
    };
    let grpc_tcp = api::tcp::bind(&config.grpc).await?;
    for dir in [&paths.packs_dirs[0], &paths.config_dir, &paths.data_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let store_dir = paths.store_dir();
    let store = tokio::task::spawn_blocking(move || Store::open(&store_dir)).await??;
    let builtin_dirs = builtin::write_out(&paths.builtin_packs_dir())
        .with_context(|| format!("cannot write the built-in packs under {}", paths.builtin_packs_dir().display()))?;
    let scanner = Scanner::new(builtin_dirs, paths.packs_dirs.clone(), paths.config_dir.clone());
    crate::embedded::write_tree(&paths.python_dir(), crate::embedded::PYTHON_SHIM_FILES)
        .with_context(|| format!("cannot write the Python shim under {}", paths.python_dir().display()))?;
    // The interpreter pack processes, virtualenvs and the base libraries use: one the action
    // user can run.
    let mut python = config.python.clone();
    if let Some(user) = &user {
        match access::interpreter(&config.python, user).await? {
            Some(found) => python = found,
            None => {
                tracing::warn!(python = %config.python.display(), user = %user.name(), "the action user finds no such Python interpreter on st2d's PATH; Python actions and sensors will not start")
            }
        }
        access::prepare(&paths, user)?;
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        access::check(&paths, &cwd, &python, user).await?;
    }
    let reloader = Reloader::new(scanner, store.clone(), config.register_rules_by_default);
    let published = reloader.published();

    // Intake (watcher, signals, reload actor) stops first; the API last.
    let intake = shutdown.child_token();
    let api_shutdown = CancellationToken::new();
    let tasks = TaskTracker::new();
    let reload = reload::spawn(reloader, intake.clone(), &tasks);
    // Watch before the first scan: a file written while it runs is then rescanned after it,
    // never missed.
    let watcher = match config.watch_debounce {
        None => None,
        Some(debounce) => {
            let set = watch::WatchSet { roots: paths.packs_dirs.clone(), config_dir: paths.config_dir.clone() };
            match watch::start(set, debounce, reload.clone(), published.clone()) {
                Ok(watcher) => Some(watcher),
                Err(error) => {
                    tracing::error!(error = %error, "cannot watch the packs directories; reload with SIGHUP or st2ctl reload");
                    None
                }
            }
        }
    };
    let first = reload.reload(Cause::Start, None).await?;

    // Work (sensors, the shim socket) stops after intake; the journal after the work.
    let work = CancellationToken::new();
    let work_tasks = TaskTracker::new();
    let journal_shutdown = CancellationToken::new();
    let journal_tasks = TaskTracker::new();
    let (engine_tx, engine_rx) = tokio::sync::mpsc::channel(64);
    let admission = crate::trigger::admission::Admission::new(config.intake.clone());
    let journal = Journal::start(store.clone(), Some(engine_tx), admission, journal_shutdown.clone(), &journal_tasks);
    let datastore = Datastore::open(store.clone(), &paths.datastore_key())?
        .with_changes(crate::datastore::journal_changes(journal.clone()));
    let shim = ShimServer::start(
        &paths.shim_socket(),
        journal.clone(),
        published.clone(),
        datastore.clone(),
        work.clone(),
        &work_tasks,
    )
    .with_context(|| format!("cannot listen on {}", paths.shim_socket().display()))?;
    if let Some(user) = &user {
        user.give(&paths.shim_socket(), 0o600)
            .with_context(|| format!("cannot hand {} to {}", paths.shim_socket().display(), user.name()))?;
    }
    let python_env = PythonEnv {
        shim_dir: paths.python_dir(),
        pycache_dir: access::pycache_dir(&paths),
        packs_dirs: paths.packs_dirs.clone(),
        common_libs: config.common_libs,
        base: BaseLibraries::new(paths.python_base_dir.clone()),
    };
    let warm_pool = |green: bool| {
        let entry = paths.python_dir().join("st2d_shim").join("warm_main.py");
        let run_dir = paths.shim_socket().with_file_name("");
        match (config.python_warm, green) {
            (false, _) => WarmPool::off(),
            (true, false) => {
                WarmPool::new(entry, run_dir, config.python_preload.clone(), work.clone(), work_tasks.clone())
            }
            (true, true) => WarmPool::green(entry, run_dir, work.clone(), work_tasks.clone()),
        }
    };
    let context = SensorContext {
        shim: shim.clone(),
        journal: journal.clone(),
        python_env: python_env.clone(),
        warm: warm_pool(true),
        user: user.clone(),
    };
    let sensors = Supervisor::new(
        context,
        paths.virtualenvs_dir.clone(),
        python.clone(),
        store.clone(),
        config.sensor_ref.clone(),
    );
    let packs = PackManager::new(
        PackPaths {
            install_root: paths.packs_dirs[0].clone(),
            staging_root: crate::packmgmt::staging_root(&paths.data_dir, &paths.packs_dirs[0]),
            packs_dirs: paths.packs_dirs.clone(),
            config_dir: paths.config_dir.clone(),
            virtualenvs_dir: paths.virtualenvs_dir.clone(),
            // As given: `python -m venv` records the real interpreter behind a version manager's
            // shim by itself, and resolving it here would run Python before READY.
            python: python.clone(),
            index_files: config.index_files.clone(),
        },
        reload.clone(),
        published.clone(),
        store.clone(),
        sensors.clone(),
    );
    // Executions: queued ones stop waiting when draining starts; running ones get the grace
    // period, then their process groups are killed.
    let action_tokens = std::sync::Arc::new(crate::auth::ActionTokens::default());
    let executions_draining = CancellationToken::new();
    let executions_kill = CancellationToken::new();
    let execution_tasks = TaskTracker::new();
    let executor = Executor::new(
        ExecutorConfig {
            concurrency: config.action_concurrency,
            run: RunContext {
                python: python.clone(),
                virtualenvs_dir: paths.virtualenvs_dir.clone(),
                python_env: python_env.clone(),
                shim: shim.clone(),
                journal: journal.clone(),
                ssh: config.ssh.clone(),
                warm: warm_pool(false),
                api: crate::runner::ApiAccess {
                    url: http.as_ref().and_then(|bound| bound.api_url()).unwrap_or_default(),
                    tokens: Some(action_tokens.clone()),
                },
                announcer: crate::announce::Announcer::default(),
                user: user.clone(),
            },
            packs: Some(packs.clone()),
            kv: std::sync::Arc::new(datastore.clone()),
        },
        store.clone(),
        published.clone(),
        journal.clone(),
        executions_draining.clone(),
        executions_kill.clone(),
        execution_tasks.clone(),
    );
    executor.recover();
    let rules_tasks = TaskTracker::new();
    let patterns_kv: std::sync::Arc<dyn st2d_core::template::KeyValueSource> = std::sync::Arc::new(datastore.clone());
    let renderer: crate::rule::reactor::RendererFactory = std::sync::Arc::new(move || {
        Box::new(st2d_core::criteria::patterns::TemplatePatterns::new(patterns_kv.clone()))
    });
    let reactor =
        Reactor::new(store.clone(), published.clone(), executor.clone(), renderer, journal.admission().clone());
    // The reactor stops when the journal, drained, closes its channel.
    rules_tasks.spawn(reactor.run(engine_rx, CancellationToken::new()));
    work_tasks.spawn(sensors.clone().run(published.clone(), work.clone()));
    let timezone: chrono_tz::Tz = config
        .timers_timezone
        .parse()
        .map_err(|_| anyhow::anyhow!("--timers-timezone: unknown time zone \"{}\"", config.timers_timezone))?;
    work_tasks.spawn(crate::retention::run(store.clone(), config.retention, work.clone()));
    work_tasks.spawn(crate::datastore::sweep_expired(datastore.clone(), work.clone()));
    work_tasks.spawn(crate::sensor::timer::run(published.clone(), journal.clone(), timezone, work.clone()));

    let mut rereads = http.as_ref().map(crate::ingress::Bound::rereads).unwrap_or_default();
    rereads.extend(grpc_tcp.as_ref().map(TcpDoors::rereads).unwrap_or_default());
    let services = Services::new(
        published.clone(),
        reload.clone(),
        Runtime {
            sensors: sensors.clone(),
            shim,
            store,
            journal,
            executor: executor.clone(),
            datastore: datastore.clone(),
            packs,
            action_tokens,
        },
    );
    if let Some(bound) = http {
        tracing::info!(address = %bound.local_addr()?, "serving StackStorm's REST API, webhooks and metrics over HTTP");
        tasks.spawn(crate::ingress::serve(bound, services.clone(), intake.clone()));
    }
    let listener = api::bind(&paths.socket).await?;
    if let Some(tcp) = &grpc_tcp {
        for address in tcp.local_addrs() {
            tracing::info!(address = %address, tls = tcp.tls(), "serving the control plane over TCP");
        }
    }
    tasks.spawn(signal::run(signals, reload.clone(), rereads, shutdown.clone()));
    tasks.spawn(systemd::watchdog(intake.clone()));
    let info = DaemonInfo {
        started,
        packs_dirs: paths.packs_dirs.clone(),
        socket: paths.socket.clone(),
        action_user: action_user.name.clone(),
    };
    let service = ControlService::new(&services, info);
    let server = tokio::spawn(api::serve(
        listener,
        paths.socket.clone(),
        grpc_tcp,
        service,
        shutdown.clone(),
        api_shutdown.clone(),
    ));

    let status = format!(
        "ready: {} packs, {} actions, {} problems",
        first.counts.packs,
        first.counts.actions,
        first.problems.len()
    );
    systemd::ready(&status);
    work_tasks.spawn(prepare_base_libraries(python_env.base.clone(), python.clone(), sensors.clone(), work.clone()));
    tracing::info!(
        socket = %paths.socket.display(),
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "{status}"
    );

    shutdown.cancelled().await;
    systemd::stopping();
    drop(watcher);
    intake.cancel();
    tasks.close();
    if tokio::time::timeout(GRACE, tasks.wait()).await.is_err() {
        tracing::warn!(phase = "intake", "some tasks did not stop within the grace period");
    }
    executions_draining.cancel();
    execution_tasks.close();
    if tokio::time::timeout(GRACE, execution_tasks.wait()).await.is_err() {
        tracing::warn!(
            running = executor.in_flight(),
            "executions still running after the grace period are killed and abandoned"
        );
        executions_kill.cancel();
        let _ = tokio::time::timeout(GRACE, execution_tasks.wait()).await;
    }
    let ssh_state = config.ssh.state_dir.clone();
    let closed = close_kept_connections(&ssh_state).await;
    if closed > 0 {
        tracing::info!(closed, "closed the kept ssh connections");
    }
    for (token, tracker, what) in [(&work, &work_tasks, "sensors"), (&journal_shutdown, &journal_tasks, "journal")] {
        token.cancel();
        tracker.close();
        if tokio::time::timeout(GRACE + STOP_GRACE, tracker.wait()).await.is_err() {
            tracing::warn!(phase = what, "some tasks did not stop within the grace period");
        }
    }
    rules_tasks.close();
    if tokio::time::timeout(GRACE, rules_tasks.wait()).await.is_err() {
        tracing::warn!(phase = "rules", "the rules engine did not stop within the grace period");
    }
    api_shutdown.cancel();
    match tokio::time::timeout(GRACE, server).await {
        Ok(joined) => joined??,
        Err(_) => tracing::warn!("the API did not stop within the grace period"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// Finds or builds StackStorm's base Python libraries in the background, then has the sensors
/// that started without them start again with them.
async fn prepare_base_libraries(
    base: BaseLibraries,
    python: PathBuf,
    sensors: Supervisor,
    shutdown: CancellationToken,
) {
    let progress = |line: &str| tracing::info!(target: "st2d::pyenv", "{line}");
    match base.prepare(&python, &progress, &shutdown).await {
        Ok(site) => {
            tracing::info!(path = %site.display(), "StackStorm's base Python libraries are ready");
            sensors.refresh();
        }
        Err(BaseError::Canceled) => {}
        Err(error) => tracing::error!(error = %error, "packs run without StackStorm's base Python libraries"),
    }
}
