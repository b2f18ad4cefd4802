//! The system's OpenSSH client as the remote runners use it (DESIGN.md 3.15): what `ssh` and
//! `sftp` are given for one execution, so that the operator's configuration applies and each
//! host's connection is kept for the next command.
//!
//! * A configuration file st2d writes (`<state dir>/config`) includes the operator's
//!   (`--ssh-config`, else `~/.ssh/config`), then `/etc/ssh/ssh_config`, then st2d's defaults
//!   (`User` from `--ssh-user`, the default key, batch mode, the host key policy): as ssh takes
//!   the first value it reads, `Host` aliases, `HostName`, `User`, `Port`, `ProxyJump` and
//!   `ProxyCommand` of the operator win over the defaults (identities add up, the operator's
//!   first), and jump hosts get the defaults too. An action that gives its own key or a
//!   password gets the same file without the default key (`config-own-login`), as StackStorm
//!   then uses only what the action gave.
//! * The action's `username`, `port`, key and `bastion_host`, and the host key policy, are
//!   given on the command line, which wins over every file.
//! * Connections are OpenSSH's ControlMaster: a control socket per (host, port, login,
//!   credentials) under the state directory, kept `--ssh-keep-connections` after its last use.
//! * Passwords and passphrases go through `SSH_ASKPASS` (a script st2d writes, answering from
//!   variables of the ssh process only), never on a command line. The agent
//!   (`SSH_AUTH_SOCK`) is passed on.
//!
//! Owns: those files and options. Must not: write remote shell lines (`line`) or run anything
//! (`crate::process` does).

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use st2d_core::pyfmt::shell_quote;

use super::hosts::Target;
use crate::process::ProcessSpec;
use crate::runner::{HostKeyCheck, SshSettings};

/// The askpass program: answers a passphrase prompt with `ST2D_SSH_PASSPHRASE`, any other
/// prompt (a password) with `ST2D_SSH_PASSWORD`.
const ASKPASS: &str = "#!/bin/sh\n# Written by st2d: answers ssh's prompts from the environment of the ssh that asks.\n\
case \"$1\" in\n  *assphrase*) printf '%s\\n' \"$ST2D_SSH_PASSPHRASE\" ;;\n  *) printf '%s\\n' \"$ST2D_SSH_PASSWORD\" ;;\nesac\n";

/// What tells a `private_key` holding the key itself from a path (StackStorm's test).
const KEY_MATERIAL_MARK: &str = "private key-----";

/// The default key's path in the home of `--ssh-user` (StackStorm's `ssh_key_file`).
const DEFAULT_KEY: &str = ".ssh/stanley_rsa";

/// Why ssh cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot prepare {} for ssh: {source}", .path.display())]
    Prepare { path: PathBuf, source: io::Error },
    #[error("{} belongs to another user; st2d keeps ssh's control sockets in a directory of its own", .0.display())]
    NotOwned(PathBuf),
    #[error("cannot write the action's private key to {}: {source}", .path.display())]
    KeyFile { path: PathBuf, source: io::Error },
}

/// How an execution logs in: the action's runner parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub username: Option<String>,
    pub password: Option<String>,
    /// A path, or the key itself.
    pub private_key: Option<String>,
    pub passphrase: Option<String>,
    /// The `port` parameter when it is not ssh's default (so a `Port` in the ssh
    /// configuration applies otherwise).
    pub port: Option<u16>,
    pub bastion: Option<Target>,
}

