//! `st2d check`: a report per pack, naming each skipped file and why; non-zero on failure.

use st2d_tests::{Home, write_sample_pack};

fn check(home: &Home) -> (bool, String) {
    let output = st2d_tests::st2d_command().arg("--home").arg(home.path()).arg("check").output().expect("st2d runs");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn check_reports_each_pack_and_each_skipped_file() {
    let home = Home::new();
    write_sample_pack(&home.packs(), "demo", "demo");
    let (ok, report) = check(&home);
    assert!(ok, "{report}");
    assert!(report.contains("demo (") && report.contains("1 actions, 1 sensors, 1 trigger types, 1 rules"), "{report}");

    home.write("packs/demo/actions/broken.yaml", "name: broken\nrunner_type: no-such-runner\n");
    home.write("packs/bad/pack.yaml", "name: bad\nversion: 1.0.0\n");
    let (ok, report) = check(&home);
    assert!(!ok, "a failed file makes check fail:\n{report}");
    assert!(report.contains("actions/broken.yaml:2: runner \"no-such-runner\" does not exist"), "{report}");
    assert!(report.contains("bad (") && report.contains("FAILED"), "{report}");
    assert!(report.contains("pack.yaml: required field \"description\" is missing"), "{report}");
}
