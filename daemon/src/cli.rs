//! Command line of `st2d`: flags, environment variables and subcommands.
//!
//! Owns: the clap definitions and their help text. Must not: resolve paths or touch the
//! filesystem (`config` turns parsed flags into a `Config`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::runner::SshSettings;

#[derive(Debug, Parser)]
#[command(
    name = "st2d",
    version,
    about = "Runs StackStorm integration packs in one process",
    long_about = "Runs StackStorm integration packs in one process: loads the packs directories, \
                  reloads them live as files change, and serves the control plane that st2ctl \
                  and st2 use on a Unix socket."
)]
pub struct Cli {
    #[command(flatten)]
    pub paths: PathArgs,

    /// The daemon's flags; `serve` is the default, so they work with or without it.
    #[command(flatten)]
    pub serve: ServeArgs,

    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, env = "ST2D_LOG_FORMAT", global = true)]
    pub log_format: LogFormat,

    /// Log filter (tracing syntax: `info`, `st2d=debug`...). `RUST_LOG` is read when this is unset.
    #[arg(long, env = "ST2D_LOG", global = true)]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default; every flag of the daemon works with or without it).
    Serve,
    /// Load the packs directories once, print a report per pack and exit: non-zero when any
    /// pack or file failed.
    Check,
    /// Build StackStorm's base Python libraries for `--python` now (pip's progress on stdout)
    /// and exit; the daemon finds them at its next start instead of building them in the
    /// background. pip's variables (`PIP_INDEX_URL`, `PIP_FIND_LINKS`, `PIP_NO_INDEX`) apply.
    PythonBase {
        /// Print the pinned requirements (for `pip download -r`) instead of building.
        #[arg(long)]
        print_requirements: bool,
    },
    /// Back up, restore and check the store (`<data-dir>/store`): history, datastore,
    /// registration choices and toggles.
    #[command(subcommand)]
    Store(StoreCommand),
}

/// `st2d store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Write the store to FILE (JSON lines, README "Backup and restore"). When a running st2d
    /// holds the store, it writes the export through its control socket, as one consistent view.
    Export {
        file: PathBuf,
        /// Take the trigger instances too.
        #[arg(long)]
        trigger_instances: bool,
    },
    /// Read an export into this home's store, which no daemon may be using. Refuses a store
    /// that holds history, keys or toggles already unless --force, and secrets encrypted with
    /// another key than this home's key file unless --skip-secrets.
    Import {
        file: PathBuf,
        /// Empty the store first (everything in it is lost).
        #[arg(long)]
        force: bool,
        /// Leave the export's secrets out (when this home cannot have the source's key file).
        #[arg(long)]
        skip_secrets: bool,
    },
    /// Say whether the store is healthy (with its records per tree), locked by a running
    /// process, or damaged. Exit codes: 0 healthy, 3 locked, 4 damaged, 1 anything else.
    Check,
}

#[derive(Debug, Clone, Args, Default)]
pub struct ServeArgs {
    /// Register the rules of newly discovered packs too (by default rules wait for
    /// `st2ctl reload --register-rules`, as StackStorm's documentation describes).
    #[arg(long, env = "ST2D_REGISTER_RULES_BY_DEFAULT", global = true)]
    pub register_rules_by_default: bool,

    /// Debounce of file-system events before a reload, in milliseconds.
    #[arg(long, default_value_t = 100, value_name = "MS", global = true)]
    pub watch_debounce_ms: u64,

    /// The Python interpreter for sensors of packs without a virtualenv.
    #[arg(long, env = "ST2D_PYTHON", default_value = "python3", value_name = "PATH", global = true)]
    pub python: PathBuf,

    /// Put each pack's `lib/` on the import path of its actions and sensors (StackStorm's
    /// `[packs] enable_common_libs`, off by default as there).
    #[arg(long, env = "ST2D_ENABLE_COMMON_LIBS", global = true)]
    pub enable_common_libs: bool,

