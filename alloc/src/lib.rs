//! st2d's memory allocator: mimalloc, tuned for a daemon that idles between bursts.
//!
//! mimalloc rather than glibc's malloc: under load the daemon's threads (runtime workers, sled's
//! flushers) allocate concurrently, and glibc's arena locks and consolidation cost a fifth of the
//! CPU of the webhook benchmark. Out of the box, though, mimalloc hands what a burst freed (the
//! corpus load at start, a reload, a flood of webhooks) back to the OS only when the same thread
//! allocates again, which an idle daemon never does. [`collect_when_idle`], run by each runtime
//! worker as it parks, gives it back; [`tune`] commits arena memory on demand. Purging every
//! free at once instead (`MIMALLOC_PURGE_DELAY=0`) saves a little more memory but costs a fifth of
//! the webhook throughput.
//!
//! Owns: the global allocator and its options; the workspace's only `unsafe` (three calls into
//! mimalloc's C library). Must not: allocate, or hold anything else.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{c_int, c_long};
use std::time::{Duration, Instant};

/// The allocator the binaries install with `#[global_allocator]`.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc 3's option number of `arena_eager_commit` (`mi_option_e` in its `mimalloc.h`).
const ARENA_EAGER_COMMIT: c_int = 4;

unsafe extern "C" {
    fn mi_option_set_default(option: c_int, value: c_long);
    fn mi_collect(force: bool);
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// Commit arena memory on demand. A default only: `MIMALLOC_ARENA_EAGER_COMMIT` in the
/// environment still wins. Call first thing in `main`, before the runtime starts its threads.
pub fn tune() {
    // SAFETY: a plain store into mimalloc's option table, valid at any time, from any thread,
    // with an option number in range.
    unsafe { mi_option_set_default(ARENA_EAGER_COMMIT, 0) }
}

/// How often a thread going idle hands back what it freed.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// For a runtime worker going idle (`on_thread_park`): at most once a second, return this
/// thread's emptied pages and the arena ranges freed over a second ago to the OS. Under load
/// that is a negligible cost (freed memory is still reused within the second, as mimalloc
/// intends); when the daemon falls idle it is what gives the burst's memory back.
pub fn collect_when_idle() {
    thread_local! {
        static LAST: Cell<Option<Instant>> = const { Cell::new(None) };
    }
    let now = Instant::now();
    if LAST.get().is_some_and(|last| now.duration_since(last) < COLLECT_EVERY) {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: collects the calling thread's own heap; valid on any thread at any time.
    unsafe { mi_collect(false) }
}

#[cfg(test)]
mod tests {
    #[global_allocator]
    static ALLOCATOR: super::Allocator = super::Allocator;

    /// The option in force.
    fn option(option: std::ffi::c_int) -> std::ffi::c_long {
        // SAFETY: a read of mimalloc's option table.
        unsafe { super::mi_option_get(option) }
    }

    #[test]
    fn tune_commits_on_demand_unless_the_environment_says_otherwise() {
        super::tune();
        let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        assert_eq!(option(super::ARENA_EAGER_COMMIT), from_env("MIMALLOC_ARENA_EAGER_COMMIT").unwrap_or(0));
        super::collect_when_idle();
        super::collect_when_idle();
    }
}
