//! st2d's memory allocator: jemalloc, with a background thread that hands freed memory back
//! while the daemon idles.
//!
//! Why not glibc's malloc: under load the daemon's threads (runtime workers, sled's flushers)
//! allocate concurrently, and glibc's arena locks and consolidation cost a fifth of the CPU of
//! the webhook benchmark. Why not mimalloc: a page belongs to the thread that allocated it and
//! goes back to the OS only when that thread allocates or collects again, and many of the
//! daemon's threads (sled's flushers, the blocking pool that builds a registry on reload) go
//! quiet right after a burst; their pages stayed resident, 10-12 MB of an idle daemon's 48 MB.
//! jemalloc's arenas are shared, and its background thread purges what no thread uses any more
//! on the decay schedule of [`SETTINGS`], whichever thread freed it.
//!
//! Owns: the global allocator and when it hands memory back; the workspace's only `unsafe`
//! (exporting the settings jemalloc reads at start). Must not: allocate, or hold anything else.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char};

/// The allocator the binaries install with `#[global_allocator]`.
pub use tikv_jemallocator::Jemalloc as Allocator;

/// jemalloc's settings, read once as it initialises:
/// - `background_thread:true`: one thread purges freed pages on the decay schedule, so an idle
///   daemon gives memory back without any thread of its own allocating again;
/// - `dirty_decay_ms:1000`, `muzzy_decay_ms:0`: freed pages go back to the OS about a second
///   after they were freed (jemalloc's defaults keep them ten seconds, and then only mark them
///   lazily freeable, still counted as resident), while under load they are reused long before.
///
/// Measured with the foundation benchmark: idle memory 35 MB (48 MB with mimalloc, 42 MB with
/// jemalloc's default decay), cold start unchanged.
pub const SETTINGS: &CStr = c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";

/// A pointer to [`SETTINGS`], as jemalloc's C code reads it (`const char *`).
#[repr(transparent)]
pub struct Settings(*const c_char);

// SAFETY: the pointer is to a `'static` C string that nothing ever writes.
unsafe impl Sync for Settings {}

/// jemalloc's `malloc_conf` (prefixed `_rjem_` by tikv-jemalloc-sys), read at initialisation.
// SAFETY: the one definition of this symbol in the program, of the type jemalloc declares it.
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: Settings = Settings(SETTINGS.as_ptr());

#[cfg(test)]
mod tests {
    #[global_allocator]
    static ALLOCATOR: super::Allocator = super::Allocator;

    #[test]
    fn jemalloc_reads_the_settings() {
        let kept: Vec<Vec<u8>> = (0..1000).map(|i| vec![0u8; i]).collect();
        assert_eq!(kept.iter().map(Vec::len).sum::<usize>(), 499_500);
        // jemalloc starts a background thread only when it read `background_thread:true`.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let names = std::fs::read_dir("/proc/self/task")
                .expect("/proc/self/task")
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .collect::<Vec<_>>();
            if names.iter().any(|name| name.starts_with("jemalloc_bg_thd")) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no jemalloc background thread among {names:?}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