    /// Serve StackStorm's webhooks over HTTP on this address (`127.0.0.1:9101`); off when not
    /// given. Beyond loopback it needs --http-api-keys or --http-token-file.
    #[arg(long = "http-listen", env = "ST2D_HTTP_LISTEN", value_name = "ADDR", global = true)]
    pub http_listen: Option<std::net::SocketAddr>,

    /// A file of API keys, one per line, accepted in the `St2-Api-Key` header (or the
    /// `st2-api-key` query parameter).
    #[arg(long = "http-api-keys", value_name = "FILE", global = true)]
    pub http_api_keys: Option<PathBuf>,

    /// A file holding a token accepted as `Authorization: Bearer TOKEN`.
    #[arg(long = "http-token-file", value_name = "FILE", global = true)]
    pub http_token_file: Option<PathBuf>,

    /// Users who log in to the REST API (`st2 login`, `POST /auth/v1/tokens`): an htpasswd
    /// file with bcrypt (`htpasswd -B`) or SHA (`htpasswd -s`) hashes, re-read on SIGHUP. With
    /// it, every API request needs a token or an API key.
    #[arg(long = "auth-users", env = "ST2D_AUTH_USERS", value_name = "FILE", global = true)]
    pub auth_users: Option<PathBuf>,

    /// How long an issued token lives, in seconds (also the largest TTL a login may ask for).
    #[arg(long = "auth-token-ttl", default_value_t = crate::auth::DEFAULT_TOKEN_TTL, value_name = "SECONDS", global = true)]
    pub auth_token_ttl: u64,

    /// The largest HTTP request body accepted, in bytes.
    #[arg(long = "http-max-body", default_value_t = 1024 * 1024, value_name = "BYTES", global = true)]
    pub http_max_body: usize,

    /// Serve StackStorm's web UI (a build of st2web, with its `config.js`) from this directory
    /// at `/` on the --http-listen address.
    #[arg(long = "webui-dir", env = "ST2D_WEBUI_DIR", value_name = "DIR", global = true)]
    pub webui_dir: Option<PathBuf>,

    /// An origin whose browser pages may call the REST API (CORS), e.g. `https://st2.example.com`;
    /// `*` admits any (repeatable). Without it no CORS headers are sent.
    #[arg(long = "http-allow-origin", value_name = "ORIGIN", global = true)]
    pub http_allow_origin: Vec<String>,

    /// A pack index in StackStorm's index.json format, for installing packs by bare name
    /// (repeatable; the first index that names a pack wins).
    #[arg(long = "index", value_name = "FILE", global = true)]
    pub index: Vec<PathBuf>,

    /// Time zone of timer rules that give none (StackStorm's `[timersengine] local_timezone`).
    #[arg(long, default_value = "America/Los_Angeles", value_name = "TZ", global = true)]
    pub timers_timezone: String,

    /// Run only this sensor (`pack.Class`), as StackStorm's `--sensor-ref`.
    #[arg(long, value_name = "REF", global = true)]
    pub sensor_ref: Option<String>,

    /// Do not watch the packs directories (reload only on SIGHUP or `st2ctl reload`).
    #[arg(long, global = true)]
    pub no_watch: bool,

    /// Start every python-script action and Python sensor in a new interpreter instead of
    /// forking it from a warm one.
    #[arg(long, global = true)]
    pub no_python_warm: bool,

