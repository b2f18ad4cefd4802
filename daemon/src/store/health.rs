//! Opening a store directory and telling why it cannot be: in use by another process (sled
//! holds an exclusive `flock` on its `db` file; `/proc/locks` names the holder's pid), damaged
//! (sled refuses or panics on what it reads, or reads none of the records of a store that had
//! some: sled 0.34 takes a data file it cannot make sense of for an empty log and opens an
//! empty store), or unreadable for another reason (permissions). `store check`'s verdict.
//!
//! Owns: sled's configuration, the classification of its open errors, and the store's marker
//! (a `meta` record, and a file beside sled's that says the record was written). Must not:
//! repair a store (a damaged one is reported, never opened for use).

// The one module that uses sled (clippy.toml).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{DumpTree, Store, StoreError};

/// The file sled locks and keeps its log in.
const DATA_FILE: &str = "db";
/// Beside sled's files: written once the marker record is on disk.
const MARKER_FILE: &str = "st2d-store";
/// The marker record in `meta`: a store st2d has written holds it.
pub(super) const MARKER_KEY: &str = "st2d_store";

/// Who holds a store's lock, as far as `/proc/locks` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: Option<u32>,
    /// The holder's command name (`/proc/<pid>/comm`).
    pub name: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.name, self.pid) {
            (Some(name), Some(pid)) => write!(f, "{name} (pid {pid})"),
            (None, Some(pid)) => write!(f, "pid {pid}"),
            _ => write!(f, "another process"),
        }
    }
}

/// What `store check` found in a store directory.
#[derive(Debug)]
pub enum Health {
    /// No store there.
    Absent,
    /// It opens; records per tree.
    Healthy(Vec<(DumpTree, usize)>),
    /// Another process has it open.
    Locked(LockHolder),
    /// sled cannot read it: its reason.
    Damaged(String),
    /// It cannot be opened for another reason (permissions, I/O).
    Unreadable(String),
}

impl Store {
    /// Whether a store exists in `path` (sled's data file is there).
    pub fn exists(path: &Path) -> bool {
        path.join(DATA_FILE).exists()
    }

    /// Checks the store in `path` without changing it (an absent store is not created).
    pub fn check(path: &Path) -> Health {
        if !Self::exists(path) {
            return Health::Absent;
        }
        match Store::open(path) {
            Ok(store) => Health::Healthy(store.counts()),
            Err(StoreError::Locked { holder, .. }) => Health::Locked(holder),
            Err(StoreError::Damaged { reason, .. }) => Health::Damaged(reason),
            Err(error) => Health::Unreadable(error.to_string()),
        }
    }

    /// Who holds the store in `path` locked now, if anyone.
    pub fn lock_holder(path: &Path) -> Option<LockHolder> {
        lock_holder(&path.join(DATA_FILE))
    }
}

/// Opens sled in `path`, telling a locked store from a damaged one.
pub(super) fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let shown = || path.display().to_string();
    // sled 0.34 panics on some damage rather than returning an error.
    let opened = std::panic::catch_unwind(|| {
        sled::Config::new().path(path).mode(sled::Mode::LowSpace).cache_capacity(8 * 1024 * 1024).open()
    });
    let error = match opened {
        Ok(Ok(db)) => return Ok(db),
        Ok(Err(error)) => error,
        Err(panic) => {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "sled failed while reading it".to_string());
            return Err(StoreError::Damaged { path: shown(), reason });
        }
    };
    if let Some(holder) = lock_holder(&path.join(DATA_FILE)) {
        return Err(StoreError::Locked { path: shown(), holder });
    }
    match error {
        sled::Error::Corruption { .. } | sled::Error::ReportableBug(_) | sled::Error::Unsupported(_) => {
            Err(StoreError::Damaged { path: shown(), reason: error.to_string() })
        }
        sled::Error::Io(ref io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            Err(StoreError::Damaged { path: shown(), reason: error.to_string() })
        }
        source => Err(StoreError::Open { path: shown(), source }),
    }
}

