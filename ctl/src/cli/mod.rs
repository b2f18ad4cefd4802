//! The command line of st2ctl and st2: global flags and the verbs.
//!
//! Owns: clap definitions. Must not: connect or print anything, or read the environment for the
//! connection flags (`connect` does, so that a flag wins over a variable instead of clashing).

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

mod runtime;

pub use runtime::{
    ExecutionNoun, ExecutionVerb, InquiryNoun, InquiryVerb, KeyNoun, KeyVerb, ReRunArgs, RuleEnforcementNoun,
    RuleEnforcementVerb, RunArgs,
};

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

    /// Connect over TCP to this URL (`https://host:port`, or `http://` where a token goes in
    /// clear only to loopback) instead of the Unix socket [env: ST2D_URL; `--socket` and
    /// `--home` win over it].
    #[arg(long, global = true, value_name = "URL", conflicts_with_all = ["socket", "home"])]
    pub url: Option<String>,

    /// Send `authorization: Bearer TOKEN` with every call [env: ST2D_TOKEN].
    #[arg(long, global = true, value_name = "TOKEN", conflicts_with = "token_file")]
    pub token: Option<String>,

    /// Read the token from FILE, its first line that is not blank or a `#` comment [env: ST2D_TOKEN_FILE; either flag
    /// wins over both variables, ST2D_TOKEN over ST2D_TOKEN_FILE].
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,

    /// Trust only this PEM CA for the server's certificate, not the system's roots [env:
    /// ST2D_CA; https urls only].
    #[arg(long, global = true, value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// Present this PEM client certificate (with `--key`) to a server that requires one [env:
    /// ST2D_CERT; https urls only].
    #[arg(long, global = true, value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// The PEM private key of `--cert` [env: ST2D_KEY; https urls only].
    #[arg(long, global = true, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// The command line as `program` (`st2ctl` or `st2`) shows it in its help, usage and version.
pub fn command(program: &'static str) -> clap::Command {
    Cli::command().name(program).bin_name(program)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon's version, uptime, loaded content and last reload.
    Status,
    /// Rescan the packs directories now, optionally registering more content kinds.
    Reload(ReloadArgs),
    /// Packs: list, get, and the pack management verbs (install, remove, download, register,
    /// config).
    Pack(PackNoun),
    /// Actions.
    Action(ActionNoun),
    /// Run an action: `run core.local cmd="echo hi"`; waits for it and prints the execution.
    Run(RunArgs),
    /// Executions of actions.
    Execution(ExecutionNoun),
    /// Inquiries: workflow tasks (core.ask) waiting for a response.
    Inquiry(InquiryNoun),
    /// Trigger types, and firing a trigger.
    Trigger(TriggerNoun),
    /// Rules.
    Rule(RuleNoun),
    /// What rules did with trigger instances.
    RuleEnforcement(RuleEnforcementNoun),
    /// The key-value datastore.
    Key(KeyNoun),
    /// Test a rule file against a trigger instance file, offline (no daemon): exits 0 when it
    /// matches, 1 when it does not.
    RuleTester {
        /// The rule's YAML file.
        #[arg(long, value_name = "FILE")]
        rule: PathBuf,
        /// The trigger instance, JSON or YAML with `trigger` and `payload`.
        #[arg(long = "trigger-instance", visible_alias = "trigger_instance", value_name = "FILE")]
        trigger_instance: PathBuf,
    },
    /// Sensors: definitions and their processes.
    Sensor(SensorNoun),
    /// Restart a component: `sensor_container` (or `st2sensorcontainer`) restarts every sensor.
    RestartComponent {
        #[arg(value_name = "NAME")]
        name: String,
    },
    /// Trigger instances journaled by st2d.
    TriggerInstance(TriggerInstanceNoun),
    /// Action aliases: list them, match a command, execute a command (also `action-alias`).
    #[command(visible_alias = "action-alias")]
    Alias(AliasNoun),
    /// Policies.
    Policy(ListOnly),
    /// Webhook urls that active rules bind (`POST /api/v1/webhooks/<url>` with `--http-listen`).
    Webhook(ListOnly),
}

#[derive(Debug, Args)]
pub struct PackNoun {
    #[command(subcommand)]
    pub verb: PackVerb,
}

