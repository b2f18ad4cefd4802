//! Real OpenSSH servers for the remote runners' tests and benchmarks: an `SshLab` holds, in a
//! temporary directory, the client side st2d is given (a key for `--ssh-key-file`, an ssh
//! configuration for `--ssh-config` whose `known_hosts` is the lab's own) and starts `sshd -D`
//! processes on loopback addresses, each with its own host key and configuration, authorizing
//! the lab's key.
//!
//! Owns: those files and processes. Must not: touch the user's own `~/.ssh` or any system file
//! (but `/run/sshd`, the directory sshd needs, created when missing).

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{eventually, free_port, stderr, stdout};

/// How long an idle connection stays open in tests: long enough for commands run one after
/// another to share it, short enough that none outlives a test by much.
pub const KEEP_CONNECTIONS: &str = "10";

/// The most addresses one sshd listens on (its `MAX_LISTEN_SOCKS`).
pub const MAX_LISTEN_ADDRESSES: usize = 16;

/// The sshd binary; fails the test with how to install it when it is missing.
pub fn require_sshd() -> PathBuf {
    let found =
        ["/usr/sbin/sshd", "/usr/local/sbin/sshd", "/sbin/sshd"].into_iter().map(PathBuf::from).find(|p| p.exists());
    let keygen = Command::new("ssh-keygen").arg("-?").output().is_ok();
    match found {
        Some(sshd) if keygen => sshd,
        _ => panic!(
            "sshd and ssh-keygen are needed to test the remote runners: install them with \
             `apt-get install openssh-server` (.ci/run does)"
        ),
    }
}

/// Fails the test with how to get sudo when it is missing (core.remote_sudo runs it).
pub fn require_sudo() {
    let found = Command::new("sudo").arg("-V").output().is_ok_and(|o| o.status.success());
    assert!(found, "sudo is needed to test core.remote_sudo: install it with `apt-get install sudo` (.ci/run does)");
}

/// The user the tests log in as: the one running them.
pub fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().expect("id runs");
    stdout(&output).trim().to_string()
}

/// Makes an ed25519 key pair at `path` and returns where its public half is (`path.pub`).
pub fn keygen(path: &Path) -> PathBuf {
    keygen_with_passphrase(path, "")
}

/// `keygen`, the private half encrypted with `passphrase` (none when empty).
pub fn keygen_with_passphrase(path: &Path, passphrase: &str) -> PathBuf {
    let output = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "st2d-tests", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs");
    assert!(output.status.success(), "ssh-keygen failed: {}", stderr(&output));
    let mut public = path.as_os_str().to_owned();
    public.push(".pub");
    PathBuf::from(public)
}

/// The client side of the tests, and the servers it reaches.
pub struct SshLab {
    dir: tempfile::TempDir,
    sshd: PathBuf,
}

impl Default for SshLab {
    fn default() -> Self {
        Self::new()
    }
}

