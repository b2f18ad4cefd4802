//! Templates rendered as StackStorm renders them: Python printing, strict undefined, typed
//! parameter and pattern rendering, the filters, and st2kv lookups.

use std::collections::HashMap;

use serde_json::json;

use super::*;

struct Keys(HashMap<String, KvValue>);

impl KeyValueSource for Keys {
    fn get(&self, scope: &KvScope, name: &str) -> Result<Option<KvValue>, KvError> {
        let key = match scope {
            KvScope::System => name.to_string(),
            KvScope::User(user) => format!("{user}:{name}"),
        };
        Ok(self.0.get(&key).cloned())
    }

    fn decrypt(&self, stored: &str) -> Result<String, KvError> {
        stored.strip_prefix("enc:").map(str::to_string).ok_or_else(|| KvError::Decrypt("not encrypted".to_string()))
    }
}

fn context() -> Context {
    let keys = Keys(
        [
            ("host", KvValue { value: "db1".into(), secret: false }),
            ("a.b.c", KvValue { value: "dotted".into(), secret: false }),
            ("token", KvValue { value: "enc:s3cret".into(), secret: true }),
            ("stanley:mine", KvValue { value: "user value".into(), secret: false }),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    );
    Context::new(Arc::new(keys), "stanley")
        .with("trigger", json!({"n": 5, "name": "web-1", "tags": ["a", "b"], "ok": true, "none": null, "f": 1.5}))
        .with("message", json!("hello"))
}

#[test]
fn strings_render_as_stackstorm_prints_them() {
    let cases = [
        ("plain", "plain"),
        ("{{ message }} world", "hello world"),
        ("{{ trigger.n + 1 }}", "6"),
        ("{{ trigger.ok }}", "True"),
        ("{{ trigger.none }}", "None"),
        ("{{ trigger.f }}", "1.5"),
        ("{{ trigger.tags }}", "['a', 'b']"),
        ("{{ trigger }}", "{'n': 5, 'name': 'web-1', 'tags': ['a', 'b'], 'ok': True, 'none': None, 'f': 1.5}"),
        ("{% for t in trigger.tags %}\n  {{ t }}\n{% endfor %}\n", "  a\n  b\n"),
        ("{{ st2kv.system.host }}", "db1"),
        ("{{ st2kv.system.a.b.c }}", "dotted"),
        ("[{{ st2kv.system.missing }}]", "[]"),
        ("{{ st2kv.user.mine }}", "user value"),
        ("{{ st2kv.system.token }}", "enc:s3cret"),
        ("{{ st2kv.system.token | decrypt_kv }}", "s3cret"),
    ];
    for (source, expected) in cases {
        assert_eq!(render(source, &context()).as_deref(), Ok(expected), "{source}");
    }
}

#[test]
fn undefined_names_fail() {
    let error = render("{{ nope }}", &context()).expect_err("strict undefined");
    assert!(error.0.contains("undefined"), "{error}");
    assert!(render("{{ trigger.missing.deeper }}", &context()).is_err());
}

#[test]
fn parameter_values_keep_their_types() {
    let cases = [
        (json!("{{ trigger.n }}"), json!("5")),
        (json!(7), json!(7)),
        (
            json!({"count": "{{ trigger.n }}", "name": "{{ trigger.name }}", "fixed": 1}),
            json!({"count": 5, "name": "web-1", "fixed": 1}),
        ),
        (json!(["{{ trigger.tags }}", "x-{{ message }}"]), json!([["a", "b"], "x-hello"])),
    ];
    for (value, expected) in cases {
        assert_eq!(render_value(&value, &context()), Ok(expected), "{value}");
    }
}

#[test]
fn patterns_decode_as_json_or_stay_text() {
    let cases = [
        (json!("{{ trigger.n }}"), json!(5)),
        (json!("{{ trigger.tags }}"), json!(["a", "b"])),
        (json!("{{ trigger.name }}"), json!("web-1")),
        (json!("prefix-{{ trigger.n }}"), json!("prefix-5")),
        (json!("no template"), json!("no template")),
        (json!(3), json!(3)),
    ];
    for (pattern, expected) in cases {
        assert_eq!(render_pattern(&pattern, &context()), Ok(expected), "{pattern}");
    }
}

#[test]
fn filters_behave_as_stackstorms() {
    let cases = [
        // StackStorm's to_json_string separates items by "," alone (expressions/functions/data.py).
        ("{{ trigger.tags | to_json_string }}", r#"["a","b"]"#),
        ("{{ {'b': 1, 'a': 2} | to_json_string(sort_keys=True) }}", r#"{"a": 2,"b": 1}"#),
        ("{{ '{\"k\": [1]}' | from_json_string | to_complex }}", r#"{"k": [1]}"#),
        ("{{ 'k: v' | from_yaml_string }}", "{'k': 'v'}"),
        ("{{ {'k': 'v'} | to_yaml_string }}", "k: v\n"),
        // st2common/tests/unit/test_jinja_render_json_escape_filters.py; a quote at either end
        // loses its escape too, as Python's strip('"') takes it (expressions/functions/data.py).
        ("{{ 'foo \"\"\" bar' | json_escape }}", r#"foo \"\"\" bar"#),
        ("{{ 'say \"hi\"' | json_escape }}", r#"say \"hi\"#),
        ("{{ trigger.name | to_complex }}", "\"web-1\""),
        ("{{ 'abc123' | regex_match('[a-z]+') }}", "True"),
        ("{{ 'x abc' | regex_match('abc') }}", "False"),
        ("{{ 'x abc' | regex_search('abc') }}", "True"),
        ("{{ 'ABC' | regex_search('abc', ignorecase=True) }}", "True"),
        ("{{ 'v1.2' | regex_replace('v(\\\\d)', 'version \\\\1') }}", "version 1.2"),
        ("{{ 'id=42 id=43' | regex_substring('id=(\\\\d+)', 1) }}", "43"),
        ("{{ 3661 | to_human_time_from_seconds }}", "1h1m1s"),
        ("{{ 0 | to_human_time_from_seconds }}", "0s"),
        ("{{ '1.2.3' | version_compare('1.3.0') }}", "-1"),
        ("{{ '1.2.3' | version_more_than('1.2.3-rc1') }}", "True"),
        ("{{ '1.2.3' | version_match('>=1.0.0') }}", "True"),
        ("{{ '1.2.3' | version_bump_major }}", "2.0.0"),
        ("{{ '1.2.3' | version_bump_minor }}", "1.3.0"),
        ("{{ '1.2.3' | version_bump_patch }}", "1.2.4"),
        ("{{ '1.2.3' | version_strip_patch }}", "1.2"),
        ("{{ trigger.none | use_none }}", NONE_MAGIC),
        ("{{ message | use_none }}", "hello"),
        ("{{ '/a/b/c.txt' | basename }}", "c.txt"),
        ("{{ '/a/b/c.txt' | dirname }}", "/a/b"),
    ];
    for (source, expected) in cases {
        assert_eq!(render(source, &context()).as_deref(), Ok(expected), "{source}");
    }
    // A filter fails with the exception StackStorm's function raises.
    let error = render("{{ 'x' | version_bump_major }}", &context()).expect_err("not a version");
    assert!(error.0.ends_with(": ValueError: x is not valid SemVer string"), "{error}");
    let error = render("{{ 'x' | regex_match }}", &context()).expect_err("a wrong call");
    assert!(error.0.ends_with("TypeError: regex_match() missing 1 required positional argument: 'pattern'"), "{error}");
    // st2common/tests/unit/test_jinja_render_jsonpath_query_filters.py
    let people = context().with("obj", json!({"people": [{"first": "James"}, {"first": "Jacob"}, {"missing": 1}]}));
    assert_eq!(render("{{ obj | jsonpath_query('people[*].first') }}", &people).as_deref(), Ok("['James', 'Jacob']"));
    assert_eq!(render("{{ obj | jsonpath_query('nothing') }}", &people).as_deref(), Ok("None"));
}

#[test]
fn variables_are_the_top_level_names() {
    let names = variables("{{ cmd }} {{ trigger.x }} {% for i in items %}{{ i }}{% endfor %}").expect("parses");
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    assert_eq!(names, ["cmd", "items", "trigger"]);
    assert!(is_template(&json!({"a": ["{{ x }}"]})));
    assert!(!is_template(&json!({"a": 1})));
}

#[test]
fn workflow_values_keep_the_type_of_a_single_expression() {
    let context = context().with("n", json!(3)).with("doc", json!({"tags": ["a", "b"]}));
    let cases = [
        (json!("{{ n }}"), json!(3)),
        (json!(" {{ n + 1 }} "), json!(4)),
        (json!("{{ doc }}"), json!({"tags": ["a", "b"]})),
        (json!("{{ doc.tags | join(',') }}"), json!("a,b")),
        (json!("n is {{ n }}"), json!("n is 3")),
        (json!({"list": ["{{ n }}", "x{{ n }}"], "plain": true}), json!({"list": [3, "x3"], "plain": true})),
        (json!("{{ st2kv.system.host }}"), json!("db1")),
        (json!(7), json!(7)),
    ];
    for (value, expected) in cases {
        assert_eq!(render_typed(&value, &context).expect("renders"), expected, "{value}");
    }
    let error = render_typed(&json!("{{ missing }}"), &context).expect_err("undefined");
    assert!(error.0.contains("undefined"), "{error}");
    let legacy = context.with_legacy_system();
    assert_eq!(render_typed(&json!("{{ system.host }}"), &legacy).expect("renders"), json!("db1"));
}

#[test]
fn a_runaway_template_fails_its_render_naming_the_limit() {
    let ctx = Context::new(Arc::new(NoKeyValues), SYSTEM_USER).with("n", json!(100_000));
    let budget = budget_exceeded();
    let runaway = [
        // Time: ten billion loop iterations.
        "{% for i in range(n) %}{% for j in range(n) %}{{ j }}{% endfor %}{% endfor %}",
        // Memory: strings doubled until they are gigabytes.
        "{% set s = 'x' * 90000000 %}{{ (s ~ s ~ s ~ s) | length }}",
        // A gigabyte string at once.
        "{{ 'a' * 1000000000 }}",
        // Output: a hundred thousand copies of a large string.
        "{% for i in range(n) %}{{ 'y' * 10000 }}{% endfor %}",
    ];
    for source in runaway {
        assert_eq!(render(source, &ctx), Err(TemplateError(budget.clone())), "{source}");
    }
    let typed = render_typed(&json!("{{ ('z' * 90000000) ~ ('z' * 90000000) ~ ('z' * 90000000) }}"), &ctx);
    assert_eq!(typed, Err(TemplateError(budget.clone())));
    // Limits minijinja keeps on its own, each named in its message.
    let own = [
        ("{{ range(1000000000) | length }}", "range"),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion"),
    ];
    for (source, message) in own {
        let error = render(source, &ctx).expect_err(source);
        assert!(error.0.contains(message), "{source}: {error}");
    }
    let nested = format!("{{{{ {}1{} }}}}", "(".repeat(1000), ")".repeat(1000));
    let error = render(&nested, &ctx).expect_err("too deep");
    assert!(error.0.contains("nested") || error.0.contains("recursion"), "{error}");
    // An ordinary template is far from the limits.
    assert_eq!(render("{% for i in range(3) %}{{ i }}{% endfor %}", &ctx), Ok("012".to_string()));
}

#[test]
fn endless_recursion_in_a_template_fails_within_a_small_stack() {
    // The daemon renders on threads with 2 MiB stacks; so does this test, in a debug build.
    let sources = [
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "{% macro f(n) %}{% for x in [1] %}{% if true %}{{ f(n ~ x) | upper }}{% endif %}{% endfor %}{% endmacro %}{{ f(1) }}",
    ];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let ctx = Context::new(Arc::new(NoKeyValues), SYSTEM_USER);
            for source in sources {
                let error = render(source, &ctx).expect_err(source);
                assert!(error.0.contains("recursion limit"), "{source}: {error}");
                assert!(render_pattern(&json!(source), &ctx).is_err(), "{source}");
                assert!(render_typed(&json!(source), &ctx).is_err(), "{source}");
                assert!(render_value(&json!([source]), &ctx).is_err(), "{source}");
                let scope = crate::orquesta::functions::Scope::new(Default::default(), Arc::new(NoKeyValues), "u");
                assert!(crate::orquesta::expr::evaluate(&json!(source), &scope).is_err(), "{source}");
            }
        })
        .expect("a thread")
        .join()
        .expect("no stack overflow");
}
