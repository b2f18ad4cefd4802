//! The daemon's resolved configuration: paths (DESIGN.md 3.9) and behaviour switches.
//!
//! Owns: turning flags and `--home` into concrete paths, with StackStorm's system defaults.
//! Must not: create directories or read anything from disk (making a relative path absolute
//! reads only the working directory).

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{PathArgs, ServeArgs, SshStrictHostKeys};
use crate::runner::{HostKeyCheck, SshSettings};

/// The longest directory for ssh's control sockets: a Unix socket's name has 107 bytes, and
/// ssh adds `/<16 hex digits>` (st2d's name of a connection) and, while it binds, `.<16 random
/// characters>`.
const SSH_DIR_MAX: usize = 107 - 17 - 17;

/// Every path the daemon uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// Packs directories in precedence order; the first is where packs are installed.
    pub packs_dirs: Vec<PathBuf>,
    pub config_dir: PathBuf,
    pub virtualenvs_dir: PathBuf,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    /// StackStorm's base Python libraries (`pyenv::base`).
    pub python_base_dir: PathBuf,
}

impl Paths {
    /// Every path absolute (relative ones against the working directory at start), so what the
    /// watcher reports, which is always absolute, is found under them.
    pub fn resolve(args: &PathArgs) -> Self {
        let absolute = |path: PathBuf| std::path::absolute(&path).unwrap_or(path);
        let relative = Self::resolve_as_given(args);
        Self {
            packs_dirs: relative.packs_dirs.into_iter().map(absolute).collect(),
            config_dir: absolute(relative.config_dir),
            virtualenvs_dir: absolute(relative.virtualenvs_dir),
            data_dir: absolute(relative.data_dir),
            socket: absolute(relative.socket),
            python_base_dir: absolute(relative.python_base_dir),
        }
    }

    fn resolve_as_given(args: &PathArgs) -> Self {
        let under_home = |leaf: &str, system: &str| -> PathBuf {
            match &args.home {
                Some(home) => home.join(leaf),
                None => PathBuf::from(system),
            }
        };
        let packs_dirs = if args.packs_dirs.is_empty() {
            vec![under_home("packs", "/opt/stackstorm/packs")]
        } else {
            args.packs_dirs.clone()
        };
        let data_dir = args.data_dir.clone().unwrap_or_else(|| under_home("data", "/var/lib/st2d"));
        Self {
            packs_dirs,
            config_dir: args.config_dir.clone().unwrap_or_else(|| under_home("configs", "/opt/stackstorm/configs")),
            virtualenvs_dir: args
                .virtualenvs_dir
                .clone()
                .unwrap_or_else(|| under_home("virtualenvs", "/opt/stackstorm/virtualenvs")),
            python_base_dir: args.python_base_dir.clone().unwrap_or_else(|| data_dir.join("python-base")),
            data_dir,
            socket: args.socket.clone().unwrap_or_else(|| under_home("st2d.sock", "/run/st2d/st2d.sock")),
        }
    }

    /// Where the built-in packs are written out at start.
    pub fn builtin_packs_dir(&self) -> PathBuf {
        self.data_dir.join("builtin-packs")
    }

    /// Where the Python shim is written at start.
    pub fn python_dir(&self) -> PathBuf {
        self.data_dir.join("python")
    }

    /// The socket Python processes started by st2d connect to.
    pub fn shim_socket(&self) -> PathBuf {
        self.data_dir.join("run").join("shim.sock")
    }

    /// The key that encrypts datastore secrets (created 0600 on first start).
    pub fn datastore_key(&self) -> PathBuf {
        self.data_dir.join("keys").join("datastore.key")
    }

    /// The sled store.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }

    /// Where the remote runners keep ssh's control sockets and the files they give ssh:
    /// `<data-dir>/ssh`, or `/tmp/st2d-ssh-<digest of the data dir>` when that is too long for
    /// a socket's name or holds what ssh's option parser splits on (blanks, quotes, `%`).
    pub fn ssh_dir(&self) -> PathBuf {
        let preferred = self.data_dir.join("ssh");
        let text = preferred.to_string_lossy();
        let plain = !text.chars().any(|c| c.is_whitespace() || "\"'%".contains(c));
        if plain && text.len() <= SSH_DIR_MAX {
            return preferred;
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, self.data_dir.as_os_str().as_encoded_bytes());
        let name: String = digest.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        PathBuf::from("/tmp").join(format!("st2d-ssh-{name}"))
    }
}

