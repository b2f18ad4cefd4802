//! End-to-end tests of the public API: Orquesta's usage, the language, syntax errors, deep
//! and hostile input; and the table helpers (with a test host) the other modules' tests use.
//!
//! Owns: tests only. Must not: be compiled outside `cargo test`.

use serde_json::json;

use super::*;

/// Orquesta's functions, enough for the tests: `ctx()` answers from fixed workflow data.
struct TestHost;

impl Host for TestHost {
    fn call(&self, name: &str, args: &[Value], named: &Map<String, Value>) -> Option<Result<Value, EvalError>> {
        let data = json!({
            "vms": [
                {"name": "vmweb1", "region": "us-east", "role": "web"},
                {"name": "vmdb1", "region": "us-east", "role": "db"},
                {"name": "vmweb2", "region": "us-west", "role": "web"},
                {"name": "vmdb2", "region": "us-west", "role": "db"}
            ],
            "foo": "bar",
            "nested": 0,
            "skip_dependencies": false,
            "conflict_list": [],
            "dependency_list": ["a"],
            "dict1": {"a": 123, "b": true},
            "list1": ["abc", "def"],
            "items": [1, 2, 3],
            "d": {"k": 1},
            "x": 1,
            "y": null
        });
        Some(match (name, args) {
            ("ctx", []) => Ok(data),
            ("ctx", [Value::String(key)]) => data
                .get(key)
                .cloned()
                .ok_or_else(|| EvalError { message: format!("The variable \"{key}\" does not exist") }),
            ("succeeded", []) => Ok(json!(true)),
            ("result", []) => Ok(json!({"result": {"dependency_list": ["x"]}, "stdout": "out", "status_code": 404})),
            ("task", [Value::String(task)]) => Ok(json!({
                "name": task,
                "result": {"result": "done", "items": [{"result": {"stdout": "one"}}, {"result": {"stdout": "two"}}]}
            })),
            ("item", []) => Ok(json!("current-item")),
            ("st2kv", [Value::String(key)]) => Ok(json!({"key": key, "decrypt": named.get("decrypt")})),
            ("fail", []) => Err(EvalError { message: "the host refused".to_string() }),
            ("len", [Value::String(s)]) if s == "override" => Ok(json!("host len")),
            ("hostMethod", [receiver, ..]) => Ok(json!({"receiver": receiver, "args": args.len()})),
            _ => return None,
        })
    }
}

