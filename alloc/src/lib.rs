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
//! (exporting the settings jemalloc reads at start, and [`Counting`], the wrapper the fuzz
//! harness installs to measure and cap what one input allocates). Must not: allocate, or hold
//! anything else.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::{CStr, c_char};
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// An allocator that counts the bytes live through it and refuses (returns null, which the
/// program's allocation-failure handler turns into an abort) any allocation that would take
/// the live total past a hard cap. The fuzz harness installs it around [`Allocator`] to tell
/// an input that allocates without bound from one that merely allocates: it reads
/// [`Counting::live`] and [`Counting::peak`] per input, and the hard cap keeps a runaway input
/// from taking the machine with it. The daemon does not use it.
pub struct Counting<A> {
    inner: A,
    live: AtomicUsize,
    peak: AtomicUsize,
    cap: AtomicUsize,
}

impl<A> Counting<A> {
    /// Wraps `inner`, without a cap until [`Counting::set_cap`].
    pub const fn new(inner: A) -> Self {
        Self { inner, live: AtomicUsize::new(0), peak: AtomicUsize::new(0), cap: AtomicUsize::new(usize::MAX) }
    }

    /// Bytes allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    /// The most bytes live at once since the last [`Counting::reset_peak`].
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak from what is live now.
    pub fn reset_peak(&self) {
        self.peak.store(self.live(), Ordering::Relaxed);
    }

    /// The most bytes that may be live at once; an allocation past it fails.
    pub fn set_cap(&self, bytes: usize) {
        self.cap.store(bytes, Ordering::Relaxed);
    }

    fn grow(&self, size: usize) -> bool {
        let live = self.live.fetch_add(size, Ordering::Relaxed).saturating_add(size);
        if live > self.cap.load(Ordering::Relaxed) {
            self.live.fetch_sub(size, Ordering::Relaxed);
            return false;
        }
        self.peak.fetch_max(live, Ordering::Relaxed);
        true
    }

    fn shrink(&self, size: usize) {
        self.live.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is passed on to `inner` unchanged; the counters only decide whether to
// call it, and a refused allocation returns null as the contract allows.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, passed on.
        let ptr = unsafe { self.inner.alloc(layout) };
        if ptr.is_null() {
            self.shrink(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.grow(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's layout, passed on.
        let ptr = unsafe { self.inner.alloc_zeroed(layout) };
        if ptr.is_null() {
            self.shrink(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `inner` with `layout` (every allocation goes through it).
        unsafe { self.inner.dealloc(ptr, layout) };
        self.shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.grow(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's pointer, layout and size, passed on.
        let new = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if new.is_null() {
            if new_size > old {
                self.shrink(new_size - old);
            }
        } else if new_size < old {
            self.shrink(old - new_size);
        }
        new
    }
}

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
