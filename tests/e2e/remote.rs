//! The remote runners end to end, against real `sshd`s on loopback (`st2d_tests::sshd`): core.remote
//! on several hosts with one entry each, a command failing on one host, a host nobody listens
//! on, connections reused across executions, live output prefixed with the host,
//! core.remote_sudo, a pack's remote-shell-script with its arguments and `lib`, `parallel`
//! hosts at once, a timeout and a cancel that end the remote command and leave no process, an
//! action's own key and passphrase, a host behind a bastion (`bastion_host`, and `ProxyJump` in
//! the operator's ssh configuration), a host whose key is not the one known, and a throwaway
//! user's password for the login and for sudo (right and wrong).

use serde_json::{Value, json};
use st2d_proto::v1 as pb;
use st2d_tests::sshd::{Logins, SshLab, Sshd, ThrowawayUser, current_user, require_sudo};
use st2d_tests::{Client, Daemon, Home, completed_execution, control, pack_yaml, stderr, stdout, until};

/// A daemon whose remote actions log in to the lab's servers.
fn daemon(home: &Home, lab: &SshLab, more: &[&str]) -> Daemon {
    let mut args = lab.daemon_args();
    args.extend(more.iter().map(|arg| arg.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Daemon::start(home, &args)
}

/// `st2 -j run ARGS...`: the completed execution.
fn st2_run(daemon: &Daemon, args: &[&str]) -> Value {
    let mut full = vec!["-j", "run"];
    full.extend_from_slice(args);
    let output = daemon.st2(&full);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
        panic!(
            "st2 run {args:?} printed no JSON ({error}): {}\n{}\nst2d log:\n{}",
            stdout(&output),
            stderr(&output),
            daemon.log()
        )
    })
}

/// Processes whose command line holds `marker`, here (the "remote" hosts are this machine).
fn processes_with(marker: &str) -> String {
    let found = std::process::Command::new("pgrep").arg("-af").arg(marker).output().expect("pgrep runs");
    String::from_utf8_lossy(&found.stdout).into_owned()
}

#[test]
fn core_remote_runs_on_every_host_with_one_entry_each() {
    let lab = SshLab::new();
    let sshd = lab.start_sshd("target", &["127.0.0.1", "127.0.0.2"]);
    let home = Home::new();
    let daemon = daemon(&home, &lab, &[]);
    let (one, two) = (sshd.host(0), sshd.host(1));

    let both = st2_run(
        &daemon,
        &[
            "core.remote",
            &format!("hosts={one},{two}"),
            "cmd=echo '{\"n\": 1}'; echo \"$ST2_ACTION_PACK_NAME in $(pwd)\" >&2",
        ],
    );
    assert_eq!(both["status"], "succeeded", "{both:#}");
    let entry =
        json!({"failed": false, "succeeded": true, "return_code": 0, "stdout": {"n": 1}, "stderr": "core in /tmp"});
    assert_eq!(both["result"], json!({"127.0.0.1": entry, "127.0.0.2": entry}), "one entry per host, JSON decoded");

    let logins = sshd.logins();
    for _ in 0..3 {
        let again = st2_run(&daemon, &["core.remote", &format!("hosts={one}"), "cmd=true"]);
        assert_eq!(again["status"], "succeeded", "{again:#}");
    }
    assert_eq!(sshd.logins(), logins, "the next commands to a host reuse its connection:\n{}", sshd.log());

    let split = st2_run(
        &daemon,
        &[
            "core.remote",
            &format!("hosts={one},{two}"),
            "cmd=case \"$SSH_CONNECTION\" in *\" 127.0.0.2 \"*) echo refused here >&2; exit 3;; esac; echo fine",
        ],
    );
    assert_eq!(split["status"], "failed", "one host failing fails the execution: {split:#}");
    assert_eq!(split["result"]["127.0.0.1"]["stdout"], "fine");
    assert_eq!(split["result"]["127.0.0.1"]["succeeded"], true);
    assert_eq!(
        split["result"]["127.0.0.2"],
        json!({"failed": true, "succeeded": false, "return_code": 3, "stdout": "", "stderr": "refused here"})
    );

    let nobody = format!("127.0.0.9:{}", sshd.port);
    let unreachable = st2_run(&daemon, &["core.remote", &format!("hosts={one},{nobody}"), "cmd=echo here"]);
    assert_eq!(unreachable["status"], "failed", "{unreachable:#}");
    assert_eq!(unreachable["result"]["127.0.0.1"]["stdout"], "here", "the reachable host ran");
    let lost = &unreachable["result"]["127.0.0.9"];
    assert_eq!(lost["return_code"], 255, "{lost}");
    let error = lost["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("Failed connecting to host 127.0.0.9: ") && error.contains("Connection refused"),
        "{error}"
    );

    let queued = st2_run(
        &daemon,
        &["core.remote", &format!("hosts={one},{two}"), "cmd=echo first; sleep 0.2; echo second", "-a"],
    );
    let id = queued["id"].as_str().expect("an execution id");
    let tail = stdout(&daemon.ctl(&["execution", "tail", id]));
    for line in ["127.0.0.1: first", "127.0.0.1: second", "127.0.0.2: first", "127.0.0.2: second"] {
        assert!(tail.lines().any(|l| l == line), "{line} missing from the live output:\n{tail}");
    }

    require_sudo();
    let sudo = st2_run(&daemon, &["core.remote_sudo", &format!("hosts={one}"), "cmd=id -u"]);
    assert_eq!(sudo["status"], "succeeded", "{sudo:#}");
    assert_eq!(sudo["result"]["127.0.0.1"]["stdout"], 0, "the command ran as root");
    let refused = daemon.st2(&["run", "core.remote", &format!("hosts={one}"), "cmd=id", "sudo=true"]);
    assert!(
        stderr(&refused).contains("Override of immutable parameter(s) ['sudo'] is unsupported."),
        "{}",
        stderr(&refused)
    );

    let masters = || processes_with(&format!("{}.*\\[mux\\]", home.path().display()));
    assert!(!masters().is_empty(), "each host's connection is kept while st2d runs");
    daemon.signal(15);
    assert!(daemon.wait_exit().success());
    let left = masters();
    assert!(left.is_empty(), "no ssh connection outlives st2d:\n{left}");
}

