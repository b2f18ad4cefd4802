//! The harness: runs a target's inputs (its seeds, then mutations of them) one by one under
//! `catch_unwind`, a watchdog for hangs and an allocation meter, and keeps each distinct
//! failure on disk.
//!
//! Owns: the run loop, what counts as a failure (a panic, by its location; an input over the
//! hang limit in CPU time, so a loaded machine makes no hang; an input whose allocations peak
//! over the cap; an input the process died on),
//! their deduplication and where they are saved. Must not: know any target's meaning, or stop
//! the process for a failure it can report (only an input that never returns ends the run).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use crate::mutate::{Grammar, MAX_INPUT, mutate};
use crate::rng::Rng;

/// What a target made of an input: accepted inputs may join the pool mutation starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
}

/// One parser or evaluator under test.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    pub grammar: Grammar,
    pub seeds: fn() -> Vec<Vec<u8>>,
    pub run: fn(&[u8]) -> Outcome,
}

/// Measures the memory an input allocates (the binary's counting allocator; nothing in tests).
pub trait Meter: Sync {
    /// Called before each input.
    fn start(&self);
    /// Bytes the input had live at most, above what was live at its start.
    fn peak(&self) -> usize;
}

/// A meter that measures nothing.
pub struct NoMeter;

impl Meter for NoMeter {
    fn start(&self) {}
    fn peak(&self) -> usize {
        0
    }
}

/// How a run goes.
pub struct Options<'m> {
    pub seed: u64,
    /// Stop after this long (or `inputs`, whichever comes first).
    pub duration: Option<Duration>,
    pub inputs: Option<u64>,
    /// Failures go to `<out>/<target>/`.
    pub out: PathBuf,
    /// An input using more CPU time is a hang.
    pub hang: Duration,
    /// An input still running after this long ends the process (its input is saved first).
    pub abandon: Duration,
    /// An input whose allocations peak above this is a failure.
    pub alloc_cap: usize,
    pub meter: &'m dyn Meter,
    /// The stack of the thread inputs run on (the daemon's threads have 2 MiB).
    pub stack: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Panic,
    Hang,
    Alloc,
    /// The process died on the input in an earlier run (a stack overflow, or an allocation past
    /// the hard cap): found as the in-flight input left behind.
    Died,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Panic => "panic",
            Kind::Hang => "hang",
            Kind::Alloc => "alloc",
            Kind::Died => "died",
        }
    }
}

/// One distinct failure.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: Kind,
    /// What makes it distinct: the panic's location, or the kind.
    pub key: String,
    pub message: String,
    pub saved: PathBuf,
    /// How many inputs failed this way.
    pub count: u64,
}

/// The figures of one target's run.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} inputs in {:.1} s ({:.0}/s), {} distinct failures",
            self.target,
            self.inputs,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.failures.len()
        )?;
        for failure in &self.failures {
            writeln!(
                f,
                "  {} {} ({} inputs): {}\n    saved to {}",
                failure.kind.as_str(),
                failure.key,
                failure.count,
                failure.message.lines().next().unwrap_or_default(),
                failure.saved.display()
            )?;
        }
        Ok(())
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot write under {path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("cannot start the thread inputs run on: {0}")]
    Thread(std::io::Error),
    #[error("the thread inputs run on panicked outside an input")]
    Worker,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EngineError + '_ {
    move |error| EngineError::Io { path: path.to_path_buf(), error }
}

thread_local! {
    static IN_INPUT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The last panic of an input: its location and message.
static LAST_PANIC: Mutex<Option<(String, String)>> = Mutex::new(None);

/// Panics inside an input are recorded, not printed; any other panic prints as usual.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_INPUT.with(std::cell::Cell::get) {
                previous(info);
                return;
            }
            let location =
                info.location().map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())).unwrap_or_default();
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(a panic without a message)".to_string());
            if let Ok(mut last) = LAST_PANIC.lock() {
                *last = Some((location, message));
            }
        }));
    });
}

/// What the watchdog sees of the input in progress.
struct Watch {
    /// Nanoseconds since `epoch` when the current input started; 0 when idle.
    started: AtomicU64,
    /// The number of the current input.
    number: AtomicU64,
    /// The input number the watchdog flagged as a hang (u64::MAX: none).
    hung: AtomicU64,
    done: AtomicBool,
    epoch: Instant,
}