/// Why a test expression gave no value.
#[derive(Debug, PartialEq, thiserror::Error)]
enum RunError {
    #[error("syntax: {0}")]
    Syntax(#[from] SyntaxError),
    #[error(transparent)]
    Eval(#[from] EvalError),
}

fn run(source: &str, data: &Value) -> Result<Value, RunError> {
    Ok(parse(source)?.evaluate(data, &TestHost)?)
}

/// Checks each (expression, root data, expected value).
pub(crate) fn check_values(table: &[(&str, Value, Value)]) {
    for (source, data, expected) in table {
        assert_eq!(run(source, data).as_ref(), Ok(expected), "expression: {source}");
    }
}

/// Checks each (expression, root data, expected error substring).
pub(crate) fn check_errors(table: &[(&str, Value, &str)]) {
    for (source, data, message) in table {
        match run(source, data) {
            Err(e) => {
                assert!(e.to_string().contains(message), "expression: {source}\n  error: {e}\n  wanted: {message}")
            }
            Ok(v) => panic!("expression: {source} gave {v}, wanted an error with {message:?}"),
        }
    }
}

#[test]
fn orquesta_usage() {
    let n = json!(null);
    check_values(&[
        ("ctx().foo", n.clone(), json!("bar")),
        ("ctx(foo)", n.clone(), json!("bar")),
        ("ctx(\"foo\")", n.clone(), json!("bar")),
        ("ctx('foo')", n.clone(), json!("bar")),
        ("ctx().nested = 0", n.clone(), json!(true)),
        ("succeeded() and (ctx().skip_dependencies or ctx().nested = 0)", n.clone(), json!(true)),
        ("not ctx().conflict_list and ctx().dependency_list", n.clone(), json!(["a"])),
        ("task(download_pack).result.result", n.clone(), json!("done")),
        ("result().result.dependency_list", n.clone(), json!(["x"])),
        ("result().stdout", n.clone(), json!("out")),
        ("task(task1).result.items.select($.result.stdout)", n.clone(), json!(["one", "two"])),
        ("ctx(vms).select($.name)", n.clone(), json!(["vmweb1", "vmdb1", "vmweb2", "vmdb2"])),
        (
            "ctx(vms).select([$.name, $.role])",
            n.clone(),
            json!([["vmweb1", "web"], ["vmdb1", "db"], ["vmweb2", "web"], ["vmdb2", "db"]]),
        ),
        ("ctx(vms).select($.region).distinct()", n.clone(), json!(["us-east", "us-west"])),
        ("ctx(vms).where($.region = 'us-east' and $.role = 'web').select($.name)", n.clone(), json!(["vmweb1"])),
        (
            "dict(vms=>dict(ctx(vms).select([$.name, $])))",
            n.clone(),
            json!({"vms": {
                "vmweb1": {"name": "vmweb1", "region": "us-east", "role": "web"},
                "vmdb1": {"name": "vmdb1", "region": "us-east", "role": "db"},
                "vmweb2": {"name": "vmweb2", "region": "us-west", "role": "web"},
                "vmdb2": {"name": "vmdb2", "region": "us-west", "role": "db"}
            }}),
        ),
        ("dict(a=>123, b=>true) + dict(c=>xyz)", n.clone(), json!({"a": 123, "b": true, "c": "xyz"})),
        ("ctx(dict1).keys()", n.clone(), json!(["a", "b"])),
        ("ctx(dict1).values()", n.clone(), json!([123, true])),
        ("ctx(dict1).get(b, false)", n.clone(), json!(true)),
        ("ctx(dict1).get(c, false)", n.clone(), json!(false)),
        ("list(1, 2, 3)", n.clone(), json!([1, 2, 3])),
        ("list(abc, def) + list(ijk, xyz)", n.clone(), json!(["abc", "def", "ijk", "xyz"])),
        ("ctx(list1)[0]", n.clone(), json!("abc")),
        ("ctx(list1)[-1]", n.clone(), json!("def")),
        ("result().status_code != 200", n.clone(), json!(true)),
        ("ctx().x > 0 and not ctx().y", n.clone(), json!(true)),
        ("\"one, two, three, four\".split(',').select($.trim())", n.clone(), json!(["one", "two", "three", "four"])),
        (
            "\"one, two, three, four\".split(',').select(str($).trim())",
            n.clone(),
            json!(["one", "two", "three", "four"]),
        ),
        ("ctx().items.len()", n.clone(), json!(3)),
        ("len(ctx().items)", n.clone(), json!(3)),
        ("ctx(d).containsKey(k)", n.clone(), json!(true)),
        (
            "let(my_region => 'us-east') -> ctx(vms).where($.region = $my_region).select($.name)",
            n.clone(),
            json!(["vmweb1", "vmdb1"]),
        ),
        ("st2kv('system.shared_key_x')", n.clone(), json!({"key": "system.shared_key_x", "decrypt": null})),
        ("st2kv('k', decrypt => true)", n.clone(), json!({"key": "k", "decrypt": true})),
        ("item()", n.clone(), json!("current-item")),
    ]);
    let seven = run("str(random(1000000, 9999999))", &n).expect("random evaluates");
    let text = seven.as_str().expect("str() gives a string");
    assert!(text.len() == 7 && text.chars().all(|c| c.is_ascii_digit()), "{text}");
}

#[test]
fn language() {
    let data = json!({"a": {"b": [10, 20, {"c": "deep"}]}, "list": [{"k": 1}, {"k": 2}], "s": "text", "n": null});
    check_values(&[
        ("$", data.clone(), data.clone()),
        ("$.a.b[2].c", data.clone(), json!("deep")),
        ("$.a.b[-3]", data.clone(), json!(10)),
        ("$.a['b'][1]", data.clone(), json!(20)),
        ("$.a[missing, 7]", data.clone(), json!(7)),
        ("$.s[0]", data.clone(), json!("t")),
        ("$.n?.x", data.clone(), json!(null)),
        ("$.n?.len()", data.clone(), json!(null)),
        ("$.a?.b[0]", data.clone(), json!(10)),
        ("$unbound", data.clone(), json!(null)),
        ("$1 = $", data.clone(), json!(true)),
        (
            "[1, 'two', `three\\n`, \"four\", true, null, 1.5]",
            n(),
            json!([1, "two", "three\\n", "four", true, null, 1.5]),
        ),
        ("{a => 1, 'b c' => 2, 1 + 1 => 3}", n(), json!({"a": 1, "b c": 2, "2": 3})),
        ("[1 + 2 * 3, (1 + 2) * 3, 7 / 2, 7.0 / 2, -7 mod 3, -2 * -3, +4]", n(), json!([7, 9, 3, 3.5, 2, 6, 4])),
        (
            "[1 = 1.0, 1 != 2, 'a' < 'b', 2 >= 2, null < 0, 'a' = 1, [1] = [1]]",
            n(),
            json!([true, true, true, true, true, false, true]),
        ),
        ("[2 in [1, 2], b in abc, k in {k => 1}, 5 in []]", n(), json!([true, true, true, false])),
        ("[0 or 'x', '' and 1, null or [], 1 and 2, not 0, not [1]]", n(), json!(["x", "", [], 2, true, false])),
        ("[abc, def].len()", n(), json!(2)),
        ("let(x => 2, y => 3) -> $x * $y", n(), json!(6)),
        ("let(x => 2) -> let(y => $x + 1) -> [$x, $y]", n(), json!([2, 3])),
        ("let(5, 6) -> [$, $1, $2]", n(), json!([5, 5, 6])),
        ("[1, 2] -> $", json!("root"), json!("root")),
        ("let(k => 1) -> [{k => 1}, {k => 2}].where($.k = $k)", n(), json!([{"k": 1}])),
        ("[[1, 2], [3]].select($.select($ * 10))", n(), json!([[10, 20], [30]])),
        ("$.list.select($.k).sum()", data.clone(), json!(3)),
        ("len(override)", n(), json!("host len")),
        ("len(other)", n(), json!(5)),
        ("'x'.hostMethod(1, 2)", n(), json!({"receiver": "x", "args": 3})),
        ("true and false or true", n(), json!(true)),
        ("'a' + 'b' = 'ab' and 1 < 2", n(), json!(true)),
    ]);
    check_errors(&[
        ("$.a.missing", data.clone(), "key \"missing\" not found"),
        ("$.n.x", data.clone(), "cannot get key \"x\" of null"),
        ("$.s.x", data.clone(), "cannot get key \"x\" of a string"),
        ("$.list.k", data.clone(), "cannot get key \"k\" of a list"),
        ("$.a.b[3]", data.clone(), "index 3 is out of range for a list of length 3"),
        ("$.a.b[-4]", data.clone(), "index -4 is out of range"),
        ("$.a.b['x']", data.clone(), "a list index must be an integer, got a string"),
        ("$.a['nope']", data.clone(), "key \"nope\" not found"),
        ("$.n[0]", data.clone(), "cannot index null"),
        ("nosuch(1)", n(), "unknown function \"nosuch\""),
        ("1.nosuch()", n(), "unknown function \"nosuch\""),
        ("fail()", n(), "the host refused"),
        ("ctx(missing)", n(), "The variable \"missing\" does not exist"),
        ("1 < 'a'", n(), "operator \"<\" cannot compare an integer with a string"),
        ("true > false", n(), "operator \">\" cannot compare a boolean with a boolean"),
        ("-'a'", n(), "unary \"-\" expects a number, got a string"),
        ("1 in 2", n(), "operator \"in\" does not apply to an integer and an integer"),
        ("range(1000000).select(range(1000000))", n(), "too much work"),
        ("range(1000000).select('x' * 1000000)", n(), "too much work"),
        ("range(1000000).select($).select($).select($).select($)", n(), "too much work"),
    ]);
}

fn n() -> Value {
    Value::Null
}

#[test]
fn syntax_errors() {
    let deep = "(".repeat(10_000);
    let table: Vec<(&str, &str)> = vec![
        ("ctx(", "unexpected end of expression at position 4"),
        ("ctx())", "unexpected ')' at position 5"),
        ("1 +", "unexpected end of expression at position 3"),
        ("'unterminated", "unterminated string at position 0"),
        ("a..b", "expected a key or method name after '.', found '.' at position 2"),
        (")", "unexpected ')' at position 0"),
        ("", "empty expression at position 0"),
        (&deep, "expression is nested too deeply (more than 100 levels) at position 100"),
    ];
    for (source, expected) in table {
        let e = parse(source).expect_err("must be a syntax error");
        assert_eq!(e.to_string(), expected, "source: {source:.30}");
    }
}

#[test]
fn deep_nesting_evaluates_without_overflow() {
    // The deepest accepted trees of each shape, on a thread with less stack than the 2 MiB
    // a spawned thread or runtime worker gets. Each must parse and evaluate.
    let d = parser::MAX_DEPTH - 1;
    let sources = [
        format!("{}1{}", "[".repeat(d), "]".repeat(d)),
        format!("{}1{}", "(".repeat(d), ")".repeat(d)),
        format!("{}1{}", "{a => ".repeat(d), "}".repeat(d)),
        format!("{}1{}", "str(".repeat(d), ")".repeat(d)),
        format!("{}0{}", "[0][".repeat(d - 2), "]".repeat(d - 2)),
        format!("{}1{}", "[1].select(".repeat(d - 1), ")".repeat(d - 1)),
        format!("$.x{}", ".select($)".repeat(d - 1)),
        format!("{}1", "let(x => 1) -> ".repeat(d - 2)),
        format!("{}{}", "not ".repeat(d), "1"),
        vec!["1"; d].join(" + "),
    ];
    let handle = std::thread::Builder::new()
        .stack_size(3 << 19)
        .spawn(move || sources.iter().map(|s| run(s, &json!({"x": [1]})).map(drop)).collect::<Vec<_>>())
        .expect("test thread starts");
    let results = handle.join().expect("deep expressions must not overflow the stack");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
}

#[test]
fn functions_and_library() {
    let e = parse("ctx(vms).where($.a = task(t).x).select(str($)) + [json(1).foo(), st2kv(k, decrypt => ctx().d)]")
        .expect("parses");
    assert_eq!(e.functions(), vec!["ctx", "where", "task", "select", "str", "json", "foo", "st2kv"]);
    for name in ["select", "where", "len", "dict", "let", "str", "random", "regex", "join", "toUpper"] {
        assert!(is_library_function(name), "{name}");
    }
    for name in ["ctx", "task", "json", "zip", "st2kv", "unknown", ""] {
        assert!(!is_library_function(name), "{name}");
    }
}

#[test]
fn hostile_input_never_panics() {
    let inputs = [
        "((((",
        "))))",
        "[[[[",
        "]]]]",
        "{{{{",
        "}}}}",
        "'",
        "\"",
        "`",
        "$",
        "$$",
        "..",
        "?.",
        "=>",
        "->",
        "a=>b",
        "f(a=>)",
        "f(=>1)",
        "f(,)",
        "f(1,)",
        "[1,]",
        "{a=>1,}",
        "x[",
        "x]",
        "x.",
        "x?.",
        "1.",
        ".1",
        "-",
        "not",
        "\\",
        "'\\u12'",
        "'\\U0011ffff'",
        "@",
        "#",
        "%",
        "1 ++ 2",
        "a b c",
        "ctx(()",
        "\u{0}",
        "é(",
        "$.[0]",
    ];
    for input in inputs {
        if let Ok(e) = parse(input) {
            let _ = e.evaluate(&json!({}), &TestHost);
        }
    }
    // Random soups of fragments: whatever they parse to must evaluate to a value or an
    // error, never a panic.
    let fragments = [
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ".",
        "?.",
        "=>",
        "->",
        "+",
        "-",
        "*",
        "/",
        " mod ",
        " and ",
        " or ",
        "not ",
        " in ",
        "=",
        "!=",
        "<",
        ">=",
        "=~",
        "$",
        "$x",
        "1",
        "-1",
        "2.5",
        "0",
        "'s'",
        "\"\\n\"",
        "`b`",
        "true",
        "null",
        "a",
        "ctx()",
        "ctx(",
        "select(",
        "where(",
        "orderBy(",
        "groupBy(",
        "let(",
        "list(",
        "dict(",
        "len(",
        "range(",
        "split(",
        "substring(",
        "format(",
        "regex(",
        "join(",
        "max(",
        "first(",
        "flatten(",
        "switch(",
        "int(",
        "str(",
        "round(",
        "pow(",
        "random(",
        "indexOf(",
        "replace(",
        "set(",
        "x => ",
        "9999999999",
    ];
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % n as u64).unwrap_or(0)
    };
    let data = json!({"x": [1, "a", {"k": null}], "s": "text"});
    let (mut parsed, mut evaluated) = (0, 0);
    for _ in 0..20_000 {
        let len = 1 + next(12);
        let source: String = (0..len).map(|_| fragments[next(fragments.len())]).collect();
        if let Ok(e) = parse(&source) {
            parsed += 1;
            evaluated += usize::from(e.evaluate(&data, &TestHost).is_ok());
            let _ = e.functions();
        }
    }
    assert!(parsed > 300 && evaluated > 100, "too few soups parsed ({parsed}) or evaluated ({evaluated})");
}