#[test]
fn a_packs_remote_script_runs_with_its_arguments_and_lib_then_goes() {
    let lab = SshLab::new();
    let sshd = lab.start_sshd("target", &["127.0.0.1", "127.0.0.2"]);
    let home = Home::new();
    home.write("packs/remotes/pack.yaml", &pack_yaml("remotes", "remote actions"));
    home.write(
        "packs/remotes/actions/greet.yaml",
        "---\nname: greet\nrunner_type: remote-shell-script\nentry_point: greet.sh\nparameters:\n  who: {type: string, position: 0}\n  count: {type: integer, position: 1}\n  loud: {type: boolean, default: true}\n  style: {type: string}\n",
    );
    home.write(
        "packs/remotes/actions/greet.sh",
        "#!/bin/sh\n. \"$(dirname \"$0\")/lib/words.sh\"\nfor a in \"$@\"; do echo \"[$a]\"; done\necho \"$WORD\"\necho \"$GREETING\" >&2\n",
    );
    home.write("packs/remotes/actions/lib/words.sh", "WORD=from-lib\n");
    home.write(
        "packs/remotes/actions/together.yaml",
        "---\nname: together\nrunner_type: remote-shell-cmd\nparameters:\n  parallel: {default: true}\n  meeting: {type: string, required: true}\n  cmd:\n    default: |-\n      ip=$(echo $SSH_CONNECTION | cut -d' ' -f3); touch {{meeting}}/$ip\n      for i in $(seq 300); do [ -e {{meeting}}/127.0.0.1 ] && [ -e {{meeting}}/127.0.0.2 ] && exit 0; sleep 0.1; done; exit 1\n",
    );
    let daemon = daemon(&home, &lab, &[]);
    let uploads = lab.path().join("uploads");
    std::fs::create_dir_all(&uploads).expect("uploads dir");
    let hosts = format!("hosts={},{}", sshd.host(0), sshd.host(1));

    let greet = st2_run(
        &daemon,
        &[
            "remotes.greet",
            &hosts,
            "who=a b",
            "count=2",
            "style=it's",
            "env={\"GREETING\": \"hello\"}",
            &format!("dir={}", uploads.display()),
        ],
    );
    assert_eq!(greet["status"], "succeeded", "{greet:#}");
    for host in ["127.0.0.1", "127.0.0.2"] {
        assert_eq!(
            greet["result"][host]["stdout"], "[--loud]\n[--style=it's]\n[a b]\n[2]\nfrom-lib",
            "named, then positional: {greet:#}"
        );
        assert_eq!(greet["result"][host]["stderr"], "hello");
    }
    let left: Vec<_> = std::fs::read_dir(&uploads).expect("uploads").map(|e| e.expect("entry").file_name()).collect();
    assert!(left.is_empty(), "the uploads are removed: {left:?}");

    let meeting = lab.path().join("meeting");
    std::fs::create_dir_all(&meeting).expect("meeting dir");
    let together = st2_run(&daemon, &["remotes.together", &hosts, &format!("meeting={}", meeting.display())]);
    assert_eq!(together["status"], "succeeded", "each host waits for the other, so they ran at once: {together:#}");
}

