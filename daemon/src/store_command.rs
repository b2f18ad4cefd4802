//! `st2d store export|import|check`: where the store is, who holds it, and whether the work is
//! done here or by the running daemon (an export of a store a daemon holds goes through its
//! control socket, `ExportStore`); the reports these commands print.
//!
//! Owns: the choice between the offline store and the daemon, the export file's atomic
//! replacement (a temporary file beside it, mode 0600, renamed into place when complete), and
//! what an import refuses before it writes. Must not: import into a store a process holds, or
//! write anything into a store before the whole file has been checked.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::StoreCommand;
use crate::config::Paths;
use crate::store::{Health, LockHolder, Store, StoreError};

use crate::backup::{self, BackupError, Plan, Summary};

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The store is held by a running process (`store check`'s "locked").
    #[error("the store at {path} is locked by {holder}: {what}")]
    Locked { path: String, holder: LockHolder, what: &'static str },
    /// sled cannot read the store (`store check`'s "damaged").
    #[error("the store at {path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
    #[error("there is no store at {0}")]
    Absent(String),
    #[error("{0}")]
    Refused(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Datastore(#[from] crate::datastore::DatastoreError),
    #[error("the running st2d (control socket {socket}) did not export: {message}")]
    Daemon { socket: String, message: String },
}

impl From<StoreError> for CommandError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Locked { path, holder } => {
                CommandError::Locked { path, holder, what: "stop it first (an import goes into a stopped or new home)" }
            }
            StoreError::Damaged { path, reason } => CommandError::Damaged { path, reason },
            other => CommandError::Store(other),
        }
    }
}

/// Runs a `st2d store` command; what to print on success.
pub fn run(paths: &Paths, command: &StoreCommand) -> Result<String, CommandError> {
    match command {
        StoreCommand::Export { file, trigger_instances } => export(paths, file, *trigger_instances),
        StoreCommand::Import { file, force, skip_secrets } => import(paths, file, *force, *skip_secrets),
        StoreCommand::Check => check(&paths.store_dir()),
    }
}

fn check(dir: &Path) -> Result<String, CommandError> {
    let path = dir.display().to_string();
    match Store::check(dir) {
        Health::Healthy(counts) => {
            let mut report = format!("store {path}: healthy\n");
            for (tree, count) in counts {
                report.push_str(&format!("  {:<22} {count}\n", tree.name()));
            }
            Ok(report)
        }
        Health::Locked(holder) => Err(CommandError::Locked {
            path,
            holder,
            what: "in use by a running process (`st2d store export` exports through a running st2d)",
        }),
        Health::Damaged(reason) => Err(CommandError::Damaged { path, reason }),
        Health::Absent => Err(CommandError::Absent(path)),
        Health::Unreadable(reason) => Err(CommandError::Refused(reason)),
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> CommandError {
    move |source| CommandError::Io { what, source }
}

fn export(paths: &Paths, file: &Path, trigger_instances: bool) -> Result<String, CommandError> {
    let dir = paths.store_dir();
    if !Store::exists(&dir) {
        return Err(CommandError::Absent(dir.display().to_string()));
    }
    let folder = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = tempfile::Builder::new()
        .prefix(".st2d-export-")
        .tempfile_in(&folder)
        .map_err(io(format!("cannot write in {}", folder.display())))?;
    let (summary, source) = match Store::open(&dir) {
        Ok(store) => {
            let key = crate::datastore::fingerprint_of(&paths.datastore_key())?;
            let mut writer = std::io::BufWriter::new(out.as_file_mut());
            let summary = backup::export(&store, key.as_deref(), trigger_instances, &mut writer)?;
            writer.flush().map_err(io(format!("cannot write {}", file.display())))?;
            (summary, format!("the store at {}", dir.display()))
        }
        Err(StoreError::Locked { holder, .. }) => {
            through_daemon(&paths.socket, trigger_instances, out.as_file_mut())?;
            let plan = backup::plan(out.path())?;
            (plan.summary, format!("the running st2d ({holder})"))
        }
        Err(error) => return Err(error.into()),
    };
    out.as_file().sync_all().map_err(io(format!("cannot write {}", file.display())))?;
    out.persist(file)
        .map_err(|e| CommandError::Io { what: format!("cannot write {}", file.display()), source: e.error })?;
    Ok(format!("exported {} records from {source} to {}: {}\n", summary.records, file.display(), summary.describe()))
}

/// Asks the daemon on `socket` for the export and writes its chunks to `out`.
fn through_daemon(socket: &Path, trigger_instances: bool, out: &mut std::fs::File) -> Result<(), CommandError> {
    let failed = |message: String| CommandError::Daemon { socket: socket.display().to_string(), message };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let socket = socket.to_path_buf();
        let channel = tonic::transport::Endpoint::from_static("http://st2d.local")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let socket = socket.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(socket).await?;
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
                }
            }))
            .await
            .map_err(|e| failed(format!("cannot connect: {e}")))?;
        let mut client = st2d_proto::v1::control_client::ControlClient::new(channel);
        let request = st2d_proto::v1::ExportStoreRequest { trigger_instances };
        let mut chunks = client.export_store(request).await.map_err(|e| failed(e.message().to_string()))?.into_inner();
        while let Some(chunk) = chunks.message().await.map_err(|e| failed(e.message().to_string()))? {
            out.write_all(&chunk.data).map_err(io("cannot write the export".to_string()))?;
        }
        Ok(())
    })
}