impl SshLab {
    pub fn new() -> Self {
        let sshd = require_sshd();
        let dir = tempfile::Builder::new().prefix("st2d-ssh-").tempdir().expect("temp dir");
        let lab = Self { dir, sshd };
        let public = keygen(&lab.client_key());
        std::fs::copy(public, lab.path().join("authorized_keys")).expect("authorized_keys");
        lab.write_config("");
        lab
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The key st2d logs in with (`--ssh-key-file`).
    pub fn client_key(&self) -> PathBuf {
        self.path().join("client_key")
    }

    /// The operator's ssh configuration (`--ssh-config`).
    pub fn config(&self) -> PathBuf {
        self.path().join("ssh_config")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.path().join("known_hosts")
    }

    /// Writes the operator's configuration: the lab's known_hosts for every host, then `more`.
    /// ssh refuses an included file others may write, so it is 0600.
    pub fn write_config(&self, more: &str) {
        use std::os::unix::fs::PermissionsExt;
        let text = format!("UserKnownHostsFile {}\n{more}", self.known_hosts().display());
        std::fs::write(self.config(), text).expect("ssh config");
        std::fs::set_permissions(self.config(), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }

    /// The daemon flags that make st2d log in as the current user with the lab's key, read the
    /// lab's configuration, and keep connections `KEEP_CONNECTIONS` seconds.
    pub fn daemon_args(&self) -> Vec<String> {
        vec![
            "--ssh-user".into(),
            current_user(),
            "--ssh-key-file".into(),
            self.client_key().display().to_string(),
            "--ssh-config".into(),
            self.config().display().to_string(),
            "--ssh-keep-connections".into(),
            KEEP_CONNECTIONS.into(),
        ]
    }

    /// Makes another key, encrypted with `passphrase`, that every server of the lab accepts;
    /// returns its private half.
    pub fn passphrase_key(&self, name: &str, passphrase: &str) -> PathBuf {
        let key = self.path().join(name);
        let public = std::fs::read_to_string(keygen_with_passphrase(&key, passphrase)).expect("public key");
        let authorized = self.path().join("authorized_keys");
        let mut keys = std::fs::read_to_string(&authorized).expect("authorized_keys");
        keys.push_str(&public);
        std::fs::write(&authorized, keys).expect("authorized_keys");
        key
    }

    /// Records, for `host` and `port`, a host key the server does not have.
    pub fn pin_wrong_host_key(&self, host: &str, port: u16) {
        let other = self.path().join(format!("impostor-{host}-{port}"));
        let public = std::fs::read_to_string(keygen(&other)).expect("public key");
        let key = public.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        let mut known = std::fs::read_to_string(self.known_hosts()).unwrap_or_default();
        known.push_str(&format!("[{host}]:{port} {key}\n"));
        std::fs::write(self.known_hosts(), known).expect("known_hosts");
    }

    /// Starts an sshd called `name` on one free port of every address in `addresses` (at most
    /// 16: sshd's `MAX_LISTEN_SOCKS`).
    pub fn start_sshd(&self, name: &str, addresses: &[&str]) -> Sshd {
        assert!(addresses.len() <= MAX_LISTEN_ADDRESSES, "sshd listens on {MAX_LISTEN_ADDRESSES} addresses at most");
        if !Path::new("/run/sshd").exists() {
            let _ = std::fs::create_dir_all("/run/sshd");
        }
        let port = free_port();
        let host_key = self.path().join(format!("{name}_host_key"));
        keygen(&host_key);
        let listen: String = addresses.iter().map(|address| format!("ListenAddress {address}:{port}\n")).collect();
        // bash sources ~/.bashrc for a command sshd starts unless SHLVL says it is nested: the
        // tests' output is then the command's, whatever the machine's rc files print.
        let config = format!(
            "{listen}HostKey {host_key}\nAuthorizedKeysFile {authorized}\nPidFile none\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication yes\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUseDNS no\nMaxStartups 500\nMaxSessions 100\nLogLevel INFO\n\
             SetEnv SHLVL=1\nSubsystem sftp internal-sftp\n",
            host_key = host_key.display(),
            authorized = self.path().join("authorized_keys").display(),
        );
        let config_path = self.path().join(format!("{name}_sshd_config"));
        std::fs::write(&config_path, config).expect("sshd config");
        let log = self.path().join(format!("{name}_sshd.log"));
        let log_file = std::fs::File::create(&log).expect("sshd log");
        let child = Command::new(&self.sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("sshd starts");
        let mut sshd = Sshd { child, port, log, addresses: addresses.iter().map(|a| a.to_string()).collect() };
        for address in addresses {
            eventually(&format!("sshd {name} to listen on {address}:{port}"), || {
                if let Ok(Some(status)) = sshd.child.try_wait() {
                    panic!("sshd {name} exited ({status}): {}", sshd.log());
                }
                TcpStream::connect((*address, port)).ok().map(|_| ())
            });
        }
        sshd
    }
}

/// A running sshd, killed when dropped (the sessions of connections st2d keeps end when st2d
/// closes them, `KEEP_CONNECTIONS` after their last use).
pub struct Sshd {
    child: Child,
    pub port: u16,
    log: PathBuf,
    addresses: Vec<String>,
}

impl Sshd {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Logins so far: each is a new SSH connection (a reused one logs in once).
    pub fn logins(&self) -> usize {
        self.log().lines().filter(|line| line.contains("Accepted publickey for")).count()
    }

    /// `address:port` for the `index`th listen address.
    pub fn host(&self, index: usize) -> String {
        format!("{}:{}", self.addresses[index], self.port)
    }

    /// `address:port` for every listen address.
    pub fn hosts(&self) -> Vec<String> {
        (0..self.addresses.len()).map(|index| self.host(index)).collect()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
