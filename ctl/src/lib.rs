//! st2ctl: the gRPC client of st2d, installed as `st2ctl` and as `st2`.
//!
//! Owns: the entry point shared by both binaries. Must not: talk to anything but the daemon's
//! control plane.

mod cli;
mod commands;
mod connect;
mod json;
mod report;
mod table;

use std::process::ExitCode;

use clap::Parser;

/// Runs the CLI as `program` (`st2ctl` or `st2`) and returns the exit code.
pub fn main_with_name(program: &str) -> ExitCode {
    let args =
        cli::Cli::parse_from(std::iter::once(program.to_string()).chain(std::env::args().skip(1)));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("{program}: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error:#}");
            ExitCode::FAILURE
        }
    }
}