fn import(paths: &Paths, file: &Path, force: bool, skip_secrets: bool) -> Result<String, CommandError> {
    let dir = paths.store_dir();
    if let Some(holder) = Store::lock_holder(&dir) {
        return Err(CommandError::Locked {
            path: dir.display().to_string(),
            holder,
            what: "stop it first (an import goes into a stopped or new home)",
        });
    }
    let plan = backup::plan(file)?;
    if plan.secrets > 0 && !skip_secrets {
        refuse_other_key(&plan, &paths.datastore_key())?;
    }
    std::fs::create_dir_all(&paths.data_dir).map_err(io(format!("cannot create {}", paths.data_dir.display())))?;
    let store = Store::open(&dir)?;
    if let Some((tree, count)) = store.history_present()? {
        if !force {
            return Err(CommandError::Refused(format!(
                "the store at {} already holds {count} records of {}: an import goes into a new home or a stopped one \
                 whose store is empty; --force empties it first (everything in it is lost)",
                dir.display(),
                tree.name()
            )));
        }
        store.clear_all()?;
    }
    let summary: Summary = backup::import(&store, file, &plan, skip_secrets)?;
    let left_out =
        if skip_secrets && plan.secrets > 0 { format!(" ({} secrets left out)", plan.secrets) } else { String::new() };
    Ok(format!(
        "imported {} records from {} (st2d {}, {}) into {}{left_out}: {}\n",
        summary.records,
        file.display(),
        plan.header.st2d,
        plan.header.created,
        dir.display(),
        summary.describe()
    ))
}

/// Refuses an export whose secrets this home's key file cannot decrypt.
fn refuse_other_key(plan: &Plan, key_file: &Path) -> Result<(), CommandError> {
    let theirs = plan.header.datastore_key.as_deref().unwrap_or("none");
    let ours = crate::datastore::fingerprint_of(key_file)?;
    if ours.as_deref() == plan.header.datastore_key.as_deref() {
        return Ok(());
    }
    let here = match ours {
        None => format!("this home has no key file ({})", key_file.display()),
        Some(ours) => format!("this home's key file {} is another key (fingerprint {ours})", key_file.display()),
    };
    Err(CommandError::Refused(format!(
        "the export holds {} secrets encrypted with the key whose fingerprint is {theirs}, and {here}: copy the \
         source home's <data-dir>/keys/datastore.key to {} (mode 0600) and import again, or pass --skip-secrets \
         to import everything but the secrets",
        plan.secrets,
        key_file.display()
    )))
}
