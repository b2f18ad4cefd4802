//! st2d's memory allocator: mimalloc, tuned for a daemon that idles between bursts.
//!
//! mimalloc rather than glibc's malloc: under load the daemon's threads (runtime workers, sled's
//! flushers) allocate concurrently, and glibc's arena locks and consolidation cost a fifth of the
//! CPU of the webhook benchmark. Out of the box, though, mimalloc keeps what a burst freed (the
//! corpus load at start, a reload) resident until the same thread allocates again, which an idle
//! daemon never does: a quarter of its idle memory. [`tune`] makes it hand freed pages back at
//! once and commit arena memory on demand.
//!
//! Owns: the global allocator and its options; the workspace's only `unsafe` (the two option
//! calls into mimalloc's C library). Must not: allocate, or hold anything else.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_long};

/// The allocator the binaries install with `#[global_allocator]`.
pub use mimalloc::MiMalloc as Allocator;

/// mimalloc 3's option numbers (`mi_option_e` in its `mimalloc.h`).
const ARENA_EAGER_COMMIT: c_int = 4;
const PURGE_DELAY: c_int = 15;

unsafe extern "C" {
    fn mi_option_set_default(option: c_int, value: c_long);
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
}

/// Purge freed memory when it is freed (delay 0 ms) and commit arenas on demand. Defaults only:
/// a `MIMALLOC_PURGE_DELAY` or `MIMALLOC_ARENA_EAGER_COMMIT` in the environment still wins.
/// Call first thing in `main`, before the runtime starts its threads.
pub fn tune() {
    // SAFETY: both are plain stores into mimalloc's option table, valid at any time, from any
    // thread, with option numbers in range.
    unsafe {
        mi_option_set_default(PURGE_DELAY, 0);
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
    }
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
    fn tune_sets_an_immediate_purge_unless_the_environment_says_otherwise() {
        super::tune();
        let from_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
        assert_eq!(option(super::PURGE_DELAY), from_env("MIMALLOC_PURGE_DELAY").unwrap_or(0));
        assert_eq!(option(super::ARENA_EAGER_COMMIT), from_env("MIMALLOC_ARENA_EAGER_COMMIT").unwrap_or(0));
    }
}
