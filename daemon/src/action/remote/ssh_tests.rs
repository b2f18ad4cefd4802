//! Tests of ssh's files and options for the remote runners.

use std::time::Duration;

use super::*;

fn settings(dir: &Path) -> SshSettings {
    SshSettings::new(dir.join("ssh"))
}

fn target(host: &str, port: Option<u16>) -> Target {
    Target { given: host.to_string(), host: host.to_string(), port }
}

fn words(spec: &ProcessSpec) -> Vec<String> {
    spec.args.iter().map(|arg| arg.to_string_lossy().into_owned()).collect()
}

/// The values of every `-o` in `words`.
fn options(words: &[String]) -> Vec<&str> {
    words.windows(2).filter(|pair| pair[0] == "-o").map(|pair| pair[1].as_str()).collect()
}

#[test]
fn the_configuration_reads_the_operator_first_then_the_system_then_st2d() {
    let home = tempfile::tempdir().expect("temp dir");
    let mut settings = settings(home.path());
    let text = config_text(&settings, DefaultKey::Offered);
    let include_user = text.find("Include ~/.ssh/config").expect("the user's configuration");
    let include_system = text.find("Include /etc/ssh/ssh_config").expect("the system's");
    let defaults = text.find("Host *\n    User \"stanley\"\n    BatchMode yes\n").expect("st2d's defaults");
    assert!(include_user < include_system && include_system < defaults, "{text}");
    assert!(text.contains("    StrictHostKeyChecking accept-new\n"), "{text}");
    settings.config_file = Some(PathBuf::from("/etc/st2/ssh config"));
    settings.host_keys = HostKeyCheck::No;
    settings.user = "ops".to_string();
    let text = config_text(&settings, DefaultKey::Offered);
    assert!(text.contains("Include \"/etc/st2/ssh config\"\n") && text.contains("User \"ops\""), "{text}");
    assert!(text.contains("    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n"), "{text}");
}

#[test]
fn opening_writes_a_private_directory_and_its_files() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let _ssh = Ssh::open(&settings, Login::default(), 60.0).expect("prepared");
    let mode = |path: &Path| std::fs::metadata(path).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&settings.state_dir), 0o700);
    assert_eq!(mode(&settings.state_dir.join("config")), 0o600);
    assert_eq!(mode(&settings.state_dir.join("config-own-login")), 0o600);
    assert_eq!(mode(&settings.state_dir.join("askpass")), 0o700);
    assert_eq!(
        std::fs::read_to_string(settings.state_dir.join("config")).expect("config"),
        config_text(&settings, DefaultKey::Offered)
    );
    let again = Ssh::open(&settings, Login::default(), 60.0);
    assert!(again.is_ok(), "opening again keeps what is there");
}

#[test]
fn commands_carry_the_login_the_host_key_policy_and_the_connection() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let login = Login { username: Some("ops".into()), port: Some(2200), ..Login::default() };
    let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
    let spec = ssh.command(&target("web1", None), "uptime");
    let words = words(&spec);
    assert_eq!(spec.program, PathBuf::from("ssh"));
    assert_eq!(words[..2], ["-F".to_string(), settings.state_dir.join("config").display().to_string()]);
    assert_eq!(words[words.len() - 4..], ["-T", "--", "web1", "uptime"]);
    let options = options(&words);
    for expected in [
        "BatchMode=yes",
        "ConnectTimeout=58",
        "StrictHostKeyChecking=accept-new",
        "User=ops",
        "Port=2200",
        "ControlMaster=auto",
        "ControlPersist=300",
    ] {
        assert!(options.contains(&expected), "{expected} missing from {options:?}");
    }
    let control = options.iter().find_map(|o| o.strip_prefix("ControlPath=")).expect("a control path");
    let control = Path::new(control);
    assert_eq!(control.parent(), Some(settings.state_dir.as_path()));
    assert_eq!(control.file_name().map(|n| n.len()), Some(16));
    assert!(!spec.env.contains_key("SSH_ASKPASS"), "nothing to ask");
    let own_port = ssh.command(&target("web1", Some(2222)), "uptime");
    assert!(self::options(&self::words(&own_port)).contains(&"Port=2222"), "a host's own port wins over `port`");
}

