//! Tests of the pack loader against fixture packs written by the tests themselves.

use super::*;
use std::fs;

struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self { root: tempfile::tempdir().expect("temp dir") }
    }

    fn write(&self, path: &str, text: &str) -> &Self {
        let path = self.root.path().join(path);
        fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        fs::write(path, text).expect("write");
        self
    }

    fn configs(&self) -> PathBuf {
        self.root.path().join("configs")
    }

    fn load(&self, pack: &str, previous: Option<&Arc<PackContent>>) -> PackLoad {
        load_pack(&self.root.path().join("packs").join(pack), &self.configs(), false, previous)
    }

    fn loaded(&self, pack: &str, previous: Option<&Arc<PackContent>>) -> Arc<PackContent> {
        match self.load(pack, previous) {
            PackLoad::Loaded(content) => content,
            PackLoad::Failed { error, .. } => panic!("pack {pack} failed: {error}"),
        }
    }
}

const PACK_YAML: &str = "name: demo\ndescription: demo pack\nversion: 1.0.0\nauthor: tests\n";

/// Every YAML feature real packs use, each in its own file.
fn yaml_features_pack() -> Fixture {
    let fx = Fixture::new();
    fx.write("packs/feat/pack.yaml", "---\n  ref: feat\n  name: Features ✓\n  description: >\n    folded\n    text\n  version: 0.1\n  author: Zoë\n  homepage: https://example.com\n")
        .write("packs/feat/actions/anchors.yaml", "name: anchors\nrunner_type: local-shell-cmd\nparameters:\n  base: &str_param\n    type: string\n    description: shared\n  other:\n    <<: *str_param\n    description: overridden\n  third: *str_param\n")
        .write("packs/feat/actions/dupes.yaml", "name: first\nrunner_type: noop\nname: dupes\ndescription: |\n  line one\n  line two\n")
        .write("packs/feat/actions/crlf.yml", "name: crlf\r\nrunner_type: local-shell-cmd\r\ndescription: \"Ünïcødé — ok\"\r\nparameters:\r\n  cmd:\r\n    default: echo hi\r\n")
        .write("packs/feat/actions/legacy.yaml", "name: legacy\nrunner_type: run-python\nentry_point: legacy.py\n")
        .write("packs/feat/actions/config.yaml", "not: an action\n")
        .write("packs/feat/actions/nested/deep.yaml", "name: deep\nrunner_type: noop\n")
        .write("packs/feat/actions/readme.txt", "ignored\n")
        .write("packs/feat/triggers/event.yaml", "name: event\npack: feat\ndescription: standalone trigger type\n")
        .write("packs/feat/sensors/watch.yaml", "class_name: Watch\nentry_point: watch.py\ntrigger_types:\n  - name: changed\n    payload_schema: {type: object}\n")
        .write("packs/feat/rules/on_event.yaml", "name: on_event\ntrigger:\n  type: feat.event\naction:\n  ref: anchors\n")
        .write("packs/feat/config.schema.yaml", "api_url:\n  type: string\n  default: http://localhost\nretries:\n  type: integer\n  required: true\n")
        .write("packs/feat/config.yaml", "retries: 3\n");
    fx
}