impl Watch {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX).max(1)
    }
}

fn fnv(text: &[u8]) -> u64 {
    text.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// Keeps distinct failures and saves the first input of each.
struct Failures {
    dir: PathBuf,
    found: BTreeMap<(Kind, String), Failure>,
}

impl Failures {
    fn record(&mut self, kind: Kind, key: String, message: String, input: &[u8]) -> Result<(), EngineError> {
        if let Some(failure) = self.found.get_mut(&(kind, key.clone())) {
            failure.count += 1;
            return Ok(());
        }
        let saved = self.dir.join(format!("{}-{:016x}", kind.as_str(), fnv(key.as_bytes())));
        std::fs::write(&saved, input).map_err(io(&saved))?;
        let note = saved.with_extension("txt");
        std::fs::write(&note, format!("{} {}\n{}\n", kind.as_str(), key, message)).map_err(io(&note))?;
        self.found.insert((kind, key.clone()), Failure { kind, key, message, saved, count: 1 });
        Ok(())
    }
}

/// Runs `target` as `options` say.
pub fn run(target: &'static Target, options: &Options<'_>) -> Result<Report, EngineError> {
    install_panic_hook();
    let dir = options.out.join(target.name);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let mut failures = Failures { dir: dir.clone(), found: BTreeMap::new() };
    let in_flight_path = dir.join("in-flight");
    if let Ok(left) = std::fs::read(&in_flight_path)
        && !left.is_empty()
    {
        failures.record(
            Kind::Died,
            "process".to_string(),
            "an earlier run died on this input (a stack overflow, or an allocation past the hard cap)".to_string(),
            &left,
        )?;
    }
    let in_flight = File::create(&in_flight_path).map_err(io(&in_flight_path))?;
    let watch = Arc::new(Watch {
        started: AtomicU64::new(0),
        number: AtomicU64::new(0),
        hung: AtomicU64::new(u64::MAX),
        done: AtomicBool::new(false),
        epoch: Instant::now(),
    });
    let watchdog = spawn_watchdog(target.name, watch.clone(), options, dir.clone(), in_flight_path.clone());
    let result = std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name(format!("fuzz-{}", target.name))
            .stack_size(options.stack)
            .spawn_scoped(scope, || work(target, options, &watch, &in_flight, &mut failures))
            .map_err(EngineError::Thread)?;
        worker.join().unwrap_or(Err(EngineError::Worker))
    });
    watch.done.store(true, Ordering::Relaxed);
    if let Ok(handle) = watchdog {
        let _ = handle.join();
    }
    let (inputs, elapsed) = result?;
    let _ = std::fs::remove_file(&in_flight_path);
    Ok(Report { target: target.name, inputs, elapsed, failures: failures.found.into_values().collect() })
}

fn spawn_watchdog(
    name: &'static str,
    watch: Arc<Watch>,
    options: &Options<'_>,
    dir: PathBuf,
    in_flight: PathBuf,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let hang = u64::try_from(options.hang.as_nanos()).unwrap_or(u64::MAX);
    let abandon = u64::try_from(options.abandon.as_nanos()).unwrap_or(u64::MAX);
    std::thread::Builder::new().name("fuzz-watchdog".to_string()).spawn(move || {
        while !watch.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            let started = watch.started.load(Ordering::Relaxed);
            if started == 0 {
                continue;
            }
            let running = watch.now().saturating_sub(started);
            let number = watch.number.load(Ordering::Relaxed);
            if running > hang && watch.hung.swap(number, Ordering::Relaxed) != number {
                // Saved now: the input may never return.
                let _ = std::fs::copy(&in_flight, dir.join("hang-in-progress"));
            }
            if running > abandon {
                let mut err = std::io::stderr();
                let _ = writeln!(
                    err,
                    "{name}: input {number} still runs after {} s; it is saved in {} (and {}); stopping",
                    running / 1_000_000_000,
                    dir.join("hang-in-progress").display(),
                    in_flight.display()
                );
                std::process::exit(3);
            }
        }
    })
}

