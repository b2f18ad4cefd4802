//! Real OpenSSH servers for the remote runners' tests and benchmarks: an `SshLab` holds, in a
//! temporary directory, the client side st2d is given (a key for `--ssh-key-file`, an ssh
//! configuration for `--ssh-config` whose `known_hosts` is the lab's own) and starts `sshd -D`
//! processes on loopback addresses, each with its own host key and configuration, authorizing
//! the lab's key (or, started with `Logins::Password`, only passwords). A `ThrowawayUser` is a
//! system user with a password, and sudo rights that ask for it, made for one test (as root).
//!
//! Owns: those files, processes and users. Must not: touch the user's own `~/.ssh` or any system
//! file (but `/run/sshd`, the directory sshd needs, created when missing, and a throwaway user's
//! account, home and `/etc/sudoers.d` drop-in, all removed when it is dropped).

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

/// Fails the test, saying it needs root `to`, when it does not run as root.
pub fn require_root(to: &str) {
    let output = Command::new("id").arg("-u").output().expect("id runs");
    assert!(stdout(&output).trim() == "0", "this test needs root {to}: run the tests as root, as CI does");
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
    /// 16: sshd's `MAX_LISTEN_SOCKS`), letting in the lab's keys.
    pub fn start_sshd(&self, name: &str, addresses: &[&str]) -> Sshd {
        self.start_sshd_with(name, addresses, Logins::Key)
    }

    /// `start_sshd`, letting in what `logins` says.
    pub fn start_sshd_with(&self, name: &str, addresses: &[&str], logins: Logins) -> Sshd {
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
        // Without PAM, sshd checks a password against /etc/shadow itself.
        let (pubkey, password) = match logins {
            Logins::Key => ("yes", "no"),
            Logins::Password => ("no", "yes"),
        };
        let config = format!(
            "{listen}HostKey {host_key}\nAuthorizedKeysFile {authorized}\nPidFile none\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPubkeyAuthentication {pubkey}\nPasswordAuthentication {password}\n\
             PermitEmptyPasswords no\nKbdInteractiveAuthentication no\nUseDNS no\nMaxStartups 500\nMaxSessions 100\n\
             LogLevel INFO\nSetEnv SHLVL=1\nSubsystem sftp internal-sftp\n",
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

/// How the users of an sshd of the lab log in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Logins {
    /// With the lab's keys only.
    #[default]
    Key,
    /// With their password only (no key is accepted).
    Password,
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

    /// Logins of `user` with a password so far.
    pub fn password_logins(&self, user: &str) -> usize {
        let accepted = format!("Accepted password for {user} ");
        self.log().lines().filter(|line| line.contains(&accepted)).count()
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

/// A system user made for one test: `name` (with a home) logs in with `password`, and may run
/// anything through sudo once it gives that password again (a drop-in in `/etc/sudoers.d`, no
/// cached credentials). The user, its home and the drop-in go when it is dropped, also when
/// the test fails.
pub struct ThrowawayUser {
    pub name: String,
    pub password: String,
    sudoers: PathBuf,
}

impl ThrowawayUser {
    /// Creates `name` with `password`; needs root (fails the test saying so otherwise) and sudo.
    /// `name` must be new: a valid user name no account has.
    pub fn create(name: &str, password: &str) -> Self {
        require_root("to create a throwaway user with a password and sudo rights");
        require_sudo();
        assert!(!password.contains('\n'), "chpasswd reads one password a line");
        let created = Command::new("useradd")
            .args(["--create-home", "--shell", "/bin/bash", "--comment", "st2d-tests throwaway user", "--"])
            .arg(name)
            .stdin(Stdio::null())
            .output()
            .expect("useradd runs");
        assert!(created.status.success(), "useradd {name} failed: {}", stderr(&created));
        // From here on, dropping the guard removes whatever was made.
        let user = Self {
            name: name.to_string(),
            password: password.to_string(),
            sudoers: PathBuf::from("/etc/sudoers.d").join(format!("st2d-tests-{name}")),
        };
        user.set_password();
        user.allow_sudo();
        user
    }

    fn set_password(&self) {
        use std::io::Write;
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chpasswd runs");
        let mut input = chpasswd.stdin.take().expect("chpasswd's stdin is piped");
        input.write_all(format!("{}:{}\n", self.name, self.password).as_bytes()).expect("chpasswd reads");
        drop(input);
        let done = chpasswd.wait_with_output().expect("chpasswd ends");
        assert!(done.status.success(), "chpasswd for {} failed: {}", self.name, stderr(&done));
    }

    /// Lets the user run anything as anyone through sudo with its password, asked every time.
    fn allow_sudo(&self) {
        use std::os::unix::fs::PermissionsExt;
        let rules = format!("{name} ALL=(ALL:ALL) ALL\nDefaults:{name} timestamp_timeout=0\n", name = self.name);
        std::fs::write(&self.sudoers, rules).expect("the sudoers drop-in");
        std::fs::set_permissions(&self.sudoers, std::fs::Permissions::from_mode(0o440)).expect("chmod 0440");
        let checked = Command::new("visudo").arg("-cf").arg(&self.sudoers).output().expect("visudo runs");
        assert!(checked.status.success(), "visudo refuses {}: {}", self.sudoers.display(), stdout(&checked));
    }
}

impl Drop for ThrowawayUser {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.sudoers);
        // --force: a connection the test left open may still hold a session of the user.
        let removed = Command::new("userdel").args(["--remove", "--force", "--"]).arg(&self.name).output();
        match removed {
            Ok(output) if output.status.success() => {}
            Ok(output) => eprintln!("userdel {} failed ({}): {}", self.name, output.status, stderr(&output)),
            Err(error) => eprintln!("userdel {} did not run: {error}", self.name),
        }
    }
}
