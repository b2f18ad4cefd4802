//! st2d's memory allocator: mimalloc, tuned for a daemon that idles between bursts.
//!
//! mimalloc rather than glibc's malloc: under load the daemon's threads (runtime workers, sled's
//! flushers) allocate concurrently, and glibc's arena locks and consolidation cost a fifth of the
//! CPU of the webhook benchmark. Out of the box, though, mimalloc hands what a burst freed (the
//! corpus load at start, a reload, a flood of webhooks) back to the OS only when the same thread
//! allocates again, which an idle daemon never does. [`collect_when_idle`], run by each runtime
//! worker as it parks, gives it back. Purging every free at once instead
//! (`MIMALLOC_PURGE_DELAY=0`) saves a little more memory but costs a fifth of the webhook
//! throughput; committing arenas on demand (`MIMALLOC_ARENA_EAGER_COMMIT=0`) saves nothing
//! measurable and adds a quarter to the start-up time.
//!
//! Owns: the global allocator and when it hands memory back; the workspace's only `unsafe` (one call into
//! mimalloc's C library). Must not: allocate, or hold anything else.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The allocator the binaries install with `#[global_allocator]`.
pub use mimalloc::MiMalloc as Allocator;

unsafe extern "C" {
    fn mi_collect(force: bool);
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

    #[test]
    fn collecting_twice_in_a_second_is_harmless() {
        let kept: Vec<Vec<u8>> = (0..1000).map(|i| vec![0u8; i]).collect();
        super::collect_when_idle();
        super::collect_when_idle();
        assert_eq!(kept.iter().map(Vec::len).sum::<usize>(), 499_500);
    }
}