async fn run(client: &Client, action: &str, parameters: Value) -> pb::Execution {
    let request =
        pb::RunActionRequest { action: action.into(), parameters_json: parameters.to_string(), ..Default::default() };
    client.clone().run_action(request).await.expect("the execution is created").into_inner()
}

fn result(execution: &pb::Execution) -> Value {
    serde_json::from_str(&execution.result_json).expect("the result is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_and_a_cancel_end_the_remote_command_and_leave_no_process() {
    let lab = SshLab::new();
    let sshd = lab.start_sshd("target", &["127.0.0.1"]);
    let home = Home::new();
    let _daemon = tokio::task::block_in_place(|| daemon(&home, &lab, &[]));
    let client = control(&home.socket()).await;
    let host = sshd.host(0);

    let marker = format!("st2d-e2e-remote-timeout-{}", std::process::id());
    let cmd = format!("sh -c 'sleep 120; true' {marker} & sleep 120");
    let slow = run(&client, "core.remote", json!({"hosts": host, "cmd": cmd, "timeout": 2})).await;
    let slow = completed_execution(&client, &slow.id).await;
    assert_eq!(slow.status, "timeout", "{slow:?}");
    let entry = &result(&slow)["127.0.0.1"];
    assert_eq!(entry["timeout"], true, "{entry}");
    assert_eq!(entry["return_code"], -9);
    assert_eq!(entry["error"], "Action failed to complete in 2 seconds");
    assert_eq!(processes_with(&marker), "", "the remote group and the local ssh are gone");

    let marker = format!("st2d-e2e-remote-cancel-{}", std::process::id());
    let cmd = format!("sh -c 'sleep 120; true' {marker} & echo started; wait");
    let long = run(&client, "core.remote", json!({"hosts": host, "cmd": cmd})).await;
    until("the remote command to run", || {
        let marker = marker.clone();
        async move { processes_with(&marker).contains(&format!("sh -c sleep 120; true {marker}")).then_some(()) }
    })
    .await;
    let canceling = client.clone().cancel_execution(pb::GetRequest { r#ref: long.id.clone() }).await.expect("cancel");
    assert!(["canceling", "canceled"].contains(&canceling.into_inner().status.as_str()));
    let canceled = completed_execution(&client, &long.id).await;
    assert_eq!(canceled.status, "canceled", "{canceled:?}");
    assert_eq!(result(&canceled)["127.0.0.1"]["stdout"], "started");
    assert_eq!(processes_with(&marker), "", "cancel ended the remote group and the local ssh");
}

#[test]
fn logins_bastions_jump_hosts_and_host_keys() {
    let lab = SshLab::new();
    let target: Sshd = lab.start_sshd("target", &["127.0.0.1", "127.0.0.4"]);
    let bastion = lab.start_sshd("bastion", &["127.0.0.3"]);
    lab.write_config(&format!(
        "Host behind\n    HostName 127.0.0.1\n    Port {}\n    ProxyJump {}\n",
        target.port,
        bastion.host(0)
    ));
    lab.pin_wrong_host_key("127.0.0.4", target.port);
    let locked = lab.passphrase_key("locked_key", "open sesame");
    let home = Home::new();
    let daemon = daemon(&home, &lab, &[]);

    let material = std::fs::read_to_string(&locked).expect("the key");
    let own_login = [
        format!("hosts={}", target.host(0)),
        format!("private_key={material}"),
        format!("username={}", current_user()),
        "cmd=echo with its own key".to_string(),
    ];
    let mut args: Vec<&str> = vec!["core.remote", "passphrase=open sesame"];
    args.extend(own_login.iter().map(String::as_str));
    let own = st2_run(&daemon, &args);
    assert_eq!(own["status"], "succeeded", "the key given as material, its passphrase asked through askpass: {own:#}");
    assert_eq!(own["result"]["127.0.0.1"]["stdout"], "with its own key");
    args[1] = "passphrase=not it";
    let wrong = st2_run(&daemon, &args);
    assert_eq!(wrong["status"], "failed", "only the action's key is offered, not the default one: {wrong:#}");
    let error = wrong["result"]["127.0.0.1"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("Permission denied"), "{error}");
    let left: Vec<String> = std::fs::read_dir(home.path().join("data/ssh"))
        .expect("the ssh directory")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("key-"))
        .collect();
    assert!(left.is_empty(), "the written keys are removed: {left:?}");

    let through = st2_run(
        &daemon,
        &[
            "core.remote",
            &format!("hosts={}", target.host(0)),
            &format!("bastion_host={}", bastion.host(0)),
            "cmd=echo through",
        ],
    );
    assert_eq!(through["status"], "succeeded", "{through:#}");
    assert_eq!(through["result"]["127.0.0.1"]["stdout"], "through");
    assert_eq!(bastion.logins(), 1, "the connection went through the bastion:\n{}", bastion.log());

    let jumped = st2_run(&daemon, &["core.remote", "hosts=behind", "cmd=echo jumped"]);
    assert_eq!(jumped["status"], "succeeded", "the operator's Host alias, Port and ProxyJump apply: {jumped:#}");
    assert_eq!(jumped["result"]["behind"]["stdout"], "jumped");
    assert_eq!(bastion.logins(), 2, "ProxyJump went through the bastion:\n{}", bastion.log());

    let impostor = st2_run(&daemon, &["core.remote", &format!("hosts={}", target.host(1)), "cmd=echo never"]);
    assert_eq!(impostor["status"], "failed", "{impostor:#}");
    let error = impostor["result"]["127.0.0.4"]["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("Failed connecting to host 127.0.0.4: ") && error.contains("Host key verification failed"),
        "a host whose key changed is refused: {error}"
    );
    assert!(impostor["result"]["127.0.0.4"]["stdout"] == "", "nothing ran");
}

#[test]
fn a_password_logs_in_and_a_sudo_password_is_fed_to_sudo() {
    let random = st2d_core::random::unique_name();
    // A space and a `$` on the way through askpass, chpasswd and sudo's stdin.
    let user = ThrowawayUser::create(&format!("st2d{random}"), &format!("pw {} $HOME", st2d_core::random::token()));
    let lab = SshLab::new();
    let sshd = lab.start_sshd_with("passwords", &["127.0.0.1"], Logins::Password);
    let home = Home::new();
    let daemon = daemon(&home, &lab, &[]);
    let login = [format!("hosts={}", sshd.host(0)), format!("username={}", user.name)];
    let run_as_user = |action: &str, password: &str, more: &[&str]| {
        let password = format!("password={password}");
        let mut args = vec![action, password.as_str()];
        args.extend(login.iter().map(String::as_str));
        args.extend_from_slice(more);
        st2_run(&daemon, &args)
    };

    let who = run_as_user("core.remote", &user.password, &["cmd=whoami"]);
    assert_eq!(who["status"], "succeeded", "the password answers ssh's prompt through askpass: {who:#}");
    assert_eq!(who["result"]["127.0.0.1"]["stdout"], user.name.as_str(), "{who:#}");
    assert_eq!(sshd.password_logins(&user.name), 1, "logged in with the password:\n{}", sshd.log());

    let refused = run_as_user("core.remote", "not the password", &["cmd=whoami"]);
    assert_eq!(refused["status"], "failed", "{refused:#}");
    let entry = &refused["result"]["127.0.0.1"];
    assert_eq!(entry["return_code"], 255, "{entry}");
    assert_eq!(entry["succeeded"], false, "{entry}");
    assert_eq!(entry["stdout"], "", "nothing ran: {entry}");
    let error = entry["error"].as_str().unwrap_or_default();
    assert_eq!(
        error,
        format!("Failed connecting to host 127.0.0.1: {}@127.0.0.1: Permission denied (password).", user.name),
        "a wrong password names the host: {entry}"
    );
    assert_eq!(sshd.password_logins(&user.name), 1, "no login with the wrong password:\n{}", sshd.log());

    let right_sudo = format!("sudo_password={}", user.password);
    let root = run_as_user("core.remote_sudo", &user.password, &[&right_sudo, "cmd=id -u"]);
    assert_eq!(root["status"], "succeeded", "sudo took the password on its stdin: {root:#}");
    assert_eq!(root["result"]["127.0.0.1"]["stdout"], 0, "the command ran as root: {root:#}");

    let wrong = run_as_user("core.remote_sudo", &user.password, &["sudo_password=not the password", "cmd=id -u"]);
    assert_eq!(wrong["status"], "failed", "{wrong:#}");
    let entry = &wrong["result"]["127.0.0.1"];
    assert_eq!(entry["return_code"], 255, "{entry}");
    assert_eq!(
        entry["error"],
        format!(
            "Failed executing command \"id -u\" on host \"127.0.0.1\" Invalid sudo password provided or sudo is not \
             configured for this user ({})",
            user.name
        ),
        "{wrong:#}\nst2d log:\n{}",
        daemon.log()
    );

    // The kept connections end with st2d, so that nothing of the user is left when it goes.
    daemon.signal(15);
    assert!(daemon.wait_exit().success());
}
