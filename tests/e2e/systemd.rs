//! The systemd unit passes `systemd-analyze verify` with ExecStart at the real binary.

use st2d_tests::bins;

#[test]
fn the_unit_file_verifies() {
    let analyze = std::process::Command::new("systemd-analyze").arg("--version").output();
    assert!(
        analyze.is_ok_and(|o| o.status.success()),
        "systemd-analyze is needed for this test: install it with `apt-get install systemd`"
    );
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../systemd/st2d.service")).expect("unit file");
    assert!(unit.contains("ExecStart=/usr/local/bin/st2d serve"));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("st2d.service");
    let unit = unit.replace("/usr/local/bin/st2d", &bins().st2d.display().to_string());
    std::fs::write(&path, unit).expect("write unit");
    let output = std::process::Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze complained: {stderr}");
    for required in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=st2d", "WatchdogSec="] {
        assert!(path.exists() && std::fs::read_to_string(&path).expect("read").contains(required), "{required}");
    }
}
