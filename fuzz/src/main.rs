//! The `st2d-fuzz` command: `st2d-fuzz TARGET|all --seconds S [--seed N] [--out DIR]`, or
//! `--replay FILE` to run one saved input again. Installs the counting allocator that caps
//! what one input may allocate.
//!
//! Owns: the command line, the allocator and the printed report. Must not: hold harness logic
//! (`engine` does).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use st2d_alloc::{Allocator, Counting};
use st2d_fuzz::engine::{self, Meter, Options};
use st2d_fuzz::targets::{TARGETS, find};

#[global_allocator]
static ALLOCATOR: Counting<Allocator> = Counting::new(Allocator);

/// The counting allocator as the engine's meter: the peak above what was live at the start.
struct AllocMeter {
    base: std::sync::atomic::AtomicUsize,
    /// Allocations past `base + hard` fail (and abort), so a runaway input cannot take the
    /// machine; the in-flight input is reported on the next run.
    hard: usize,
}

impl Meter for AllocMeter {
    fn start(&self) {
        let live = ALLOCATOR.live();
        self.base.store(live, std::sync::atomic::Ordering::Relaxed);
        ALLOCATOR.reset_peak();
        ALLOCATOR.set_cap(live.saturating_add(self.hard));
    }

    fn peak(&self) -> usize {
        ALLOCATOR.peak().saturating_sub(self.base.load(std::sync::atomic::Ordering::Relaxed))
    }
}

#[derive(Parser)]
#[command(name = "st2d-fuzz", about = "Fuzz st2d's parsers and evaluators")]
struct Args {
    /// A target (loader, yaml, jinja, yaql, criteria, orquesta, chain, webhook, grpc), or all.
    target: String,
    /// How long to run each target.
    #[arg(long, default_value_t = 60.0)]
    seconds: f64,
    /// Stop a target after this many inputs (with --seconds, whichever comes first).
    #[arg(long)]
    inputs: Option<u64>,
    /// The seed of the run; the same seed runs the same inputs.
    #[arg(long)]
    seed: Option<u64>,
    /// Where failures are saved (one directory per target).
    #[arg(long)]
    out: Option<PathBuf>,
    /// An input using more CPU time than this is a hang, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    hang_ms: u64,
    /// An input whose allocations peak above this is a failure, in MiB.
    #[arg(long, default_value_t = 512)]
    alloc_cap_mib: usize,
    /// The stack of the thread inputs run on, in MiB (the daemon's threads have 2).
    #[arg(long, default_value_t = 2)]
    stack_mib: usize,
    /// Run one saved input of TARGET and print what happened.
    #[arg(long)]
    replay: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let targets: Vec<_> = if args.target == "all" {
        TARGETS.to_vec()
    } else if let Some(target) = find(&args.target) {
        vec![target]
    } else {
        let names: Vec<_> = TARGETS.iter().map(|t| t.name).collect();
        eprintln!("unknown target \"{}\"; the targets are {} (or all)", args.target, names.join(", "));
        return ExitCode::from(2);
    };
    if let Some(path) = &args.replay {
        let input = match std::fs::read(path) {
            Ok(input) => input,
            Err(error) => {
                eprintln!("cannot read {}: {error}", path.display());
                return ExitCode::from(2);
            }
        };
        for target in targets {
            println!("{}: {}", target.name, engine::replay(target, &input));
        }
        return ExitCode::SUCCESS;
    }
    let seed = args.seed.unwrap_or_else(st2d_core::random::next_u64);
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("fuzz-failures"));
    let cap = args.alloc_cap_mib << 20;
    let meter = AllocMeter { base: std::sync::atomic::AtomicUsize::new(0), hard: cap.saturating_mul(2) };
    println!("seed {seed}; failures under {}", out.display());
    let mut failed = false;
    for target in targets {
        let options = Options {
            seed,
            duration: Some(Duration::from_secs_f64(args.seconds)),
            inputs: args.inputs,
            out: out.clone(),
            hang: Duration::from_millis(args.hang_ms),
            abandon: Duration::from_secs(60),
            alloc_cap: cap,
            meter: &meter,
            stack: args.stack_mib << 20,
        };
        match engine::run(target, &options) {
            Ok(report) => {
                print!("{report}");
                failed |= !report.failures.is_empty();
            }
            Err(error) => {
                eprintln!("{}: {error}", target.name);
                failed = true;
            }
        }
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