#[test]
fn a_runaway_expression_fails_its_evaluation_naming_the_limit() {
    let n = json!(null);
    check_errors(&[
        ("range(0, 100000000000).list()", n.clone(), "range() would have more than 1000000 items"),
        ("range(1000000000)", n.clone(), "range() would have more than 1000000 items"),
        ("'x' * 2000000000", n.clone(), "result of \"*\" would be too large (more than 1000000 items or bytes)"),
        // Time: a million lambda calls, each building a list.
        ("range(1000000).select(range(100)).len()", n.clone(), "takes too much work (more than 3000000 steps)"),
        // Memory: one value of 20 MB, built from parts each within the limits.
        (
            "let(s => 'x' * 1000000) -> [$s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s, $s]",
            n.clone(),
            "a value of the expression is too large (its limit is 2000000 units",
        ),
    ]);
    // Time: the clock is read as the steps add up; with no time left, the evaluation stops.
    let expression = parse("range(100000).select($ * 2).len()").expect("parses");
    let evaluator = eval::Evaluator::with_time_limit(&TestHost, std::time::Duration::ZERO);
    let error = evaluator.eval(&expression.tree, &eval::Scope::root(&n)).expect_err("out of time");
    assert_eq!(error.message, "expression takes too long (more than 0 ms)");
    // YAQL has no exponent notation: `1e9` is refused as it is read.
    assert!(matches!(run("range(1e9)", &n), Err(RunError::Syntax(e)) if e.message.contains("invalid number")));
    let deep = format!("{}1{}", "(".repeat(parser::MAX_DEPTH + 1), ")".repeat(parser::MAX_DEPTH + 1));
    assert!(matches!(run(&deep, &n), Err(RunError::Syntax(e)) if e.message.contains("nested too deeply")));
}
