//! st2ctl: the gRPC client of st2d, installed as `st2ctl` and as `st2`.
//!
//! Owns: the entry point shared by both binaries (parse, run, report the error, exit status).
//! Must not: talk to anything but the daemon's control plane.

mod aliases;
mod cli;
mod commands;
mod connect;
mod executions;
mod inquiries;
mod json;
mod keys;
mod output;
mod packs;
mod params;
mod report;
mod rule_tester;
mod table;
#[cfg(test)]
mod tls_check;
mod yamlish;

/// Ends the command with this exit status, printing nothing more (a `failed` execution exits 1,
/// as StackStorm's `st2 run` does; a rule that does not match exits 1 in `rule-tester`).
#[derive(Debug)]
pub(crate) struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

use std::process::ExitCode;

use clap::FromArgMatches;

/// Runs the CLI as `program` (`st2ctl` or `st2`, the name its help and errors show) on the
/// process's arguments. Exit status: 0 on success, 1 when the daemon is unreachable or a call
/// fails (one line `PROGRAM: message` on stderr) or an execution run by `run` ends `failed`, 2 for
/// a bad command line (clap's own, or `PROGRAM: message` for flags that do not fit together, such
/// as `--ca` without an https url).
pub async fn run(program: &'static str) -> ExitCode {
    let cli = match cli::command(program)
        .try_get_matches_from(std::env::args_os())
        .and_then(|matches| cli::Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version are "errors" too; clap prints them to stdout with status 0.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    match commands::run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<Exit>() {
            Some(Exit(code)) => ExitCode::from(*code),
            None if error.downcast_ref::<connect::Usage>().is_some() => {
                eprintln!("{program}: {error}");
                ExitCode::from(2)
            }
            None => {
                eprintln!("{program}: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