/// ssh and sftp for one execution; removes the key it wrote when dropped.
#[derive(Debug)]
pub struct Ssh {
    settings: SshSettings,
    login: Login,
    /// `-i` with `IdentitiesOnly`: the action's key (its path, or where its material was
    /// written).
    identity: Option<PathBuf>,
    /// `-F`: with the default key, or without it when the action gave its own login.
    config: PathBuf,
    written_key: Option<PathBuf>,
    connect_timeout: u64,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if let Some(path) = &self.written_key {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Ssh {
    /// Prepares the state directory and its files, and the action's key; `timeout_seconds` is
    /// the action's, which bounds the connect timeout (StackStorm keeps it two seconds under).
    pub fn open(settings: &SshSettings, login: Login, timeout_seconds: f64) -> Result<Self, SshError> {
        prepare(settings)?;
        let mut connect_timeout = settings.connect_timeout.as_secs().max(1);
        if timeout_seconds > 0.0 {
            connect_timeout = connect_timeout.min(((timeout_seconds as u64).saturating_sub(2)).max(1));
        }
        let mut ssh = Self {
            settings: settings.clone(),
            login,
            identity: None,
            config: config_path(settings, DefaultKey::Offered),
            written_key: None,
            connect_timeout,
        };
        match ssh.login.private_key.clone() {
            Some(key) if key.to_ascii_lowercase().contains(KEY_MATERIAL_MARK) => {
                let path = settings.state_dir.join(format!("key-{}", st2d_core::random::unique_name()));
                write_private(&path, &with_final_newline(&key), 0o600)
                    .map_err(|source| SshError::KeyFile { path: path.clone(), source })?;
                ssh.written_key = Some(path.clone());
                ssh.identity = Some(path);
            }
            Some(path) => ssh.identity = Some(PathBuf::from(path)),
            None => {}
        }
        if ssh.identity.is_some() || ssh.login.password.is_some() {
            ssh.config = config_path(settings, DefaultKey::Left);
        }
        Ok(ssh)
    }

    /// How long opening a connection may take.
    pub fn connect_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.connect_timeout)
    }

    /// `ssh` running `line` on `target`'s login shell, without a terminal.
    pub fn command(&self, target: &Target, line: &str) -> ProcessSpec {
        let spec = self.options(ProcessSpec::new("ssh", "/"), target).arg("-T").arg("--").arg(&target.host);
        spec.arg(line)
    }

    /// `sftp` running `batch` on `target`, through the same connection as `command`.
    pub fn sftp(&self, target: &Target, batch: String) -> ProcessSpec {
        let host = if target.host.contains(':') { format!("[{}]", target.host) } else { target.host.clone() };
        self.options(ProcessSpec::new("sftp", "/"), target).arg("-b").arg("-").arg("--").arg(host).stdin(batch)
    }

    /// The options `ssh` and `sftp` share, and the variables of the process.
    fn options(&self, mut spec: ProcessSpec, target: &Target) -> ProcessSpec {
        spec = spec.arg("-F").arg(&self.config);
        for option in self.login_options(target.port.or(self.login.port)) {
            spec = spec.arg("-o").arg(option);
        }
        if let Some(identity) = &self.identity {
            spec = spec.arg("-i").arg(identity);
        }
        let control = if self.settings.keep_connections.is_zero() {
            vec!["ControlMaster=no".to_string(), "ControlPath=none".to_string()]
        } else {
            vec![
                "ControlMaster=auto".to_string(),
                format!("ControlPath={}", self.control_path(target).display()),
                format!("ControlPersist={}", self.settings.keep_connections.as_secs()),
            ]
        };
        for option in control {
            spec = spec.arg("-o").arg(option);
        }
        if let Some(bastion) = &self.login.bastion {
            spec = spec.arg("-o").arg(format!("ProxyCommand={}", self.bastion_command(bastion)));
        }
        if let Some(agent) = std::env::var_os("SSH_AUTH_SOCK") {
            spec = spec.env("SSH_AUTH_SOCK", agent);
        }
        if self.asks() {
            spec = spec
                .env("SSH_ASKPASS", self.settings.state_dir.join("askpass"))
                .env("SSH_ASKPASS_REQUIRE", "force")
                .env("ST2D_SSH_PASSWORD", self.login.password.clone().unwrap_or_default())
                .env("ST2D_SSH_PASSPHRASE", self.login.passphrase.clone().unwrap_or_default());
        }
        spec
    }

    /// `-o` options of the login to the target (and, with `port: None`, to the bastion).
    fn login_options(&self, port: Option<u16>) -> Vec<String> {
        let mut options = vec![
            format!("BatchMode={}", if self.asks() { "no" } else { "yes" }),
            format!("ConnectTimeout={}", self.connect_timeout),
        ];
        options.extend(host_key_options(self.settings.host_keys));
        if let Some(user) = &self.login.username {
            options.push(format!("User={user}"));
        }
        if let Some(port) = port {
            options.push(format!("Port={port}"));
        }
        if self.identity.is_some() {
            options.push("IdentitiesOnly=yes".to_string());
        }
        if self.login.password.is_some() {
            options.push("NumberOfPasswordPrompts=1".to_string());
        }
        options
    }