#[test]
fn loads_every_yaml_feature_real_packs_use() {
    let fx = yaml_features_pack();
    let pack = fx.loaded("feat", None);
    assert!(pack.errors.is_empty(), "{:?}", pack.errors);
    assert_eq!(pack.meta.ref_, "feat");
    assert_eq!(pack.meta.name, "Features ✓");
    assert_eq!(pack.meta.description, "folded text\n");
    assert_eq!(pack.meta.version, "0.1");
    assert_eq!(pack.meta.author, "Zoë");
    let names: Vec<&str> = pack.actions.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["anchors", "crlf", "dupes", "legacy"], "sorted by file; config.yaml and nested files skipped");
    let anchors = pack.actions[0].parameters.parse();
    assert_eq!(anchors["other"]["type"], "string", "merge key");
    assert_eq!(anchors["other"]["description"], "overridden", "explicit key wins over merge");
    assert_eq!(anchors["third"]["description"], "shared", "alias");
    assert_eq!(pack.actions[1].description, "Ünïcødé — ok");
    assert_eq!(pack.actions[1].parameters.parse()["cmd"]["default"], "echo hi");
    assert_eq!(pack.actions[2].ref_, "feat.dupes", "the last duplicate key wins");
    assert_eq!(pack.actions[2].description, "line one\nline two\n");
    assert_eq!(pack.actions[3].runner_type, "python-script");
    let types: Vec<&str> = pack.trigger_types.iter().map(|t| t.ref_.as_str()).collect();
    assert_eq!(types, ["feat.event", "feat.changed"]);
    assert_eq!(pack.sensors[0].trigger_types, ["feat.changed"]);
    assert_eq!(pack.rules.len(), 1);
    assert!(!pack.rules[0].enabled);
    assert_eq!(pack.config.values["retries"], 3, "legacy in-pack config.yaml");
    assert_eq!(pack.config.values["api_url"], "http://localhost", "schema default");
    let warnings = pack.warnings.join("\n");
    for expected in ["version 0.1", "homepage", "run-python", "legacy config"] {
        assert!(warnings.contains(expected), "no warning about {expected}: {warnings}");
    }
}

#[test]
fn the_config_dir_wins_over_a_legacy_config() {
    let fx = yaml_features_pack();
    fx.write("configs/feat.yaml", "retries: 7\n");
    let pack = fx.loaded("feat", None);
    assert_eq!(pack.config.values["retries"], 7);
    assert_eq!(pack.config.source.as_deref(), Some(fx.configs().join("feat.yaml").as_path()));
}

#[test]
fn a_broken_file_is_skipped_with_its_file_and_line() {
    let fx = Fixture::new();
    fx.write("packs/demo/pack.yaml", PACK_YAML)
        .write("packs/demo/actions/good.yaml", "name: good\nrunner_type: noop\n")
        .write("packs/demo/actions/syntax.yaml", "name: syntax\nrunner_type: noop\n  bad: indent\n")
        .write("packs/demo/actions/types.yaml", "name: types\nrunner_type: noop\nparameters:\n  count:\n    type: int\n")
        .write("packs/demo/rules/bad.yaml", "name: bad\ntrigger: {type: x}\naction:\n  ref: demo.good\ncriteria:\n  trigger.x:\n    type: likes\n    pattern: 1\n");
    let pack = fx.loaded("demo", None);
    assert_eq!(pack.actions.len(), 1);
    assert_eq!(pack.status(), "degraded");
    let errors: Vec<String> = pack.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors[0].starts_with("actions/syntax.yaml:3: invalid YAML"), "{errors:?}");
    assert!(errors[1].starts_with("actions/types.yaml:5: parameter \"count\" has type"), "{errors:?}");
    assert!(errors[2].starts_with("rules/bad.yaml:7: criteria operator \"likes\""), "{errors:?}");
}

#[test]
fn a_file_that_breaks_keeps_its_last_good_version() {
    let fx = Fixture::new();
    fx.write("packs/demo/pack.yaml", PACK_YAML)
        .write("packs/demo/actions/a.yaml", "name: a\nrunner_type: noop\ndescription: v1\n");
    let v1 = fx.loaded("demo", None);
    fx.write("packs/demo/actions/a.yaml", "name: a\nrunner_type: [noop\n");
    let v2 = fx.loaded("demo", Some(&v1));
    assert_eq!(v2.actions.len(), 1);
    assert_eq!(v2.actions[0].description, "v1");
    assert!(v2.errors[0].kept_last_good);
    fx.write("packs/demo/actions/a.yaml", "name: a\nrunner_type: noop\ndescription: v3\n");
    let v3 = fx.loaded("demo", Some(&v2));
    assert!(v3.errors.is_empty(), "fixing the file clears the error");
    assert_eq!(v3.actions[0].description, "v3");
    fs::remove_file(fx.root.path().join("packs/demo/actions/a.yaml")).expect("rm");
    assert!(fx.loaded("demo", Some(&v3)).actions.is_empty(), "a deleted file removes its action");
}

