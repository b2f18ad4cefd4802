//! The `st2d` binary: parses the command line and hands over to `app`, `check` or
//! `store_command` (`st2d store`).
//!
//! Owns: the process exit code. Must not: hold any logic beyond dispatch.

use std::process::ExitCode;

use clap::Parser;
use st2d::cli::{Cli, Command};
use st2d::config::{Config, Paths};
use tokio_util::sync::CancellationToken;

/// jemalloc, tuned in `st2d_alloc` (which says why).
#[global_allocator]
static ALLOCATOR: st2d_alloc::Allocator = st2d_alloc::Allocator;

fn main() -> ExitCode {
    // With transparent huge pages each touched 2 MiB of the allocator's arenas becomes
    // resident, which tripled idle memory. Off for this process (and, inherited, for its
    // children) before anything sizeable is allocated.
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    st2d::telemetry::init(cli.log_format, cli.log_level.as_deref());
    if let Some(Command::Check) = cli.command {
        let (report, failed) = st2d::check::check(&Paths::resolve(&cli.paths));
        print!("{report}");
        return if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS };
    }
    if let Some(Command::Store(command)) = &cli.command {
        use st2d::store_command::{self as command, CommandError};
        return match command::run(&Paths::resolve(&cli.paths), command) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("st2d: {error}");
                // README, "Backup and restore": 3 locked, 4 damaged, 1 anything else.
                match error {
                    CommandError::Locked { .. } => ExitCode::from(3),
                    CommandError::Damaged { .. } => ExitCode::from(4),
                    _ => ExitCode::FAILURE,
                }
            }
        };
    }
    if let Some(Command::PythonBase { print_requirements: true }) = cli.command {
        print!("{}", st2d::pyenv::base::REQUIREMENTS);
        return ExitCode::SUCCESS;
    }
    let config = Config::new(&cli.paths, &cli.serve_args());
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("st2d: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::PythonBase { .. }) = cli.command {
        let base = st2d::pyenv::BaseLibraries::new(config.paths.python_base_dir.clone());
        let progress = |line: &str| println!("{line}");
        return match runtime.block_on(base.prepare(&config.python, &progress, &CancellationToken::new())) {
            Ok(site) => {
                println!("StackStorm's base Python libraries are ready in {}", site.display());
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("st2d: {error}");
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(st2d::app::run(config, CancellationToken::new())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "st2d stopped on an error");
            eprintln!("st2d: {error:#}");
            ExitCode::FAILURE
        }
    }
}