    /// Whether ssh may have to ask (a password, or a key's passphrase).
    fn asks(&self) -> bool {
        self.login.password.is_some() || self.login.passphrase.is_some()
    }

    /// The ProxyCommand that reaches a target through `bastion` with the same login, as
    /// StackStorm connects to its bastion with the action's credentials. `%` is ssh's token
    /// character, so it is doubled in what st2d writes.
    fn bastion_command(&self, bastion: &Target) -> String {
        let mut words = vec!["ssh".to_string(), "-F".to_string(), self.config.display().to_string()];
        for option in self.login_options(bastion.port) {
            words.push("-o".to_string());
            words.push(option);
        }
        if let Some(identity) = &self.identity {
            words.push("-i".to_string());
            words.push(identity.display().to_string());
        }
        words.extend(["-o", "ControlMaster=no", "-o", "ControlPath=none"].map(String::from));
        let mut command: Vec<String> = words.iter().map(|word| shell_quote(word).replace('%', "%%")).collect();
        command.extend(["-W".to_string(), "'[%h]:%p'".to_string(), "--".to_string()]);
        command.push(shell_quote(&bastion.host).replace('%', "%%"));
        command.join(" ")
    }

    /// The control socket of `target` under this login: a digest of everything that makes a
    /// connection (host, port, user, credentials, bastion), so that a connection is reused only
    /// by executions that would have opened the same one.
    fn control_path(&self, target: &Target) -> PathBuf {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        let port = target.port.or(self.login.port).map(|p| p.to_string()).unwrap_or_default();
        let bastion = self.login.bastion.as_ref().map(|b| b.given.as_str()).unwrap_or_default();
        for part in [
            target.host.as_str(),
            &port,
            self.login.username.as_deref().unwrap_or_default(),
            self.login.private_key.as_deref().unwrap_or_default(),
            self.login.password.as_deref().unwrap_or_default(),
            self.login.passphrase.as_deref().unwrap_or_default(),
            bastion,
        ] {
            context.update(part.as_bytes());
            context.update(&[0]);
        }
        let digest = context.finish();
        let name: String = digest.as_ref()[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        self.settings.state_dir.join(name)
    }
}

/// Closes every connection kept under `state_dir` (`ssh -O exit` on each control socket), so
/// that no ssh master outlives the daemon; a few seconds at most a socket.
pub async fn close_kept_connections(state_dir: &Path) -> usize {
    use std::os::unix::fs::FileTypeExt;
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return 0;
    };
    let limits = crate::process::RunLimits {
        timeout: Some(std::time::Duration::from_secs(5)),
        capture: 4096,
        grace: std::time::Duration::from_secs(1),
    };
    let never = tokio_util::sync::CancellationToken::new();
    let mut closed = 0;
    for entry in entries.flatten() {
        if !entry.file_type().is_ok_and(|kind| kind.is_socket()) {
            continue;
        }
        let path = entry.path();
        let spec = ProcessSpec::new("ssh", "/")
            .arg("-o")
            .arg(format!("ControlPath={}", path.display()))
            .arg("-o")
            .arg("BatchMode=yes")
            .arg("-O")
            .arg("exit")
            .arg("st2d-kept-connection");
        let exited = crate::process::run(&spec, limits, &never, &|_, _| {}).await;
        if exited.is_ok_and(|captured| captured.exit_code == Some(0)) {
            closed += 1;
        } else {
            let _ = std::fs::remove_file(&path);
        }
    }
    closed
}

/// The host key options of `policy` (with `no`, no known_hosts file is read or written).
fn host_key_options(policy: HostKeyCheck) -> Vec<String> {
    match policy {
        HostKeyCheck::Yes => vec!["StrictHostKeyChecking=yes".to_string()],
        HostKeyCheck::AcceptNew => vec!["StrictHostKeyChecking=accept-new".to_string()],
        HostKeyCheck::No => vec![
            "StrictHostKeyChecking=no".to_string(),
            "UserKnownHostsFile=/dev/null".to_string(),
            "GlobalKnownHostsFile=/dev/null".to_string(),
        ],
    }
}