/// An Orquesta definition that reads but fails inspection registers with its problems as
/// warnings (as StackStorm registers it), unless a last good version of the file can stand
/// in; one that is not YAML is an error as any file.
#[test]
fn a_workflow_that_fails_inspection_registers_unless_a_last_good_version_stands_in() {
    let fx = Fixture::new();
    let good = "version: 1.0\ntasks:\n  one:\n    action: core.echo message=hi\n";
    let failing = "version: 1.0\ntasks:\n  one:\n    action: core.echo message=<% ctx().nobody %>\n";
    fx.write("packs/demo/pack.yaml", PACK_YAML)
        .write("packs/demo/actions/flow.yaml", "name: flow\nrunner_type: orquesta\nentry_point: workflows/flow.yaml\n")
        .write("packs/demo/actions/workflows/flow.yaml", failing);
    let fresh = fx.loaded("demo", None);
    assert_eq!(fresh.actions.len(), 1, "{:?}", fresh.errors);
    assert!(fresh.errors.is_empty(), "{:?}", fresh.errors);
    assert_eq!(
        fresh.warnings,
        [
            "actions/workflows/flow.yaml:4: tasks.one.input: context error in \"<% ctx().nobody %>\": Variable \"nobody\" \
          is referenced before assignment."
        ]
    );
    assert!(!validate::definition_runs(&fresh.actions[0]));

    fx.write("packs/demo/actions/workflows/flow.yaml", good);
    let v1 = fx.loaded("demo", Some(&fresh));
    assert!(v1.warnings.is_empty() && v1.errors.is_empty(), "{:?} {:?}", v1.warnings, v1.errors);
    fx.write("packs/demo/actions/workflows/flow.yaml", failing);
    let v2 = fx.loaded("demo", Some(&v1));
    assert_eq!(v2.actions[0].workflow, v1.actions[0].workflow, "the last good definition stays");
    assert!(v2.errors[0].kept_last_good);
    assert!(v2.errors[0].message.contains("tasks.one.input: context error"), "{}", v2.errors[0]);
    assert!(v2.warnings.is_empty(), "{:?}", v2.warnings);

    fx.write("packs/demo/actions/workflows/flow.yaml", "version: [1.0\n");
    let v3 = fx.loaded("demo", None);
    assert!(v3.actions.is_empty());
    assert!(
        v3.errors[0].message.contains("actions/workflows/flow.yaml:2: the workflow is not valid YAML"),
        "{}",
        v3.errors[0]
    );
}

#[test]
fn a_broken_pack_yaml_keeps_the_previous_pack() {
    let fx = Fixture::new();
    fx.write("packs/demo/pack.yaml", PACK_YAML).write("packs/demo/actions/a.yaml", "name: a\nrunner_type: noop\n");
    let v1 = fx.loaded("demo", None);
    fx.write("packs/demo/pack.yaml", "name: demo\n");
    match fx.load("demo", Some(&v1)) {
        PackLoad::Failed { ref_, error, previous, .. } => {
            assert_eq!(ref_, "demo");
            assert_eq!(error.file, "pack.yaml");
            assert!(error.message.contains("description"), "{error}");
            assert!(error.kept_last_good);
            assert!(previous.is_some_and(|p| p.actions.len() == 1));
        }
        PackLoad::Loaded(_) => panic!("pack.yaml lacks required fields"),
    }
    match fx.load("demo", None) {
        PackLoad::Failed { previous, error, .. } => assert!(previous.is_none() && !error.kept_last_good),
        PackLoad::Loaded(_) => panic!("still broken"),
    }
}

#[test]
fn duplicate_refs_in_a_pack_keep_the_first() {
    let fx = Fixture::new();
    fx.write("packs/demo/pack.yaml", PACK_YAML)
        .write("packs/demo/actions/a.yaml", "name: same\nrunner_type: noop\n")
        .write("packs/demo/actions/b.yaml", "name: same\nrunner_type: noop\n");
    let pack = fx.loaded("demo", None);
    assert_eq!(pack.actions.len(), 1);
    assert_eq!(pack.actions[0].metadata_file, "actions/a.yaml");
    assert!(pack.errors.is_empty(), "{:?}", pack.errors);
    assert_eq!(
        pack.warnings,
        ["actions/b.yaml: action demo.same is already defined in actions/a.yaml; this definition is ignored"]
    );
}