#[test]
fn connections_are_shared_only_by_the_same_login_to_the_same_host() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let path_of = |login: Login, host: &str| {
        let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
        ssh.control_path(&target(host, None))
    };
    let base = path_of(Login::default(), "web1");
    assert_eq!(base, path_of(Login::default(), "web1"));
    assert_ne!(base, path_of(Login::default(), "web2"));
    assert_ne!(base, path_of(Login { username: Some("ops".into()), ..Login::default() }, "web1"));
    assert_ne!(base, path_of(Login { password: Some("secret".into()), ..Login::default() }, "web1"));
    assert_ne!(base, path_of(Login { private_key: Some("/keys/a".into()), ..Login::default() }, "web1"));
    let unkept = SshSettings { keep_connections: Duration::ZERO, ..settings.clone() };
    let ssh = Ssh::open(&unkept, Login::default(), 60.0).expect("prepared");
    let options = words(&ssh.command(&target("web1", None), "true"));
    assert!(
        self::options(&options).contains(&"ControlMaster=no") && self::options(&options).contains(&"ControlPath=none")
    );
}

#[test]
fn passwords_go_through_askpass_and_never_on_the_command_line() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let login = Login { password: Some("s3cret".into()), ..Login::default() };
    let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
    let spec = ssh.command(&target("web1", None), "true");
    let words = words(&spec);
    assert!(words.iter().all(|word| !word.contains("s3cret")), "{words:?}");
    let options = options(&words);
    assert!(options.contains(&"BatchMode=no") && options.contains(&"NumberOfPasswordPrompts=1"), "{options:?}");
    assert_eq!(spec.env.get("SSH_ASKPASS"), Some(&settings.state_dir.join("askpass").into_os_string()));
    assert_eq!(spec.env.get("SSH_ASKPASS_REQUIRE").map(|v| v.to_string_lossy().into_owned()).as_deref(), Some("force"));
    assert_eq!(spec.env.get("ST2D_SSH_PASSWORD").map(|v| v.to_string_lossy().into_owned()).as_deref(), Some("s3cret"));
}

#[tokio::test]
async fn askpass_answers_passphrase_and_password_prompts() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let _ssh = Ssh::open(&settings, Login::default(), 60.0).expect("prepared");
    for (prompt, answer) in [("Enter passphrase for key '/k': ", "phrase"), ("root@web1's password: ", "word")] {
        let spec = ProcessSpec::new(settings.state_dir.join("askpass"), "/")
            .arg(prompt)
            .env("ST2D_SSH_PASSWORD", "word")
            .env("ST2D_SSH_PASSPHRASE", "phrase");
        let limits = crate::process::RunLimits {
            timeout: Some(Duration::from_secs(10)),
            capture: 1024,
            grace: crate::process::KILL_GRACE,
        };
        let captured = crate::process::run(&spec, limits, &tokio_util::sync::CancellationToken::new(), &|_, _| {})
            .await
            .expect("askpass runs");
        assert_eq!(String::from_utf8_lossy(&captured.stdout), format!("{answer}\n"), "{prompt}");
    }
}