/// Whether a configuration file offers the default key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultKey {
    /// When it exists: the action gave no key and no password.
    Offered,
    /// The action logs in with what it gave.
    Left,
}

fn config_path(settings: &SshSettings, default_key: DefaultKey) -> PathBuf {
    match default_key {
        DefaultKey::Offered => settings.state_dir.join("config"),
        DefaultKey::Left => settings.state_dir.join("config-own-login"),
    }
}

/// A configuration file st2d gives ssh (`-F`).
fn config_text(settings: &SshSettings, offered: DefaultKey) -> String {
    let identity = match offered {
        DefaultKey::Offered => default_key(settings),
        DefaultKey::Left => None,
    };
    let identity = identity.map(|key| format!("    IdentityFile \"{}\"\n", key.display())).unwrap_or_default();
    let operator = match &settings.config_file {
        Some(file) => format!("\"{}\"", file.display()),
        None => "~/.ssh/config".to_string(),
    };
    let host_keys: String = host_key_options(settings.host_keys)
        .iter()
        .map(|option| format!("    {}\n", option.replacen('=', " ", 1)))
        .collect();
    format!(
        "# Written by st2d for its remote runners from its --ssh-* flags; rewritten when they change.\n\
         # The operator's configuration first: ssh keeps the first value it reads.\n\
         Include {operator}\n\
         Include /etc/ssh/ssh_config\n\
         Host *\n    User \"{user}\"\n{identity}    BatchMode yes\n{host_keys}    LogLevel ERROR\n    ServerAliveInterval 15\n    ServerAliveCountMax 4\n",
        user = settings.user
    )
}

/// The state directory (0700, st2d's own), the configuration files and the askpass program.
fn prepare(settings: &SshSettings) -> Result<(), SshError> {
    let dir = &settings.state_dir;
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SshError::Prepare { path, source }
    };
    std::fs::create_dir_all(dir).map_err(failed(dir))?;
    let meta = std::fs::metadata(dir).map_err(failed(dir))?;
    if meta.uid() != rustix::process::getuid().as_raw() {
        return Err(SshError::NotOwned(dir.clone()));
    }
    if meta.permissions().mode() & 0o777 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(failed(dir))?;
    }
    for offered in [DefaultKey::Offered, DefaultKey::Left] {
        let config = config_path(settings, offered);
        write_if_changed(&config, &config_text(settings, offered), 0o600).map_err(failed(&config))?;
    }
    let askpass = dir.join("askpass");
    write_if_changed(&askpass, ASKPASS, 0o700).map_err(failed(&askpass))
}

/// Writes `text` to `path` (through a new file renamed into place, so a reader never sees half
/// of it) unless it already holds exactly that.
fn write_if_changed(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let temporary = path.with_extension(format!("new-{}", st2d_core::random::unique_name()));
    write_private(&temporary, text, mode)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// Creates `path` with `mode` from the start (a key is never readable by others, even briefly).
fn write_private(path: &Path, text: &str, mode: u32) -> io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path)?;
    file.write_all(text.as_bytes())
}

/// OpenSSH refuses a key without its final newline.
fn with_final_newline(key: &str) -> String {
    let key = key.trim_end();
    format!("{key}\n")
}

/// `--ssh-key-file`, else `.ssh/stanley_rsa` in the home of `--ssh-user`; only when it exists.
fn default_key(settings: &SshSettings) -> Option<PathBuf> {
    let key = match &settings.key_file {
        Some(file) => file.clone(),
        None => home_of(&settings.user)?.join(DEFAULT_KEY),
    };
    key.is_file().then_some(key)
}

/// A user's home directory, from `/etc/passwd`.
fn home_of(user: &str) -> Option<PathBuf> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|entry| {
        let fields: Vec<&str> = entry.split(':').collect();
        (fields.len() >= 6 && fields[0] == user).then(|| PathBuf::from(fields[5]))
    })
}

#[cfg(test)]
#[path = "ssh_tests.rs"]
mod tests;
