//! What the benchmarks share: a daemon serving the HTTP ingress on loopback, and the figures
//! of a running process read from `/proc` and of a directory from the filesystem.
//!
//! Owns: starting and stopping a benchmark's daemon, reading `/proc/PID`. Must not: time or
//! judge anything (each benchmark measures and prints its own figures).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Stdio};

use crate::Home;

/// `st2d --home HOME serve ARGS... --http-listen 127.0.0.1:PORT`, logging warnings only (on the
/// benchmark's stderr); killed when dropped.
pub struct Served {
    child: Child,
    pub port: u16,
}

impl Served {
    /// Starts the daemon and waits until its HTTP listener accepts connections.
    pub fn start(home: &Home, args: &[&str]) -> Self {
        let port = crate::free_port();
        let listen = format!("127.0.0.1:{port}");
        let child = crate::st2d_command()
            .arg("--home")
            .arg(home.path())
            .arg("serve")
            .args(args)
            .args(["--http-listen", &listen])
            .env("ST2D_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("st2d starts");
        let mut served = Self { child, port };
        crate::eventually("st2d to listen", || {
            served.assert_running();
            std::net::TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
        });
        served
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails the benchmark when st2d has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("waiting on st2d works") {
            panic!("st2d exited: {status}");
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A numeric field (`Name: value [kB]`) of a `/proc` file; the file must have it.
fn proc_field(file: &str, field: &str) -> u64 {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    text.lines()
        .find_map(|line| line.strip_prefix(field).and_then(|rest| rest.strip_prefix(':')))
        .and_then(|value| value.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{file} has no {field}"))
}

/// A numeric field of `/proc/PID/status` (`VmRSS` in kB, `Threads`); the process must exist.
pub fn proc_status(pid: u32, field: &str) -> u64 {
    proc_field(&format!("/proc/{pid}/status"), field)
}

/// The machine's memory, in kB.
pub fn memory_total_kb() -> u64 {
    proc_field("/proc/meminfo", "MemTotal")
}

/// The resident memory of process `pid`, in kB.
pub fn rss_kb(pid: u32) -> u64 {
    proc_status(pid, "VmRSS")
}

/// How many file descriptors process `pid` has open.
pub fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("the process's fd directory").count()
}

/// The bytes the files under `dir` take on disk (allocated blocks, so sparse files count what
/// they use); 0 for a directory that is not there.
pub fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => disk_bytes(&entry.path()),
            Ok(meta) => meta.blocks() * 512,
            // Removed since it was listed.
            Err(_) => 0,
        })
        .sum()
}
