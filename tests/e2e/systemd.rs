//! The systemd unit, with ExecStart at the real binary, passes `systemd-analyze verify` and keeps
//! `systemd-analyze security` exposure at 2.5 or lower.

use std::path::PathBuf;
use std::process::{Command, Output};

use st2d_tests::bins;

/// The highest overall exposure `systemd-analyze security` may give the unit (issue
/// "[control-plane]" item 8).
const MAX_EXPOSURE: f64 = 2.5;

/// `systemd/st2d.service` copied into a temporary directory with ExecStart at the built `st2d`.
struct UnitCopy {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn unit_copy() -> UnitCopy {
    let unit =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../systemd/st2d.service")).expect("unit file");
    assert!(unit.contains("ExecStart=/usr/local/bin/st2d serve"));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("st2d.service");
    let unit = unit.replace("/usr/local/bin/st2d", &bins().st2d.display().to_string());
    std::fs::write(&path, unit).expect("write unit");
    UnitCopy { _dir: dir, path }
}

/// Runs `systemd-analyze ARGS`, failing with how to install it when it is missing.
fn systemd_analyze(args: &[&std::ffi::OsStr]) -> Output {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        analyze.is_ok_and(|o| o.status.success()),
        "systemd-analyze is needed for this test: install it with `apt-get install systemd`"
    );
    Command::new("systemd-analyze").args(args).output().expect("systemd-analyze runs")
}

#[test]
fn the_unit_file_verifies() {
    let unit = unit_copy();
    let output = systemd_analyze(&["verify".as_ref(), unit.path.as_os_str()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze complained: {stderr}");
    let text = std::fs::read_to_string(&unit.path).expect("read");
    for required in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=st2d", "WatchdogSec="] {
        assert!(text.contains(required), "{required}");
    }
}

#[test]
fn the_unit_exposure_is_at_most_2_5() {
    let unit = unit_copy();
    let output = systemd_analyze(&["security".as_ref(), "--offline=true".as_ref(), unit.path.as_os_str()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let full = format!("{stdout}\n{stderr}");
    assert!(output.status.success(), "systemd-analyze security failed:\n{full}");
    let marker = "Overall exposure level for st2d.service:";
    let exposure = stdout
        .lines()
        .find_map(|line| line.split_once(marker))
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|value| value.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no \"{marker} X.Y\" line in:\n{full}"));
    println!("{marker} {exposure}");
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure} is above {MAX_EXPOSURE}:\n{full}");
}