fn work(
    target: &'static Target,
    options: &Options<'_>,
    watch: &Watch,
    in_flight: &File,
    failures: &mut Failures,
) -> Result<(u64, Duration), EngineError> {
    let mut rng = Rng::new(options.seed ^ fnv(target.name.as_bytes()));
    let mut seeds: Vec<Vec<u8>> = (target.seeds)();
    for seed in &mut seeds {
        seed.truncate(MAX_INPUT);
    }
    seeds.sort();
    seeds.dedup();
    let fixed = seeds.len();
    let mut pool = seeds;
    let start = Instant::now();
    let mut number = 0u64;
    loop {
        if options.inputs.is_some_and(|n| number >= n)
            || options.duration.is_some_and(|d| number.is_multiple_of(16) && start.elapsed() >= d)
        {
            break;
        }
        let input = match pool.get(usize::try_from(number).unwrap_or(usize::MAX)) {
            Some(seed) if number < fixed as u64 => seed.clone(),
            _ => match rng.pick(&pool) {
                Some(parent) => mutate(parent, &pool, &target.grammar, &mut rng),
                None => vec![rng.next_u64() as u8],
            },
        };
        let _ = in_flight.set_len(0);
        let _ = in_flight.write_all_at(&input, 0);
        options.meter.start();
        watch.number.store(number, Ordering::Relaxed);
        watch.started.store(watch.now(), Ordering::Relaxed);
        let began = Instant::now();
        let cpu_before = thread_cpu();
        IN_INPUT.with(|f| f.set(true));
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        IN_INPUT.with(|f| f.set(false));
        let took = began.elapsed();
        let cpu = thread_cpu().saturating_sub(cpu_before);
        watch.started.store(0, Ordering::Relaxed);
        let peak = options.meter.peak();
        match outcome {
            Ok(outcome) => {
                if outcome == Outcome::Accepted && number >= fixed as u64 && rng.one_in(4) {
                    if pool.len() < fixed + 4096 {
                        pool.push(input.clone());
                    } else {
                        let at = fixed + rng.below(pool.len() - fixed);
                        pool[at] = input.clone();
                    }
                }
            }
            Err(_) => {
                let (location, message) = LAST_PANIC
                    .lock()
                    .ok()
                    .and_then(|mut last| last.take())
                    .unwrap_or_else(|| ("unknown".to_string(), String::new()));
                failures.record(Kind::Panic, format!("at {location}"), message, &input)?;
            }
        }
        // A hang is work, not the machine's load: the input's own CPU time is what counts (the
        // watchdog's wall clock only saves an input in progress and abandons a run that never
        // returns).
        if cpu > options.hang {
            failures.record(
                Kind::Hang,
                "over the time limit".to_string(),
                format!("took {cpu:?} of CPU ({took:?} wall)"),
                &input,
            )?;
        }
        if peak > options.alloc_cap {
            failures.record(
                Kind::Alloc,
                "over the allocation cap".to_string(),
                format!("{} MiB live at once", peak >> 20),
                &input,
            )?;
        }
        number += 1;
    }
    Ok((number, start.elapsed()))
}

/// Runs one saved input, as a failure was found (`--replay`): the panic's location and
/// message, or the outcome.
pub fn replay(target: &'static Target, input: &[u8]) -> String {
    install_panic_hook();
    let began = Instant::now();
    let cpu_before = thread_cpu();
    IN_INPUT.with(|f| f.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    IN_INPUT.with(|f| f.set(false));
    let took = began.elapsed();
    let cpu = thread_cpu().saturating_sub(cpu_before);
    match outcome {
        Ok(outcome) => format!("{outcome:?} in {cpu:?} of CPU ({took:?} wall)"),
        Err(_) => {
            let (location, message) = LAST_PANIC.lock().ok().and_then(|mut l| l.take()).unwrap_or_default();
            format!("panic at {location}: {message} (after {cpu:?} of CPU, {took:?} wall)")
        }
    }
}

/// The CPU time this thread has used (`/proc/thread-self/schedstat`, in nanoseconds); zero
/// where it cannot be read, so that no input is then taken for a hang.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next().and_then(|ns| ns.parse::<u64>().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}