/// Whether sled read the store's records: a store whose marker file says its marker record was
/// written, but in which sled finds no such record, lost everything to a damaged data file.
/// A store without the marker gets it (a new store, or one written by an older st2d).
pub(super) fn confirm_records(path: &Path, db: &sled::Db, meta: &sled::Tree) -> Result<(), StoreError> {
    let file = path.join(MARKER_FILE);
    let marked = meta.contains_key(MARKER_KEY)?;
    if !marked && file.exists() {
        return Err(StoreError::Damaged {
            path: path.display().to_string(),
            reason: format!(
                "sled read none of its records from {} ({} bytes): the data file is damaged or was replaced",
                path.join(DATA_FILE).display(),
                std::fs::metadata(path.join(DATA_FILE)).map(|m| m.len()).unwrap_or(0)
            ),
        });
    }
    if !marked {
        mark(meta)?;
        db.flush()?;
    }
    if !file.exists() {
        let written = std::fs::File::create(&file).and_then(|mut out| {
            std::io::Write::write_all(
                &mut out,
                b"st2d keeps a marker record in this store; see README, Backup and restore\n",
            )?;
            out.sync_all()
        });
        written.map_err(|source| StoreError::Marker { path: file.display().to_string(), source })?;
    }
    Ok(())
}

/// Writes the marker record (not flushed).
pub(super) fn mark(meta: &sled::Tree) -> Result<(), StoreError> {
    meta.insert(MARKER_KEY, chrono::Utc::now().to_rfc3339().as_bytes())?;
    Ok(())
}

/// The holder of the exclusive `flock` on `file`, when someone holds it: probed with a
/// non-blocking shared lock of our own (released at once), then looked up in `/proc/locks`.
fn lock_holder(file: &Path) -> Option<LockHolder> {
    use rustix::fs::{FlockOperation, flock};
    let probe = std::fs::File::open(file).ok()?;
    match flock(&probe, FlockOperation::NonBlockingLockShared) {
        Ok(()) => {
            let _ = flock(&probe, FlockOperation::Unlock);
            None
        }
        Err(_) => {
            let pid = std::fs::metadata(file).ok().and_then(|meta| flock_pid(&meta));
            let name = pid
                .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
                .map(|comm| comm.trim().to_string());
            Some(LockHolder { pid, name })
        }
    }
}

/// The pid `/proc/locks` gives for the `FLOCK` on the file `meta` describes.
fn flock_pid(meta: &std::fs::Metadata) -> Option<u32> {
    let dev = meta.dev();
    let wanted = format!("{:02x}:{:02x}:{}", rustix::fs::major(dev), rustix::fs::minor(dev), meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`
        let at = fields.iter().position(|field| *field == "FLOCK")?;
        (fields.get(at + 4) == Some(&wanted.as_str()) && fields.get(at + 2) == Some(&"WRITE"))
            .then(|| fields.get(at + 3).and_then(|pid| pid.parse().ok()))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_held_open_is_locked_by_this_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(matches!(Store::check(dir.path()), Health::Absent));
        let store = Store::open(dir.path()).expect("open");
        match Store::check(dir.path()) {
            Health::Locked(holder) => assert_eq!(holder.pid, Some(std::process::id()), "{holder}"),
            other => panic!("not locked: {other:?}"),
        }
        drop(store);
    }

    #[test]
    fn a_store_whose_data_file_is_overwritten_is_damaged() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("open");
            for id in 0..200u64 {
                store.put_execution(id, &[b'x'; 512], false).expect("write");
            }
            store.flush().expect("flush");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Store::lock_holder(dir.path()).is_some() {
            assert!(std::time::Instant::now() < deadline, "sled let go of the lock");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let data = dir.path().join(DATA_FILE);
        let length = std::fs::metadata(&data).expect("the data file").len() as usize;
        std::fs::write(&data, vec![0xA5u8; length]).expect("overwrite");
        match Store::check(dir.path()) {
            Health::Damaged(reason) => assert!(!reason.is_empty()),
            other => panic!("not damaged: {other:?}"),
        }
    }
}