/// Everything `app::run` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub paths: Paths,
    pub register_rules_by_default: bool,
    /// `None`: no file watching.
    pub watch_debounce: Option<Duration>,
    /// The interpreter for sensors of packs without a virtualenv.
    pub python: PathBuf,
    /// `<pack>/lib` on the import path of pack code (`--enable-common-libs`).
    pub common_libs: bool,
    /// Python actions forked from warm interpreters (`--no-python-warm` turns it off).
    pub python_warm: bool,
    /// Packs whose action modules their warm interpreter imports (`--python-preload`).
    pub python_preload: Vec<String>,
    /// The HTTP ingress, when `--http-listen` is given.
    pub ingress: Option<crate::ingress::IngressConfig>,
    /// The control plane's TCP listeners (`--grpc-listen`).
    pub grpc: crate::api::TcpConfig,
    /// Pack index files (`--index`).
    pub index_files: Vec<PathBuf>,
    /// Run only this sensor (`--sensor-ref`).
    pub sensor_ref: Option<String>,
    /// Time zone of timer rules that give none.
    pub timers_timezone: String,
    /// Executions running at once.
    pub action_concurrency: usize,
    /// When intake is refused (`--max-trigger-backlog`, `--max-queued-executions`,
    /// `--disk-reserve-mb`).
    pub intake: crate::trigger::admission::Limits,
    pub retention: crate::retention::Retention,
    /// The remote runners' SSH settings (`--ssh-*`).
    pub ssh: SshSettings,
    /// `--action-user`, as given (`action_user` decides who pack processes run as).
    pub action_user: Option<String>,
}