/// Which problems are warnings (StackStorm registers the pack anyway, so an install goes
/// ahead) and which are errors (StackStorm's registration fails, so an install is refused):
/// each case is one extra file on a good pack, and the text expected in that list.
#[test]
fn problems_stackstorm_tolerates_are_warnings_and_the_rest_errors() {
    enum Is {
        Warning(&'static str),
        Error(&'static str, &'static str),
    }
    /// (what, files written as they are, the verdict)
    type Case = (&'static str, &'static [(&'static str, &'static str)], Is);
    let cases: &[Case] = &[
        (
            "two sensor files declare one trigger type",
            &[
                ("sensors/a.yaml", "class_name: A\nentry_point: s.py\ntrigger_types:\n  - name: event\n"),
                ("sensors/b.yaml", "class_name: B\nentry_point: s.py\ntrigger_types:\n  - name: event\n"),
            ],
            Is::Warning("sensors/b.yaml: trigger type demo.event is already defined in sensors/a.yaml"),
        ),
        (
            "a trigger file and a sensor declare one trigger type",
            &[
                ("triggers/event.yaml", "name: event\n"),
                ("sensors/a.yaml", "class_name: A\nentry_point: s.py\ntrigger_types:\n  - name: event\n"),
            ],
            Is::Warning("sensors/a.yaml: trigger type demo.event is already defined in triggers/event.yaml"),
        ),
        (
            "two rule files with one name",
            &[
                ("rules/a.yaml", "name: r\ntrigger: {type: core.st2.webhook}\naction: {ref: core.noop}\n"),
                ("rules/b.yaml", "name: r\ntrigger: {type: core.st2.webhook}\naction: {ref: core.noop}\n"),
            ],
            Is::Warning("rules/b.yaml: rule demo.r is already defined in rules/a.yaml"),
        ),
        (
            "an action alias whose format is not a string nor a map",
            &[("aliases/greet.yaml", "name: greet\naction_ref: demo.hi\nformats: [3]\n")],
            Is::Error("aliases/greet.yaml", "formats[0]"),
        ),
        (
            "a policy of a type st2d does not enforce",
            &[("policies/notify.yaml", "name: notify\nresource_ref: demo.hi\npolicy_type: action.notify\n")],
            Is::Warning("policies/notify.yaml: policies are listed but not enforced"),
        ),
        (
            "an unknown pack.yaml key",
            &[("pack.yaml", "name: demo\ndescription: d\nversion: 1.0.0\nauthor: t\nhomepage: https://x\n")],
            Is::Warning("pack.yaml: unknown fields ignored: homepage"),
        ),
        (
            "a legacy runner name",
            &[("actions/old.yaml", "name: old\nrunner_type: run-local\n")],
            Is::Warning("actions/old.yaml: runner \"run-local\" is a legacy name"),
        ),
        ("broken YAML", &[("actions/bad.yaml", "name: [bad\n")], Is::Error("actions/bad.yaml", "invalid YAML")),
        (
            "an unknown runner",
            &[("actions/bad.yaml", "name: bad\nrunner_type: teleport\n")],
            Is::Error("actions/bad.yaml", "teleport"),
        ),
        (
            "an unknown action key (StackStorm's action schema refuses extra keys)",
            &[("actions/bad.yaml", "name: bad\nrunner_type: noop\ncolour: red\n")],
            Is::Error("actions/bad.yaml", "colour"),
        ),
        (
            "a file naming another pack",
            &[("actions/bad.yaml", "name: bad\npack: other\nrunner_type: noop\n")],
            Is::Error("actions/bad.yaml", "field pack is \"other\""),
        ),
        (
            "an alias without an action",
            &[("aliases/bad.yaml", "name: bad\n")],
            Is::Error("aliases/bad.yaml", "action_ref"),
        ),
        (
            "a config that breaks its schema",
            &[("config.schema.yaml", "retries: {type: integer}\n"), ("config.yaml", "retries: many\n")],
            Is::Error("config.yaml", "retries"),
        ),
    ];
    for (what, files, expected) in cases {
        let fx = Fixture::new();
        fx.write("packs/demo/pack.yaml", PACK_YAML)
            .write("packs/demo/actions/hi.yaml", "name: hi\nrunner_type: noop\n");
        for (file, text) in *files {
            fx.write(&format!("packs/demo/{file}"), text);
        }
        let pack = fx.loaded("demo", None);
        let errors: Vec<String> = pack.errors.iter().map(ToString::to_string).collect();
        match expected {
            Is::Warning(text) => {
                assert!(errors.is_empty(), "{what}: no errors expected, got {errors:?}");
                assert!(
                    pack.warnings.iter().any(|w| w.starts_with(text)),
                    "{what}: {text:?} not in {:?}",
                    pack.warnings
                );
                assert_eq!(pack.status(), "ok", "{what}");
            }
            Is::Error(file, text) => {
                assert!(
                    pack.errors.iter().any(|e| e.file == *file && e.message.contains(text)),
                    "{what}: no error on {file} about {text:?}: {errors:?}"
                );
                assert_eq!(pack.status(), "degraded", "{what}");
            }
        }
    }
}

#[test]
fn a_bad_config_is_reported_on_the_config_file() {
    let fx = yaml_features_pack();
    fx.write("configs/feat.yaml", "retries: many\n");
    let pack = fx.loaded("feat", None);
    let error = &pack.errors[0];
    assert!(error.file.ends_with("configs/feat.yaml"), "{error}");
    assert_eq!(error.line, Some(1));
    assert!(error.message.contains("retries"), "{error}");
}

#[test]
fn many_files_load_in_parallel_in_order() {
    let fx = Fixture::new();
    fx.write("packs/big/pack.yaml", PACK_YAML);
    for i in 0..200 {
        fx.write(&format!("packs/big/actions/a{i:03}.yaml"), &format!("name: a{i:03}\nrunner_type: noop\n"));
    }
    let pack = fx.loaded("big", None);
    assert_eq!(pack.actions.len(), 200);
    assert!(pack.actions.windows(2).all(|w| w[0].name < w[1].name));
}

/// Nine levels of nine aliases each: 387,420,489 strings if expanded.
fn billion_laughs(first_key: &str) -> String {
    let mut text =
        format!("{first_key}\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let mut previous = 'a';
    for level in ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] {
        let aliases = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{level}: &{level} [{aliases}]\n"));
        previous = level;
    }
    text
}

#[test]
fn a_billion_laughs_action_file_is_refused_naming_the_file() {
    let fx = Fixture::new();
    fx.write("packs/lol/pack.yaml", PACK_YAML)
        .write("packs/lol/actions/ok.yaml", "name: ok\nrunner_type: noop\n")
        .write("packs/lol/actions/lol.yaml", &billion_laughs("name: lol\nrunner_type: noop"));
    let pack = fx.loaded("lol", None);
    assert_eq!(pack.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["ok"]);
    let [error] = pack.errors.as_slice() else { panic!("one error: {:?}", pack.errors) };
    assert_eq!(error.file, "actions/lol.yaml");
    assert!(error.message.contains("repetition limit"), "{error}");
}

#[test]
fn a_billion_laughs_config_file_is_refused_naming_the_file() {
    let fx = Fixture::new();
    fx.write("packs/lol/pack.yaml", PACK_YAML)
        .write("packs/lol/config.schema.yaml", "a:\n  type: array\n")
        .write("configs/lol.yaml", &billion_laughs("x: 1"));
    let pack = fx.loaded("lol", None);
    let [error] = pack.errors.as_slice() else { panic!("one error: {:?}", pack.errors) };
    assert!(error.file.ends_with("configs/lol.yaml"), "{error}");
    assert!(error.message.contains("repetition limit"), "{error}");
    assert!(pack.config.values.is_empty(), "{:?}", pack.config.values);
}