#[test]
fn a_key_given_as_material_is_written_privately_and_removed() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let material = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----";
    let login = Login { private_key: Some(material.into()), ..Login::default() };
    let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
    let words = words(&ssh.command(&target("web1", None), "true"));
    let at = words.iter().position(|w| w == "-i").expect("an identity");
    let written = PathBuf::from(&words[at + 1]);
    assert_eq!(std::fs::read_to_string(&written).expect("written"), format!("{material}\n"));
    assert_eq!(std::fs::metadata(&written).expect("written").permissions().mode() & 0o777, 0o600);
    assert!(options(&words).contains(&"IdentitiesOnly=yes"));
    drop(ssh);
    assert!(!written.exists(), "removed with the execution");

    let by_path = Ssh::open(&settings, Login { private_key: Some("/keys/deploy".into()), ..Login::default() }, 60.0)
        .expect("prepared");
    let words = self::words(&by_path.command(&target("web1", None), "true"));
    assert!(words.windows(2).any(|pair| pair == ["-i", "/keys/deploy"]), "{words:?}");
}

#[test]
fn the_default_key_is_offered_only_when_it_exists_and_the_action_gave_no_login() {
    let home = tempfile::tempdir().expect("temp dir");
    let key = home.path().join("stanley_rsa");
    let mut settings = SshSettings { key_file: Some(key.clone()), ..settings(home.path()) };
    let line = format!("    IdentityFile \"{}\"\n", key.display());
    assert!(!config_text(&settings, DefaultKey::Offered).contains("IdentityFile"));
    std::fs::write(&key, "key").expect("write");
    assert!(config_text(&settings, DefaultKey::Offered).contains(&line));
    assert!(!config_text(&settings, DefaultKey::Left).contains("IdentityFile"));
    let config_of = |login: Login| {
        let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
        let words = words(&ssh.command(&target("web1", None), "true"));
        std::fs::read_to_string(&words[1]).expect("the -F file")
    };
    assert!(config_of(Login::default()).contains(&line), "no login given: the default key");
    assert!(!config_of(Login { password: Some("pw".into()), ..Login::default() }).contains("IdentityFile"));
    assert!(!config_of(Login { private_key: Some("/k".into()), ..Login::default() }).contains("IdentityFile"));
    settings.key_file = None;
    settings.user = "no-such-user-st2d".to_string();
    assert!(!config_text(&settings, DefaultKey::Offered).contains("IdentityFile"));
}

#[test]
fn a_bastion_is_reached_with_the_same_login() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = SshSettings { host_keys: HostKeyCheck::No, ..settings(home.path()) };
    let bastion = Target { given: "jump:2200".into(), host: "jump".into(), port: Some(2200) };
    let login = Login { username: Some("ops".into()), bastion: Some(bastion), ..Login::default() };
    let ssh = Ssh::open(&settings, login, 60.0).expect("prepared");
    let words = words(&ssh.command(&target("web1", None), "true"));
    let options = options(&words);
    let proxy = options.iter().find_map(|o| o.strip_prefix("ProxyCommand=")).expect("a proxy command");
    assert!(proxy.starts_with("ssh -F "), "{proxy}");
    for part in [
        "-o User=ops",
        "-o Port=2200",
        "-o UserKnownHostsFile=/dev/null",
        "-o ControlPath=none",
        "-W '[%h]:%p' -- jump",
    ] {
        assert!(proxy.contains(part), "{part} missing from {proxy}");
    }
    assert!(options.contains(&"UserKnownHostsFile=/dev/null"), "{options:?}");
}

#[test]
fn sftp_gets_the_same_connection_and_bracketed_addresses() {
    let home = tempfile::tempdir().expect("temp dir");
    let settings = settings(home.path());
    let ssh = Ssh::open(&settings, Login::default(), 60.0).expect("prepared");
    let command = words(&ssh.command(&target("::1", Some(2200)), "true"));
    let sftp = ssh.sftp(&target("::1", Some(2200)), "mkdir \"/x\"\n".into());
    let sftp_words = words(&sftp);
    assert_eq!(sftp.program, PathBuf::from("sftp"));
    assert_eq!(sftp_words[sftp_words.len() - 4..], ["-b", "-", "--", "[::1]"]);
    assert_eq!(options(&command), options(&sftp_words), "the same options, so the same control socket");
    assert_eq!(sftp.stdin.as_deref(), Some(&b"mkdir \"/x\"\n"[..]));
}
