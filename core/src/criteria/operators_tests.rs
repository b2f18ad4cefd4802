//! Table-driven tests of every criteria operator and alias, key paths, `#tags` and `search`.

use super::*;
use chrono::TimeZone;
use serde_json::json;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).single().expect("a time")
}

/// (operator, value (None = key missing), pattern, expected: Some(bool) or None for an error)
fn check(cases: &[(&str, Option<Value>, Value, Option<bool>)]) {
    for (operator, value, pattern, expected) in cases {
        let got = apply(operator, value.as_ref(), pattern, now());
        match expected {
            Some(expected) => assert_eq!(got.as_ref().ok(), Some(expected), "{operator} {value:?} {pattern}: {got:?}"),
            None => assert!(got.is_err(), "{operator} {value:?} {pattern} must fail, got {got:?}"),
        }
    }
}

#[test]
fn equality_is_typed() {
    check(&[
        ("equals", Some(json!(5)), json!(5), Some(true)),
        ("eq", Some(json!(5)), json!(5.0), Some(true)),
        ("equals", Some(json!("5")), json!(5), Some(false)),
        ("equals", Some(json!({"a": [1]})), json!({"a": [1.0]}), Some(true)),
        ("equals", None, json!(null), Some(true)),
        ("nequals", Some(json!("a")), json!("b"), Some(true)),
        ("neq", None, json!(null), Some(false)),
        ("iequals", Some(json!("ABC")), json!("abc"), Some(true)),
        ("ieq", Some(json!(1)), json!("1"), None),
    ]);
}

#[test]
fn containment_follows_python() {
    check(&[
        ("contains", Some(json!("hello world")), json!("lo w"), Some(true)),
        ("contains", Some(json!(["a", "b"])), json!("b"), Some(true)),
        ("contains", Some(json!({"k": 1})), json!("k"), Some(true)),
        ("contains", Some(json!("abc")), json!(1), None),
        ("contains", None, json!("x"), None),
        ("ncontains", Some(json!("abc")), json!("z"), Some(true)),
        ("icontains", Some(json!("Hello")), json!("ELL"), Some(true)),
        ("incontains", Some(json!("Hello")), json!("xyz"), Some(true)),
        ("inside", Some(json!("b")), json!(["a", "b"]), Some(true)),
        ("in", Some(json!("ell")), json!("hello"), Some(true)),
        ("ninside", Some(json!("z")), json!(["a"]), Some(true)),
        ("nin", Some(json!(3)), json!([1, 2]), Some(true)),
    ]);
}

#[test]
fn affixes_and_ordering() {
    check(&[
        ("startswith", Some(json!("prod-web")), json!("prod"), Some(true)),
        ("istartswith", Some(json!("PROD-web")), json!("prod"), Some(true)),
        ("endswith", Some(json!("a.log")), json!(".log"), Some(true)),
        ("iendswith", Some(json!("A.LOG")), json!(".log"), Some(true)),
        ("startswith", Some(json!(12)), json!("1"), None),
        ("lessthan", Some(json!(3)), json!(5), Some(true)),
        ("lt", Some(json!(5.5)), json!(5), Some(false)),
        ("greaterthan", Some(json!("b")), json!("a"), Some(true)),
        ("gt", Some(json!("5")), json!(3), None),
        ("gt", None, json!(3), None),
    ]);
}

#[test]
fn patterns_wildcards_and_regexes() {
    check(&[
        ("matchwildcard", Some(json!("web-01.prod")), json!("web-*.prod"), Some(true)),
        ("matchwildcard", Some(json!("web-01.prod")), json!("web-?.prod"), Some(false)),
        ("matchwildcard", Some(json!("a1")), json!("a[0-9]"), Some(true)),
        ("matchwildcard", Some(json!("ab")), json!("a[!b]"), Some(false)),
        ("matchregex", Some(json!("error: disk")), json!("error"), Some(true)),
        ("matchregex", Some(json!("an error")), json!("error"), Some(false)),
        ("matchregex", Some(json!("line1\nerror")), json!(".*error"), Some(true)),
        ("regex", Some(json!("an error")), json!("err.r"), Some(true)),
        ("iregex", Some(json!("AN ERROR")), json!("error"), Some(true)),
        ("regex", Some(json!("x")), json!("("), None),
    ]);
}