#[derive(Debug, Subcommand)]
pub enum PackVerb {
    /// List them.
    List(ListArgs),
    /// Show one by ref.
    Get {
        #[arg(value_name = "PACK")]
        ref_: String,
    },
    /// Install or upgrade packs (`packs.install`): pack names (from the daemon's index), git
    /// URLs, owner/repo or absolute paths, each optionally `=version`.
    Install(PackInstallArgs),
    /// Uninstall packs (`packs.uninstall`): unload them, delete their files and virtualenvs;
    /// their configs are kept.
    #[command(visible_alias = "uninstall")]
    Remove {
        #[arg(value_name = "PACK", required = true)]
        packs: Vec<String>,
    },
    /// Download packs into the packs directory without virtualenvs (`packs.download`).
    Download(PackInstallArgs),
    /// Register the content of packs (`packs.load`); all packs when none is named.
    Register {
        #[arg(value_name = "PACK")]
        packs: Vec<String>,
        /// Content kinds (actions, triggers, sensors, rules, configs, aliases, policies, all);
        /// rules are left out unless named.
        #[arg(long, value_name = "KIND", value_delimiter = ',')]
        types: Vec<String>,
    },
    /// Set a pack's config (`<config-dir>/<pack>.yaml`): `key=value` words, or, with none, a
    /// prompt for each key of its schema.
    Config {
        #[arg(value_name = "PACK")]
        pack: String,
        /// `key=value` (converted by the schema's type; `@key=path` reads a file).
        #[arg(value_name = "KEY=VALUE")]
        values: Vec<String>,
        /// Replace the whole file instead of merging over its values.
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Debug, Args)]
pub struct PackInstallArgs {
    #[arg(value_name = "PACK", required = true)]
    pub packs: Vec<String>,
    /// Install even if the pack's stackstorm_version or python_versions do not fit.
    #[arg(long)]
    pub force: bool,
    /// Do not install the packs' dependencies.
    #[arg(long = "skip-dependencies", visible_alias = "skip_dependencies")]
    pub skip_dependencies: bool,
    /// Content kinds to register (install only; rules are left out unless named, or `all`).
    #[arg(long, value_name = "KINDS")]
    pub register: Option<String>,
    /// A repository holding the packs under `packs/` (the older form of install).
    #[arg(long = "repo-url", visible_alias = "repo_url", value_name = "URL")]
    pub repo_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ActionNoun {
    #[command(subcommand)]
    pub verb: ActionVerb,
}

#[derive(Debug, Subcommand)]
pub enum ActionVerb {
    /// List them, optionally of one pack.
    List(ListArgs),
    /// Show one by ref.
    Get {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Run one, as `run` does, without waiting unless asked.
    Execute(RunArgs),
}

#[derive(Debug, Args)]
pub struct TriggerNoun {
    #[command(subcommand)]
    pub verb: TriggerVerb,
}

#[derive(Debug, Subcommand)]
pub enum TriggerVerb {
    /// List them, optionally of one pack.
    List(ListArgs),
    /// Show one by ref.
    Get {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Journal an instance of a trigger with a JSON payload; rules match it as any other.
    Fire {
        #[arg(value_name = "REF")]
        ref_: String,
        /// The payload, a JSON object (default `{}`).
        #[arg(value_name = "JSON")]
        payload: Option<String>,
        #[arg(long = "trace-tag", visible_alias = "trace_tag", value_name = "TAG")]
        trace_tag: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct RuleNoun {
    #[command(subcommand)]
    pub verb: RuleVerb,
}

#[derive(Debug, Subcommand)]
pub enum RuleVerb {
    /// List them, optionally of one pack.
    List(ListArgs),
    /// Show one by ref.
    Get {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Enable it (kept across restarts and reloads).
    Enable {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Disable it: it stops firing (kept across restarts and reloads).
    Disable {
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
    /// Enable it (kept across restarts).
    Enable {
        #[arg(value_name = "REF")]
        ref_: String,
    },
    /// Disable it: its process stops (kept across restarts).
    Disable {
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

#[derive(Debug, Args)]
pub struct AliasNoun {
    #[command(subcommand)]
    pub verb: AliasVerb,
}

#[derive(Debug, Subcommand)]
pub enum AliasVerb {
    /// List them, optionally of one pack.
    List(ListArgs),
    /// The alias and format a command matches, and the parameters it gives.
    Match {
        #[arg(value_name = "COMMAND")]
        command: String,
    },
    /// Match a command and run the alias's action with its parameters; prints the ack.
    Execute {
        #[arg(value_name = "COMMAND")]
        command: String,
        /// Who asks, and the user the executions run for (default: the system user).
        #[arg(short = 'u', long = "user", value_name = "USER")]
        user: Option<String>,
        /// Where the command comes from (the execution context's `source_channel`; default `cli`).
        #[arg(long = "source-channel", visible_alias = "source_channel", value_name = "CHANNEL")]
        source_channel: Option<String>,
        /// Announce the result on the stream's `st2.announcement__chatops` when it completes,
        /// as for a bot's route (`hubot`, `errbot`).
        #[arg(long = "notification-route", visible_alias = "notification_route", value_name = "ROUTE")]
        notification_route: Option<String>,
    },
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
    use clap::FromArgMatches;

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
            let Command::Action(ActionNoun { verb: ActionVerb::List(list) }) = cli.command else { panic!("{args:?}") };
            assert_eq!(list.pack.as_deref(), Some("demo"), "{args:?}");
        }
    }

    #[test]
    fn alias_verbs_take_stackstorms_spelling() {
        let cli = Cli::try_parse_from(["st2", "action-alias", "match", "greet bob"]).expect("valid");
        let Command::Alias(AliasNoun { verb: AliasVerb::Match { command } }) = cli.command else { panic!("a match") };
        assert_eq!(command, "greet bob");
        let args = ["st2ctl", "alias", "execute", "greet bob", "-u", "ann", "--notification_route", "hubot"];
        let cli = Cli::try_parse_from(args).expect("valid");
        let Command::Alias(AliasNoun { verb: AliasVerb::Execute { user, notification_route, .. } }) = cli.command
        else {
            panic!("an execute")
        };
        assert_eq!((user.as_deref(), notification_route.as_deref()), (Some("ann"), Some("hubot")));
    }

    #[test]
    fn st2_names_itself() {
        let mut st2 = command("st2");
        assert_eq!(st2.render_version(), format!("st2 {}\n", env!("CARGO_PKG_VERSION")));
        assert!(st2.render_usage().to_string().contains("st2 "));
    }

    #[test]
    fn connection_flags_are_global() {
        let matches = command("st2ctl")
            .try_get_matches_from(["st2ctl", "status", "--url", "http://127.0.0.1:9101", "--token", "t"])
            .expect("valid");
        let cli = Cli::from_arg_matches(&matches).expect("valid");
        assert_eq!(cli.global.url.as_deref(), Some("http://127.0.0.1:9101"));
        assert_eq!(cli.global.token.as_deref(), Some("t"));
        assert!(
            Cli::try_parse_from(["st2ctl", "--url", "http://h:1", "--home", "/h", "status"]).is_err(),
            "a url and a socket exclude each other"
        );
        let cli = Cli::try_parse_from([
            "st2ctl",
            "status",
            "--token-file",
            "/t",
            "--ca",
            "/ca.pem",
            "--cert",
            "/c.pem",
            "--key",
            "/k.pem",
        ])
        .expect("valid");
        assert_eq!(cli.global.token_file, Some(PathBuf::from("/t")));
        assert_eq!(
            (cli.global.ca, cli.global.cert, cli.global.key),
            (Some(PathBuf::from("/ca.pem")), Some(PathBuf::from("/c.pem")), Some(PathBuf::from("/k.pem")))
        );
        assert!(
            Cli::try_parse_from(["st2ctl", "--token", "t", "--token-file", "/t", "status"]).is_err(),
            "a token and a token file exclude each other"
        );
    }

    #[test]
    fn reload_takes_stackstorms_flags() {
        let cli = Cli::try_parse_from([
            "st2ctl",
            "reload",
            "--register-rules",
            "--register-configs",
            "--register-fail-on-failure",
            "--verbose",
            "--pack",
            "a",
            "-p",
            "b",
        ])
        .expect("valid");
        let Command::Reload(reload) = cli.command else { panic!("not reload") };
        assert!(reload.register_rules && reload.register_configs && !reload.register_all);
        assert_eq!(reload.packs, ["a", "b"]);
    }

    #[test]
    fn run_takes_stackstorms_words() {
        let cli =
            Cli::try_parse_from(["st2", "run", "core.local", "cmd=echo hi", "-a", "--trace-tag", "t"]).expect("valid");
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert_eq!(
            (run.action.as_str(), run.parameters.as_slice()),
            ("core.local", ["cmd=echo hi".to_string()].as_slice())
        );
        assert!(run.run_async);
        assert_eq!(run.trace_tag.as_deref(), Some("t"));
        let cli = Cli::try_parse_from(["st2", "run", "core.local", "--", "uname", "-a"]).expect("valid");
        let Command::Run(run) = cli.command else { panic!("not run") };
        assert_eq!(run.parameters, ["uname", "-a"]);
        assert!(!run.run_async);
        let cli = Cli::try_parse_from(["st2", "action", "execute", "core.noop"]).expect("valid");
        assert!(matches!(cli.command, Command::Action(ActionNoun { verb: ActionVerb::Execute(_) })));
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["st2ctl", "rule", "get", "a.b", "-j", "--home", "/h"]).expect("valid");
        assert!(cli.global.json);
        assert_eq!(cli.global.home, Some(PathBuf::from("/h")));
    }
}