impl Config {
    pub fn new(paths: &PathArgs, serve: &ServeArgs) -> Self {
        let paths = Paths::resolve(paths);
        let data_dir = paths.data_dir.clone();
        Self {
            ssh: SshSettings {
                user: serve.ssh_user.clone(),
                key_file: serve.ssh_key_file.as_ref().map(|file| std::path::absolute(file).unwrap_or(file.clone())),
                config_file: serve.ssh_config.as_ref().map(|file| std::path::absolute(file).unwrap_or(file.clone())),
                host_keys: match serve.ssh_strict_host_keys {
                    SshStrictHostKeys::Yes => HostKeyCheck::Yes,
                    SshStrictHostKeys::AcceptNew => HostKeyCheck::AcceptNew,
                    SshStrictHostKeys::No => HostKeyCheck::No,
                },
                max_parallel: serve.ssh_max_parallel.max(1),
                connect_timeout: Duration::from_secs(serve.ssh_connect_timeout.max(1)),
                keep_connections: Duration::from_secs(serve.ssh_keep_connections),
                state_dir: paths.ssh_dir(),
            },
            paths,
            register_rules_by_default: serve.register_rules_by_default,
            watch_debounce: (!serve.no_watch).then(|| Duration::from_millis(serve.watch_debounce_ms)),
            python: serve.python.clone(),
            common_libs: serve.enable_common_libs,
            python_warm: !serve.no_python_warm,
            python_preload: serve.python_preload.clone(),
            ingress: serve.http_listen.map(|listen| crate::ingress::IngressConfig {
                listen,
                api_keys_file: serve.http_api_keys.clone(),
                token_file: serve.http_token_file.clone(),
                max_body: serve.http_max_body,
                webui_dir: serve.webui_dir.clone(),
                allow_origins: serve.http_allow_origin.clone(),
                auth: crate::auth::AuthConfig { users_file: serve.auth_users.clone(), token_ttl: serve.auth_token_ttl },
            }),
            grpc: crate::api::TcpConfig {
                listen: serve.grpc_listen.clone(),
                token_file: serve.grpc_token_file.clone(),
                tls: match (&serve.grpc_tls_cert, &serve.grpc_tls_key) {
                    (Some(cert), Some(key)) => Some(crate::api::tls::TlsFiles {
                        cert: cert.clone(),
                        key: key.clone(),
                        client_ca: serve.grpc_tls_client_ca.clone(),
                    }),
                    _ => None,
                },
                health_open: serve.grpc_health_open,
            },
            index_files: serve.index.clone(),
            action_user: serve.action_user.clone(),
            sensor_ref: serve.sensor_ref.clone(),
            timers_timezone: serve.timers_timezone.clone(),
            action_concurrency: serve.action_concurrency.max(1),
            intake: crate::trigger::admission::Limits {
                max_backlog: serve.max_trigger_backlog.max(1),
                max_queued: serve.max_queued_executions.max(1),
                disk: (serve.disk_reserve_mb > 0).then_some((data_dir, serve.disk_reserve_mb << 20)),
            },
            retention: crate::retention::Retention {
                max_age: (serve.history_days > 0).then(|| Duration::from_secs(serve.history_days * 86_400)),
                max_count: (serve.history_max > 0).then_some(serve.history_max),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_puts_everything_under_one_directory() {
        let args = PathArgs { home: Some("/h".into()), ..PathArgs::default() };
        let paths = Paths::resolve(&args);
        assert_eq!(paths.packs_dirs, [PathBuf::from("/h/packs")]);
        assert_eq!(paths.config_dir, PathBuf::from("/h/configs"));
        assert_eq!(paths.virtualenvs_dir, PathBuf::from("/h/virtualenvs"));
        assert_eq!(paths.data_dir, PathBuf::from("/h/data"));
        assert_eq!(paths.socket, PathBuf::from("/h/st2d.sock"));
    }

    #[test]
    fn system_defaults_follow_stackstorm() {
        let paths = Paths::resolve(&PathArgs::default());
        assert_eq!(paths.packs_dirs, [PathBuf::from("/opt/stackstorm/packs")]);
        assert_eq!(paths.config_dir, PathBuf::from("/opt/stackstorm/configs"));
        assert_eq!(paths.data_dir, PathBuf::from("/var/lib/st2d"));
        assert_eq!(paths.socket, PathBuf::from("/run/st2d/st2d.sock"));
    }

    #[test]
    fn single_flags_override_home() {
        let args = PathArgs {
            home: Some("/h".into()),
            packs_dirs: vec!["/a".into(), "/b".into()],
            socket: Some("/s.sock".into()),
            ..PathArgs::default()
        };
        let paths = Paths::resolve(&args);
        assert_eq!(paths.packs_dirs, [PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(paths.socket, PathBuf::from("/s.sock"));
        assert_eq!(paths.config_dir, PathBuf::from("/h/configs"));
    }

    #[test]
    fn relative_paths_are_made_absolute() {
        let cwd = std::env::current_dir().expect("a working directory");
        let args =
            PathArgs { home: Some("./st2d-home".into()), packs_dirs: vec!["more/packs".into()], ..PathArgs::default() };
        let paths = Paths::resolve(&args);
        assert_eq!(paths.packs_dirs, [cwd.join("more/packs")]);
        assert_eq!(paths.config_dir, cwd.join("st2d-home/configs"));
        assert_eq!(paths.socket, cwd.join("st2d-home/st2d.sock"));
        assert!(paths.data_dir.is_absolute() && paths.virtualenvs_dir.is_absolute());
    }

    #[test]
    fn the_ssh_directory_is_short_enough_for_socket_names() {
        let short = Paths::resolve(&PathArgs { home: Some("/h".into()), ..PathArgs::default() });
        assert_eq!(short.ssh_dir(), PathBuf::from("/h/data/ssh"));
        for home in [format!("/{}", "long".repeat(20)), "/with space/home".to_string(), "/per%cent".to_string()] {
            let paths = Paths::resolve(&PathArgs { home: Some(home.clone().into()), ..PathArgs::default() });
            let dir = paths.ssh_dir();
            let text = dir.to_string_lossy();
            assert!(text.starts_with("/tmp/st2d-ssh-") && text.len() <= SSH_DIR_MAX, "{home}: {dir:?}");
            assert_eq!(dir, paths.ssh_dir(), "the same data dir gives the same directory");
        }
    }
}