#[test]
fn time_differences_and_existence() {
    check(&[
        ("timediff_lt", Some(json!("2026-11-24T11:59:30Z")), json!(60), Some(true)),
        ("td_lt", Some(json!("2026-11-24 11:00:00")), json!(60), Some(false)),
        ("timediff_gt", Some(json!("2026-11-24 11:00:00.5")), json!(60), Some(true)),
        ("td_gt", Some(json!("2026-11-24T12:59:00+01:00")), json!(30), Some(true)),
        ("td_lt", Some(json!("yesterday")), json!(60), None),
        ("exists", Some(json!(0)), json!(""), Some(true)),
        ("exists", None, json!(""), Some(false)),
        ("nexists", None, json!(""), Some(true)),
        ("nexists", Some(json!(null)), json!(""), Some(true)),
        ("sometimes", Some(json!(1)), json!(1), None),
        ("EQUALS", Some(json!(1)), json!(1), Some(true)),
    ]);
}

#[test]
fn keys_are_paths_with_tags_brackets_and_indices() {
    let context = json!({"trigger": {"a": {"b": 1}, "headers": {"X-Id": "7"}, "items": [{"n": 1}, {"n": 2}]}});
    assert_eq!(lookup(&context, "trigger.a.b"), Some(json!(1)));
    assert_eq!(lookup(&context, "trigger.a.b#second"), Some(json!(1)));
    assert_eq!(lookup(&context, "trigger.headers['X-Id']"), Some(json!("7")));
    assert_eq!(lookup(&context, "trigger.headers[\"X-Id\"]"), Some(json!("7")));
    assert_eq!(lookup(&context, "trigger.items[1].n"), Some(json!(2)));
    assert_eq!(lookup(&context, "trigger.missing.deeper"), None);
    assert_eq!(lookup(&context, "trigger.items[9]"), None);
}

#[test]
fn criteria_are_anded_and_an_empty_payload_never_matches() {
    let criteria = json!({
        "trigger.level#1": {"type": "gt", "pattern": 2},
        "trigger.level#2": {"type": "lt", "pattern": 5},
        "trigger.host": {"type": "startswith", "pattern": "web"}
    });
    let criteria = criteria.as_object().expect("mapping");
    assert_eq!(matches(criteria, &json!({"level": 3, "host": "web-1"})), Ok(true));
    assert_eq!(matches(criteria, &json!({"level": 7, "host": "web-1"})), Ok(false));
    assert_eq!(matches(criteria, &json!({"level": 3, "host": "db-1"})), Ok(false));
    let nexists = json!({"trigger.x": {"type": "nexists", "pattern": ""}});
    assert_eq!(matches(nexists.as_object().expect("mapping"), &json!({})), Ok(false), "empty payload with criteria");
    assert_eq!(matches(&Map::new(), &Value::Null), Ok(true), "no criteria always match");
    assert!(matches(criteria, &json!({"level": "high", "host": "web"})).is_err(), "str > int fails the evaluation");
}

#[test]
fn search_has_four_conditions() {
    let payload = json!({"issues": [
        {"field": "status", "to": "Done"},
        {"field": "assignee", "to": "Stanley"}
    ]});
    let run = |condition: &str, children: Value| {
        let criteria = json!({"trigger.issues": {"type": "search", "condition": condition, "pattern": children}});
        matches(criteria.as_object().expect("mapping"), &payload)
    };
    let both = json!({
        "item.field": {"type": "equals", "pattern": "status"},
        "item.to": {"type": "equals", "pattern": "Done"}
    });
    let either = json!({
        "item.field": {"type": "equals", "pattern": "status"},
        "item.to": {"type": "equals", "pattern": "Stanley"}
    });
    assert_eq!(run("any", both.clone()), Ok(true), "the first item matches all children");
    assert_eq!(run("all", both), Ok(false), "the second item does not");
    assert_eq!(run("any2any", either.clone()), Ok(true));
    assert_eq!(run("all2any", either), Ok(true), "every item matches some child");
    assert_eq!(run("all2any", json!({"item.to": {"type": "equals", "pattern": "Done"}})), Ok(false));
    assert!(run("some", json!({})).is_err());
    let single = json!({"trigger.issue": {"type": "search", "condition": "any", "pattern": {"item.k": {"type": "eq", "pattern": 1}}}});
    assert_eq!(
        matches(single.as_object().expect("mapping"), &json!({"issue": {"k": 1}})),
        Ok(true),
        "a dict is a one-item list"
    );
}