    /// Import this pack's python-script action modules in a warm interpreter of its own before
    /// forking its runs (repeatable; module top-level code then runs once per change of the
    /// pack, not per run).
    #[arg(
        long = "python-preload",
        env = "ST2D_PYTHON_PRELOAD",
        value_delimiter = ',',
        value_name = "PACK",
        global = true
    )]
    pub python_preload: Vec<String>,

    /// The user actions and sensors run as when st2d runs as root (default: `stanley` when that
    /// user exists, as StackStorm's `[system_user] user`, else root, with a warning). `sudo: true`
    /// actions run as root. st2d not running as root runs them as its own user and refuses
    /// another.
    #[arg(long, env = "ST2D_ACTION_USER", value_name = "USER", global = true)]
    pub action_user: Option<String>,

    /// Executions that run at once; the others wait, `requested`, in order.
    #[arg(long, env = "ST2D_ACTION_CONCURRENCY", default_value_t = 16, value_name = "N", global = true)]
    pub action_concurrency: usize,

    /// Refuse new trigger instances from outside (webhooks answer 503 with Retry-After, gRPC
    /// RESOURCE_EXHAUSTED, sensors' dispatches wait for their ack) while this many wait for the
    /// rules engine.
    #[arg(long, env = "ST2D_MAX_TRIGGER_BACKLOG", default_value_t = 50_000, value_name = "N", global = true)]
    pub max_trigger_backlog: usize,

    /// Refuse new trigger instances from outside, as for the backlog, while this many
    /// executions wait for a slot.
    #[arg(long, env = "ST2D_MAX_QUEUED_EXECUTIONS", default_value_t = 10_000, value_name = "N", global = true)]
    pub max_queued_executions: usize,

    /// Refuse new trigger instances and API executions while the data directory's filesystem
    /// has less than this many MiB free, keeping them for the work under way (0: no check).
    #[arg(long, env = "ST2D_DISK_RESERVE_MB", default_value_t = 64, value_name = "MIB", global = true)]
    pub disk_reserve_mb: u64,

    /// Keep trigger instances, rule enforcements and executions this many days (0: no age limit).
    #[arg(long, env = "ST2D_HISTORY_DAYS", default_value_t = 30, value_name = "DAYS", global = true)]
    pub history_days: u64,

    /// Keep at most this many of each: trigger instances, rule enforcements, executions (0: no
    /// count limit).
    #[arg(long, env = "ST2D_HISTORY_MAX", default_value_t = 100_000, value_name = "N", global = true)]
    pub history_max: usize,

    /// Serve the control plane over TCP too, on this address (repeatable; `ST2D_GRPC_LISTEN`
    /// takes a comma-separated list). Needs --grpc-token-file; beyond loopback also
    /// --grpc-tls-cert and --grpc-tls-key.
    #[arg(long = "grpc-listen", env = "ST2D_GRPC_LISTEN", value_delimiter = ',', value_name = "ADDR", global = true)]
    pub grpc_listen: Vec<std::net::SocketAddr>,

    /// Tokens accepted as `authorization: Bearer TOKEN` on the TCP listeners, one per line
    /// (re-read on SIGHUP).
    #[arg(long = "grpc-token-file", env = "ST2D_GRPC_TOKEN_FILE", value_name = "FILE", global = true)]
    pub grpc_token_file: Option<PathBuf>,

    /// The TLS certificate chain (PEM) of the TCP listeners (re-read on SIGHUP).
    #[arg(
        long = "grpc-tls-cert",
        env = "ST2D_GRPC_TLS_CERT",
        value_name = "FILE",
        requires = "grpc_tls_key",
        global = true
    )]
    pub grpc_tls_cert: Option<PathBuf>,

    /// The TLS private key (PEM) of the TCP listeners (re-read on SIGHUP).
    #[arg(
        long = "grpc-tls-key",
        env = "ST2D_GRPC_TLS_KEY",
        value_name = "FILE",
        requires = "grpc_tls_cert",
        global = true
    )]
    pub grpc_tls_key: Option<PathBuf>,

    /// Require client certificates signed by these CAs (PEM) on the TCP listeners.
    #[arg(
        long = "grpc-tls-client-ca",
        env = "ST2D_GRPC_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "grpc_tls_cert",
        global = true
    )]
    pub grpc_tls_client_ca: Option<PathBuf>,

    /// Answer the gRPC health service on the TCP listeners without a token (for probes).
    #[arg(long = "grpc-health-open", global = true)]
    pub grpc_health_open: bool,

    /// The login of remote actions that give no `username`, when the ssh configuration gives
    /// their host no `User` (StackStorm's `[system_user] user`).
    #[arg(long, env = "ST2D_SSH_USER", default_value = SshSettings::DEFAULT_USER, value_name = "USER", global = true)]
    pub ssh_user: String,

    /// The private key of remote actions that give no `private_key` nor `password` (default:
    /// `.ssh/stanley_rsa` in the home of --ssh-user, when it exists).
    #[arg(long, env = "ST2D_SSH_KEY_FILE", value_name = "FILE", global = true)]
    pub ssh_key_file: Option<PathBuf>,

    /// The ssh client configuration read before `/etc/ssh/ssh_config` (default: st2d's user's
    /// `~/.ssh/config`).
    #[arg(long, env = "ST2D_SSH_CONFIG", value_name = "FILE", global = true)]
    pub ssh_config: Option<PathBuf>,

    /// Host keys of remote hosts against `known_hosts`: `yes` accepts known keys only,
    /// `accept-new` also adds hosts never seen, `no` checks nothing. A changed key is refused
    /// unless `no`.
    #[arg(
        long,
        value_enum,
        env = "ST2D_SSH_STRICT_HOST_KEYS",
        default_value_t = SshStrictHostKeys::AcceptNew,
        value_name = "POLICY",
        global = true
    )]
    pub ssh_strict_host_keys: SshStrictHostKeys,

    /// Hosts of one `parallel` remote action that run at once.
    #[arg(long, default_value_t = SshSettings::DEFAULT_MAX_PARALLEL, value_name = "N", global = true)]
    pub ssh_max_parallel: usize,

    /// How long opening an SSH connection may take (less when the action's timeout is shorter).
    #[arg(long, default_value_t = SshSettings::DEFAULT_CONNECT_TIMEOUT, value_name = "SECONDS", global = true)]
    pub ssh_connect_timeout: u64,

    /// How long a connection to a host stays open after its last command, for the next one
    /// (0: one connection per command).
    #[arg(long, default_value_t = SshSettings::DEFAULT_KEEP_CONNECTIONS, value_name = "SECONDS", global = true)]
    pub ssh_keep_connections: u64,
}

