//! StackStorm's own cases (st2common/tests/unit/test_action_alias_utils.py,
//! test_util_actionalias_matching.py, test_util_actionalias_helpstrings.py) as Rust tests.

use serde_json::{Map, Value, json};

use super::*;
use crate::pack::model::{Alias, AliasFormat};

fn extracted(format: &str, command: &str) -> Value {
    Value::Object(extract(format, command).unwrap_or_else(|e| panic!("{format:?} / {command:?}: {e}")))
}

fn strings(pairs: &[(&str, &str)]) -> Value {
    let map: Map<String, Value> = pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    Value::Object(map)
}

#[test]
fn empty_string() {
    assert_eq!(extracted("", ""), json!({}));
}

#[test]
fn arbitrary_pairs() {
    assert_eq!(extracted("", "a=foobar1"), strings(&[("a", "foobar1")]));
    assert_eq!(extracted("foo", "foo a=\"foobar2 poonies bar\""), strings(&[("a", "foobar2 poonies bar")]));
    assert_eq!(extracted("foo", "foo a='foobar2 poonies bar'"), strings(&[("a", "foobar2 poonies bar")]));
    assert_eq!(extracted("foo", r#"foo a={"foobar2": "poonies"}"#), strings(&[("a", r#"{"foobar2": "poonies"}"#)]));
    assert_eq!(
        extracted("", r#"a=foobar1 b="boobar2 3 4" c='coobar3 4' d={"a": "b"}"#),
        strings(&[("a", "foobar1"), ("b", "boobar2 3 4"), ("c", "coobar3 4"), ("d", r#"{"a": "b"}"#)])
    );
    assert_eq!(
        extracted("{{ captain }} is my captain", "Malcolm Reynolds is my captain weirdo=\"River Tam\""),
        strings(&[("captain", "Malcolm Reynolds"), ("weirdo", "River Tam")])
    );
}

#[test]
fn simple_end_and_spaced_parsing() {
    let format = "skip {{a}} more skip {{b}} and skip more.";
    assert_eq!(extracted(format, "skip a1 more skip b1 and skip more."), strings(&[("a", "a1"), ("b", "b1")]));
    assert_eq!(extracted("skip {{a}} more skip {{b}}", "skip a1 more skip b1"), strings(&[("a", "a1"), ("b", "b1")]));
    assert_eq!(
        extracted(format, "skip \"a1 a2\" more skip b1 and skip more."),
        strings(&[("a", "a1 a2"), ("b", "b1")])
    );
}

#[test]
fn default_values_and_spacing() {
    assert_eq!(
        extracted("acl {{a}} {{b}} {{c}} {{d=1}}", "acl \"a1 a2\" \"b1\" \"c1\""),
        strings(&[("a", "a1 a2"), ("b", "b1"), ("c", "c1"), ("d", "1")])
    );
    assert_eq!(extracted("acl {{a=test}}", "acl"), strings(&[("a", "test")]));
}

#[test]
fn json_and_mixed_parsing() {
    assert_eq!(
        extracted("skip {{a}} more skip.", r#"skip {"a": "b", "c": "d"} more skip."#),
        strings(&[("a", r#"{"a": "b", "c": "d"}"#)])
    );
    assert_eq!(
        extracted("skip {{a}} more skip {{b}}.", r#"skip {"a": "b", "c": "d"} more skip x."#),
        strings(&[("a", r#"{"a": "b", "c": "d"}"#), ("b", "x")])
    );
}

#[test]
fn param_spaces_and_enclosed_defaults() {
    assert_eq!(
        extracted("s {{a}} more {{ b }} more {{ c=99 }} more {{ d = 99 }}", "s one more two more three more"),
        strings(&[("a", "one"), ("b", "two"), ("c", "three"), ("d", "99")])
    );
    assert_eq!(extracted("skip {{ a = value }} more", "skip one more"), strings(&[("a", "one")]));
    assert_eq!(extracted("skip {{ a = value }} more", "skip more"), strings(&[("a", "value")]));
}

#[test]
fn template_defaults() {
    assert_eq!(
        extracted("two by two hands of {{ color = {{ colors.default_color }} }}", "two by two hands of"),
        strings(&[("color", "{{ colors.default_color }}")])
    );
}

#[test]
fn key_value_combinations() {
    assert_eq!(extracted("testing {{ a }}", "testing value b=value2"), strings(&[("a", "value"), ("b", "value2")]));
    assert_eq!(
        extracted("testing {{ a=new }}", "testing b=\"another value\""),
        strings(&[("a", "new"), ("b", "another value")])
    );
    assert_eq!(
        extracted("testing {{ b=abc }} {{ c=xyz }}", r#"testing newvalue d={"1": "2"} e="long value""#),
        strings(&[("b", "newvalue"), ("c", "xyz"), ("d", r#"{"1": "2"}"#), ("e", "long value")])
    );
}

#[test]
fn streams_with_defaults() {
    assert_eq!(
        extracted("skip {{d=test1}} more skip {{e=test1}}.", "skip more skip"),
        strings(&[("d", "test1"), ("e", "test1")])
    );
    assert_eq!(
        extracted("skip {{d=test}} more skip {{e=test}}", "skip ponies more skip"),
        strings(&[("d", "ponies"), ("e", "test")])
    );
}

#[test]
fn no_stream_and_no_defaults() {
    let error = extract("skip {{d}} more skip {{e}}.", "").expect_err("no match");
    assert_eq!(error.to_string(), r#"Command "" doesn't match format string "skip {{d}} more skip {{e}}.""#);
}

#[test]
fn all_the_things() {
    let format = "{{ p0='http' }} g {{ p1=p }} a {{ url }} {{ p2={'a':'b'} }} {{ p3={{ e.i }} }}";
    let command = "g a http://google.com {{ execution.id }} p4='testing' p5={'a':'c'}";
    assert_eq!(
        extracted(format, command),
        strings(&[
            ("p0", "http"),
            ("p1", "p"),
            ("url", "http://google.com"),
            ("p2", "{{ execution.id }}"),
            ("p3", "{{ e.i }}"),
            ("p4", "testing"),
            ("p5", "{'a':'c'}"),
        ])
    );
}

#[test]
fn command_doesnt_match_format_string() {
    let error = extract("foo bar ponies", "foo lulz ponies").expect_err("no match");
    assert_eq!(error.to_string(), r#"Command "foo lulz ponies" doesn't match format string "foo bar ponies""#);
}

#[test]
fn ending_parameters_matching() {
    assert_eq!(extracted("foo bar", "foo bar pony1=foo pony2=bar"), strings(&[("pony1", "foo"), ("pony2", "bar")]));
}

#[test]
fn regex_anchors() {
    let begin = r"^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)";
    assert_eq!(extracted(begin, "foo ASDF-1234"), strings(&[("issue_key", "ASDF-1234")]));
    assert!(matches!(extract(begin, "bar foo ASDF-1234"), Err(AliasError::NoMatch { .. })));
    let end = r"foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)\s*$";
    assert_eq!(extracted(end, "foo ASDF-1234"), strings(&[("issue_key", "ASDF-1234")]));
    assert!(matches!(extract(end, "foo ASDF-1234 bar"), Err(AliasError::NoMatch { .. })));
    let both = r"^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+) bar\s*$";
    assert_eq!(extracted(both, "foo ASDF-1234 bar"), strings(&[("issue_key", "ASDF-1234")]));
    let both = r"^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)\s*$";
    let error = extract(both, "bar ASDF-1234").expect_err("no match");
    assert_eq!(
        error.to_string(),
        r#"Command "bar ASDF-1234" doesn't match format string "^\s*foo (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)\s*$""#
    );
}

#[test]
fn search_regex_tokens() {
    assert!(pyre::has_begin_anchor("^asdf"));
    assert!(!pyre::has_end_anchor("^asdf"));
    assert!(!pyre::has_begin_anchor("asdf"));
    assert!(!pyre::has_end_anchor("asdf"));
    assert!(pyre::has_end_anchor("^asdf$"));
    assert!(pyre::has_end_anchor("^asdf|fdsa$"));
    assert!(pyre::has_end_anchor("^(?:asdf|fdsa$)"));
    // Only the second alternative is looked into, and never a repeated group or a class.
    assert!(!pyre::has_end_anchor("^(?:asdf$|fdsa)"));
    assert!(!pyre::has_begin_anchor("(^a)?b"));
    assert!(!pyre::has_begin_anchor("[^a]b"));
    assert!(pyre::has_begin_anchor(r"\Afoo"));
    assert!(pyre::has_end_anchor(r"foo\Z"));
    // A shared first item leaves the branch (sre_parse's prefix).
    assert!(pyre::has_begin_anchor("^a|^b"));
}

#[test]
fn python_spellings_are_translated() {
    assert_eq!(pyre::translate(r"a{b}c{2}d{1,}e{,3}\Z"), r"a\{b\}c{2}d{1,}e{,3}\z");
    assert_eq!(pyre::translate(r"[{}]\'x"), r"[{}]'x");
    assert_eq!(extracted(r"deploy (?P<app>\w+)\s*\Z", "deploy web"), strings(&[("app", "web")]));
}

const DUPLICATE: &str = r"(?:\b|^)duplicate of (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\b|$)";
const FIXES: &str = r"(?:\b|^)fixes (?P<issue_key>[A-Z][A-Z0-9]+-[0-9]+)(?:\b|$)";

#[test]
fn multiple_matches_give_one_set_each() {
    let parser = FormatParser::new(DUPLICATE).expect("valid");
    let command = "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12";
    let found = parser.extract_all(command).expect("matches");
    let keys: Vec<&Value> = found.iter().map(|params| &params["issue_key"]).collect();
    assert_eq!(keys, [&json!("JRRTOLKIEN-24"), &json!("DRSEUSS-12")]);
}

fn alias(name: &str, pack: &str, formats: Value) -> Alias {
    let formats_list = formats.as_array().cloned().unwrap_or_default();
    let formats = formats_list
        .iter()
        .map(|format| match format {
            Value::String(text) => {
                AliasFormat { display: Some(text.clone()), representations: vec![text.clone()], match_multiple: false }
            }
            other => AliasFormat {
                display: other.get("display").and_then(Value::as_str).map(str::to_string),
                representations: match other.get("representation") {
                    Some(Value::String(one)) => vec![one.clone()],
                    Some(Value::Array(items)) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
                    _ => Vec::new(),
                },
                match_multiple: other.get("match_multiple").and_then(Value::as_bool).unwrap_or(false),
            },
        })
        .collect();
    Alias {
        ref_: format!("{pack}.{name}"),
        pack: pack.to_string(),
        name: name.to_string(),
        description: String::new(),
        enabled: true,
        action_ref: "core.noop".to_string(),
        formats,
        formats_raw: Value::Array(formats_list),
        ack: Value::Null,
        result: Value::Null,
        extra: Value::Null,
        immutable_parameters: Map::new(),
        metadata_file: String::new(),
    }
}

#[test]
fn format_strings_from_aliases() {
    let kyle = alias("kyle_reese", "terminator", json!(["Come with me if you want to live"]));
    let terminator =
        alias("terminator", "terminator", json!(["I need your {{item}}, your {{item2}} and your {{vehicle}}"]));
    let found: Vec<Pattern<'_>> = patterns(&kyle).into_iter().chain(patterns(&terminator)).collect();
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].display, Some("Come with me if you want to live"));
    assert_eq!(found[1].display, Some("I need your {{item}}, your {{item2}} and your {{vehicle}}"));

    let johnny = alias(
        "johnny_five_alive",
        "short_circuit",
        json!([{"display": "Number 5 is {{status}}", "representation": ["Number 5 is {{status=alive}}"]},
               "Hey, laser lips, your mama was a snow blower."]),
    );
    let found = patterns(&johnny);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].display, Some("Number 5 is {{status}}"));
    assert_eq!(found[0].representation, "Number 5 is {{status=alive}}");
    assert_eq!(found[1].representation, "Hey, laser lips, your mama was a snow blower.");

    let andy = alias("andy", "the_goonies", json!([{"display": "Watch this."}]));
    assert_eq!(patterns(&andy)[0].representation, "");
    let data = alias("data", "the_goonies", json!([{"representation": "You can't hug a {{object}}."}]));
    assert_eq!(patterns(&data)[0].display, None);
    assert_eq!(patterns(&data)[0].representation, "You can't hug a {{object}}.");
}

#[test]
fn matching_picks_the_one_pattern() {
    let spengler = alias("spengler", "ghostbusters", json!(["{{choice}} cross the {{target}}"]));
    let found = match_command("Don't cross the streams", &[&spengler]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].alias.ref_, "ghostbusters.spengler");
    assert_eq!(found[0].representation, "{{choice}} cross the {{target}}");

    let run = alias("run", "demo", json!(["run {{cmd}} on {{hosts}}"]));
    let lorem = alias("lorem", "demo", json!(["Lorem ipsum {{a}} dolor sit {{b}} amet."]));
    let lorem2 = alias("lorem2", "demo", json!(["Lorem ipsum {{c}} dolor sit {{d}} amet."]));
    let aliases = [spengler.clone(), run, lorem, lorem2];
    let found = matching("run date on localhost", aliases.iter()).expect("one match");
    assert_eq!(found.alias.name, "run");
    assert_eq!(
        matching("hello donny", aliases.iter()).expect_err("none").to_string(),
        "Command 'hello donny' matched no patterns"
    );
    assert_eq!(
        matching("Lorem ipsum banana dolor sit pineapple amet.", aliases.iter()).expect_err("two").to_string(),
        "Command 'Lorem ipsum banana dolor sit pineapple amet.' matched more than 1 pattern"
    );
    let mut disabled = aliases.clone();
    disabled[3].enabled = false;
    assert_eq!(
        matching("Lorem ipsum banana dolor sit pineapple amet.", disabled.iter()).expect("one").alias.name,
        "lorem"
    );
}

#[test]
fn match_multiple_formats_come_second() {
    let multiple = |name: &str, format: &str| {
        alias(name, "aliases", json!([{"display": "x", "representation": [format], "match_multiple": true}]))
    };
    let aliases = [
        alias("run", "aliases", json!(["run {{cmd}} on {{hosts}}"])),
        multiple("alias_match_multiple", DUPLICATE),
        multiple("alias_match_multiple_fixes1", FIXES),
        multiple("alias_match_multiple_fixes2", FIXES),
    ];
    let command = "JKROWLING-4 is a duplicate of JRRTOLKIEN-24 which is a duplicate of DRSEUSS-12";
    let found = matching(command, aliases.iter()).expect("one multi match");
    assert!(found.match_multiple);
    assert_eq!(found.alias.name, "alias_match_multiple");
    let all = parameters(found.alias, found.representation, command, true).expect("both");
    assert_eq!(all.len(), 2);
    let command = "JKROWLING-4 fixes JRRTOLKIEN-24 which fixes DRSEUSS-12";
    assert_eq!(
        matching(command, aliases.iter()).expect_err("two").to_string(),
        format!("Command '{command}' matched more than 1 (multi) pattern")
    );
}

#[test]
fn parameters_need_a_format_of_the_alias() {
    let lorem = alias("alias1", "demo", json!(["Lorem ipsum {{param1}} dolor sit {{param2}} amet."]));
    let command = "Lorem ipsum value1 dolor sit \"value2 value3\" amet.";
    let found = parameters(&lorem, "Lorem ipsum {{param1}} dolor sit {{param2}} amet.", command, false).expect("ok");
    assert_eq!(Value::Object(found[0].clone()), strings(&[("param1", "value1"), ("param2", "value2 value3")]));
    assert_eq!(
        parameters(&lorem, "some invalid not supported string", command, false).expect_err("not on it").to_string(),
        "Format string \"some invalid not supported string\" is not available on the alias \"alias1\""
    );
}

fn the80s() -> Vec<Alias> {
    let mut economics = alias("economics.teacher", "the80s", json!(["Bueller?... Bueller?... Bueller? "]));
    economics.enabled = false;
    vec![
        alias("kyle_reese", "the80s", json!(["Come with me if you want to live"])),
        alias("terminator", "the80s", json!(["I need your {{item}}, your {{item2}} and your {{vehicle}}"])),
        alias(
            "johnny_five_alive",
            "the80s",
            json!([{"display": "Number 5 is {{status}}", "representation": ["Number 5 is {{status=alive}}"]},
                   "Hey, laser lips, your mama was a snow blower."]),
        ),
        alias("i_feel_alive", "the80s", json!(["How do I feel? I feel... {{status}}!"])),
        alias("andy", "the80s", json!([{"display": "Watch this."}])),
        alias("andy", "the80s", json!([{"display": "He's just like his {{relation}}."}])),
        alias("data", "the80s", json!([{"representation": "That's okay daddy. You can't hug a {{object}}."}])),
        alias("mr_wang", "the80s", json!([{"representation": "You are my greatest invention."}])),
        alias(
            "Ferris",
            "the80s",
            json!(["Life moves pretty fast.", "If you don't stop and look around once in a while, you could miss it."]),
        ),
        economics,
        alias("spengler", "the80s", json!(["{{choice}} cross the {{target}}"])),
    ]
}

fn help_of(filter: &str, pack: &str, limit: usize, offset: usize) -> (usize, Vec<HelpString>) {
    let query = HelpQuery { filter: filter.to_string(), pack: pack.to_string(), offset, limit };
    help(the80s().iter(), &query).expect("a valid filter")
}

#[test]
fn help_strings() {
    let (available, found) = help_of("", "", 0, 0);
    assert_eq!((available, found.len()), (10, 10));
    assert_eq!(found[0].display, "Come with me if you want to live");
    assert_eq!(help_of("you_will_not_find_this_string", "", 0, 0), (0, Vec::new()));
    let (available, found) = help_of("you", "", 0, 0);
    assert_eq!((available, found.len()), (4, 4));
    assert_eq!(help_of("", "you_will_not_find_this_string", 0, 0), (0, Vec::new()));
    assert_eq!(help_of("", "the80s", 0, 0).1.len(), 10);
    assert_eq!(help_of("", "the80s", 30, 0).1.len(), 10);
    let (available, found) = help_of("", "the80s", 3, 0);
    assert_eq!((available, found.len()), (10, 3));
    assert_eq!(help_of("", "the80s", 0, 30), (10, Vec::new()));
    let (available, found) = help_of("", "the80s", 0, 6);
    assert_eq!((available, found.len()), (10, 4));
    assert_eq!(found[0].display, "He's just like his {{relation}}.");
    assert!(matches!(
        help(the80s().iter(), &HelpQuery { filter: "(".into(), ..HelpQuery::default() }),
        Err(AliasError::Filter { .. })
    ));
}
