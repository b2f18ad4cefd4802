//! The command line of st2ctl and st2: global flags and the verbs.
//!
//! Owns: clap definitions. Must not: connect or print anything.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(version, about = "Controls st2d, the StackStorm pack daemon")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args, Default)]
pub struct Global {
    /// Print JSON instead of tables.
    #[arg(short = 'j', long = "json", global = true)]
    pub json: bool,

    /// The daemon's control socket.
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// The daemon's home directory (its socket is HOME/st2d.sock).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon's version, uptime, loaded content and last reload.
    Status,
    /// Rescan the packs directories now, optionally registering more content kinds.
    Reload(ReloadArgs),
    /// Packs.
    Pack(Noun),
    /// Actions.
    Action(Noun),
    /// Trigger types.
    Trigger(Noun),
    /// Rules.
    Rule(Noun),
    /// Sensors: definitions and their processes.
    Sensor(SensorNoun),
    /// Restart a component: `sensor_container` (or `st2sensorcontainer`) restarts every sensor.
    RestartComponent {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Trigger instances journaled by st2d.
    TriggerInstance(TriggerInstanceNoun),
    /// Action aliases.
    Alias(ListOnly),
    /// Policies.
    Policy(ListOnly),
}

#[derive(Debug, Args)]
pub struct Noun {
    #[command(subcommand)]
    pub verb: Verb,
}

#[derive(Debug, Subcommand)]
pub enum Verb {
    /// List them, optionally of one pack.
    List(ListArgs),
    /// Show one by ref.
    Get {
        /// `pack.name` (a pack's ref for packs).
        #[arg(value_name = "REF")]
        ref_: String,
    },
}

#[derive(Debug, Args)]
pub struct SensorNoun {
    #[command(subcommand)]
    pub verb: SensorVerb,
}

#[derive(Debug, Subcommand)]
pub enum SensorVerb {
    /// List them with their state, optionally of one pack.
    List(ListArgs),
    /// Show one by ref, with the tail of its output.
    Get {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Restart its process now (also out of backoff).
    Restart {
        #[arg(value_name = "REF")]
        ref_: String,
    },
}

#[derive(Debug, Args)]
pub struct TriggerInstanceNoun {
    #[command(subcommand)]
    pub verb: TriggerInstanceVerb,
}

#[derive(Debug, Subcommand)]
pub enum TriggerInstanceVerb {
    /// The newest instances first.
    List {
        /// Only instances of this trigger.
        #[arg(long, visible_alias = "trigger_type", value_name = "REF")]
        trigger: Option<String>,
        /// How many (default 50).
        #[arg(short = 'n', long = "last", default_value_t = 50)]
        last: u32,
    },
    /// Show one by id.
    Get {
        #[arg(value_name = "ID")]
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ListOnly {
    #[command(subcommand)]
    pub verb: ListVerb,
}

#[derive(Debug, Subcommand)]
pub enum ListVerb {
    /// List them, optionally of one pack.
    List(ListArgs),
}

#[derive(Debug, Args, Default)]
pub struct ListArgs {
    /// Only this pack's (`--pack P`, `--pack=P` or `-p P`).
    #[arg(short = 'p', long = "pack", value_name = "PACK")]
    pub pack: Option<String>,
}

#[derive(Debug, Args, Default)]
pub struct ReloadArgs {
    /// Register every content kind.
    #[arg(long)]
    pub register_all: bool,
    #[arg(long)]
    pub register_actions: bool,
    #[arg(long)]
    pub register_triggers: bool,
    #[arg(long)]
    pub register_sensors: bool,
    #[arg(long)]
    pub register_configs: bool,
    /// Register rules: a pack's rules fire only once registered.
    #[arg(long)]
    pub register_rules: bool,
    #[arg(long)]
    pub register_aliases: bool,
    #[arg(long)]
    pub register_policies: bool,
    /// Accepted for StackStorm compatibility; st2d never stops at the first failure.
    #[arg(long, hide = true)]
    pub register_fail_on_failure: bool,
    /// Accepted for StackStorm compatibility; st2d always continues past failures.
    #[arg(long, hide = true)]
    pub register_no_fail_on_failure: bool,
    /// Accepted for StackStorm compatibility.
    #[arg(long, hide = true)]
    pub verbose: bool,
    /// Register only for these packs (repeatable); all packs by default.
    #[arg(short = 'p', long = "pack", value_name = "PACK")]
    pub packs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn pack_filters_take_every_spelling() {
        for args in [
            ["st2", "action", "list", "--pack", "demo"].as_slice(),
            &["st2", "action", "list", "--pack=demo"],
            &["st2", "action", "list", "-p", "demo"],
            &["st2", "-j", "action", "list", "-p=demo"],
        ] {
            let cli = Cli::try_parse_from(args).expect("valid");
            let Command::Action(Noun {
                verb: Verb::List(list),
            }) = cli.command
            else {
                panic!("{args:?}")
            };
            assert_eq!(list.pack.as_deref(), Some("demo"), "{args:?}");
        }
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["st2ctl", "rule", "get", "a.b", "-j", "--home", "/h"])
            .expect("valid");
        assert!(cli.global.json);
        assert_eq!(cli.global.home, Some(PathBuf::from("/h")));
    }
}