/// `--ssh-strict-host-keys`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SshStrictHostKeys {
    Yes,
    #[default]
    AcceptNew,
    No,
}

/// Where everything lives (DESIGN.md 3.9).
#[derive(Debug, Clone, Args, Default)]
pub struct PathArgs {
    /// Put everything under DIR: DIR/packs, DIR/configs, DIR/virtualenvs, DIR/data, DIR/st2d.sock.
    #[arg(long, env = "ST2D_HOME", global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// A packs directory; repeat for several. The first is where packs are installed; when the
    /// same pack is in several, the first one wins.
    #[arg(long = "packs-dir", global = true, value_name = "DIR")]
    pub packs_dirs: Vec<PathBuf>,

    /// Where pack configs (`<pack>.yaml`) are read from.
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,

    /// Where packs' virtualenvs live.
    #[arg(long, global = true, value_name = "DIR")]
    pub virtualenvs_dir: Option<PathBuf>,

    /// Where the store (history, datastore, registration choices) is kept.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The control plane's Unix socket.
    #[arg(long, env = "ST2D_SOCKET", global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Where StackStorm's base Python libraries are built (default `<data-dir>/python-base`);
    /// daemons may share one.
    #[arg(long, env = "ST2D_PYTHON_BASE_DIR", global = true, value_name = "DIR")]
    pub python_base_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// The daemon's flags, given before or after `serve`, or without it.
    pub fn serve_args(&self) -> ServeArgs {
        self.serve.clone()
    }
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
    fn flags_work_before_and_after_the_subcommand() {
        let cli = Cli::try_parse_from(["st2d", "--home", "/h", "check", "--packs-dir", "/a", "--packs-dir", "/b"])
            .expect("valid");
        assert!(matches!(cli.command, Some(Command::Check)));
        assert_eq!(cli.paths.packs_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        let cli = Cli::try_parse_from(["st2d", "serve", "--register-rules-by-default", "--log-format", "json"])
            .expect("valid");
        assert!(cli.serve_args().register_rules_by_default);
        assert_eq!(cli.log_format, LogFormat::Json);
        let cli = Cli::try_parse_from(["st2d", "--home", "/h"]).expect("valid");
        assert_eq!(cli.serve_args().watch_debounce_ms, 100, "defaults without the subcommand");
        assert_eq!(cli.serve_args().python, PathBuf::from("python3"));
    }

    #[test]
    fn serve_flags_work_without_the_subcommand() {
        for words in [
            &["st2d", "--home", "X", "--register-rules-by-default", "--http-listen", "127.0.0.1:9101"][..],
            &["st2d", "serve", "--home", "X", "--register-rules-by-default", "--http-listen", "127.0.0.1:9101"],
            &["st2d", "--register-rules-by-default", "serve", "--http-listen", "127.0.0.1:9101"],
        ] {
            let cli = Cli::try_parse_from(words).unwrap_or_else(|e| panic!("{words:?}: {e}"));
            let serve = cli.serve_args();
            assert!(serve.register_rules_by_default, "{words:?}");
            assert_eq!(serve.http_listen, Some("127.0.0.1:9101".parse().expect("an address")), "{words:?}");
        }
        let cli =
            Cli::try_parse_from(["st2d", "--grpc-listen", "127.0.0.1:1", "--grpc-listen", "[::1]:2"]).expect("valid");
        assert_eq!(cli.serve_args().grpc_listen.len(), 2);
        let error = Cli::try_parse_from(["st2d", "--grpc-tls-cert", "c.pem"]).expect_err("a cert needs a key");
        assert!(error.to_string().contains("--grpc-tls-key"), "{error}");
    }

    #[test]
    fn store_subcommands_parse() {
        let cli = Cli::try_parse_from(["st2d", "--home", "/h", "store", "export", "f.jsonl", "--trigger-instances"])
            .expect("valid");
        assert!(matches!(cli.command, Some(Command::Store(StoreCommand::Export { trigger_instances: true, .. }))));
        let cli = Cli::try_parse_from(["st2d", "store", "import", "--force", "f.jsonl"]).expect("valid");
        assert!(matches!(
            cli.command,
            Some(Command::Store(StoreCommand::Import { force: true, skip_secrets: false, .. }))
        ));
        assert!(Cli::try_parse_from(["st2d", "store", "check"]).is_ok());
    }

    #[test]
    fn ssh_flags_default_to_stackstorm_settings() {
        let serve = Cli::try_parse_from(["st2d"]).expect("valid").serve_args();
        assert_eq!(serve.ssh_user, "stanley");
        assert_eq!(serve.ssh_strict_host_keys, SshStrictHostKeys::AcceptNew);
        assert_eq!((serve.ssh_max_parallel, serve.ssh_connect_timeout), (50, 60));
        let serve = Cli::try_parse_from(["st2d", "--ssh-strict-host-keys", "no", "--ssh-user", "ops"])
            .expect("valid")
            .serve_args();
        assert_eq!((serve.ssh_strict_host_keys, serve.ssh_user.as_str()), (SshStrictHostKeys::No, "ops"));
        assert!(Cli::try_parse_from(["st2d", "--ssh-strict-host-keys", "maybe"]).is_err());
    }

    #[test]
    fn the_action_user_is_a_serve_flag() {
        let serve = Cli::try_parse_from(["st2d", "--action-user", "nobody", "serve"]).expect("valid").serve_args();
        assert_eq!(serve.action_user.as_deref(), Some("nobody"));
    }
}
