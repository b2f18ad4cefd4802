//! The library functions on lists and dicts whose arguments are plain values: `dict`, `len`,
//! `keys`, `get`, `first`, `sum`, `max`, `flatten`, `range` and the like.
//!
//! Owns: YAQL's semantics for them (`sum` and `max` reduce with the `+` and `>` operators,
//! `first` of an empty list is an error without a default, `range` is Python's). Must not:
//! take lambdas (`queries` does) or call the host.

use serde_json::{Map, Value};

use super::EvalError;
use super::eval::Evaluator;
use super::library::{Args, Param};
use super::ops::{self, MAX_REPEAT};
use super::strings;
use super::values::{a_type, compare, err, incomparable, key_string, py_eq};

/// Arguments bound to parameters.
type Bound<'a> = Vec<Option<&'a Value>>;

/// A bound argument the binder guarantees (it was required).
fn need<'a>(slots: &[Option<&'a Value>], i: usize, name: &str) -> Result<&'a Value, EvalError> {
    slots.get(i).copied().flatten().ok_or_else(|| err(format!("{name}() is missing an argument")))
}

/// The first bound argument as a list.
fn list_arg<'a>(a: &'a Args, params: &[&str], required: usize) -> Result<(&'a [Value], Bound<'a>), EvalError> {
    let slots = a.bind(params, required)?;
    let items = Param(a.name, params[0]).list(need(&slots, 0, a.name)?)?;
    Ok((items, slots))
}

fn dict_arg<'a>(
    a: &'a Args,
    params: &[&str],
    required: usize,
) -> Result<(&'a Map<String, Value>, Bound<'a>), EvalError> {
    let slots = a.bind(params, required)?;
    let map = Param(a.name, params[0]).dict(need(&slots, 0, a.name)?)?;
    Ok((map, slots))
}

/// `dict(a => 1, b => 2)` or `dict([[key, value], ...])`; keys that are not strings become text.
pub(crate) fn dict(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    match (a.values.as_slice(), a.named.is_empty()) {
        ([], _) => Ok(Value::Object(a.named.clone())),
        ([pairs], true) => {
            let mut out = Map::new();
            for pair in Param("dict", "items").list(pairs)? {
                match pair.as_array().map(Vec::as_slice) {
                    Some([key, value, ..]) => {
                        out.insert(key_string(key), value.clone());
                    }
                    _ => return Err(err(format!("dict() expects [key, value] pairs, got {}", a_type(pair)))),
                }
            }
            Ok(Value::Object(out))
        }
        _ => Err(err("dict() takes either key => value pairs or one list of [key, value] pairs")),
    }
}

/// `len()` of a string (in characters), list or dict.
pub(crate) fn len(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    match need(&slots, 0, a.name)? {
        Value::String(s) => Ok(Value::from(s.chars().count())),
        Value::Array(items) => Ok(Value::from(items.len())),
        Value::Object(map) => Ok(Value::from(map.len())),
        other => Err(err(format!("len() expects a string, list or dict, got {}", a_type(other)))),
    }
}

pub(crate) fn count(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, _) = list_arg(a, &["collection"], 1)?;
    Ok(Value::from(items.len()))
}

pub(crate) fn keys(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, _) = dict_arg(a, &["dict"], 1)?;
    Ok(Value::Array(map.keys().cloned().map(Value::String).collect()))
}

pub(crate) fn values(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, _) = dict_arg(a, &["dict"], 1)?;
    Ok(Value::Array(map.values().cloned().collect()))
}

/// `items()`: `[key, value]` pairs.
pub(crate) fn items(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, _) = dict_arg(a, &["dict"], 1)?;
    Ok(Value::Array(map.iter().map(|(k, v)| Value::Array(vec![Value::String(k.clone()), v.clone()])).collect()))
}

/// `get(key, default => null)`.
pub(crate) fn get(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, slots) = dict_arg(a, &["dict", "key", "default"], 2)?;
    let key = key_string(need(&slots, 1, a.name)?);
    Ok(map.get(&key).or(slots[2]).cloned().unwrap_or(Value::Null))
}

pub(crate) fn contains_key(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, slots) = dict_arg(a, &["dict", "key"], 2)?;
    Ok(Value::Bool(ops::contains_key(map, need(&slots, 1, a.name)?)))
}

pub(crate) fn contains_value(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (map, slots) = dict_arg(a, &["dict", "value"], 2)?;
    let value = need(&slots, 1, a.name)?;
    Ok(Value::Bool(map.values().any(|v| py_eq(v, value))))
}

/// `contains(value)`: an item of a list (or, beyond YAQL, a substring of a string).
pub(crate) fn contains(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "value"], 2)?;
    match (need(&slots, 0, a.name)?, need(&slots, 1, a.name)?) {
        (Value::String(haystack), Value::String(needle)) => Ok(Value::Bool(haystack.contains(needle.as_str()))),
        (collection, value) => {
            let items = Param(a.name, "collection").list(collection)?;
            Ok(Value::Bool(items.iter().any(|item| py_eq(item, value))))
        }
    }
}

fn first_or_last(a: &Args, last: bool) -> Result<Value, EvalError> {
    let (items, slots) = list_arg(a, &["collection", "default"], 1)?;
    let found = if last { items.last() } else { items.first() };
    match found.or(slots[1]) {
        Some(value) => Ok(value.clone()),
        None => Err(err(format!("{}() of an empty collection (give a default)", a.name))),
    }
}

pub(crate) fn first(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    first_or_last(a, false)
}

pub(crate) fn last(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    first_or_last(a, true)
}

pub(crate) fn single(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, _) = list_arg(a, &["collection"], 1)?;
    match items {
        [only] => Ok(only.clone()),
        _ => Err(err(format!("single() expects exactly one item, got {}", items.len()))),
    }
}

/// Folds `items` with `step`, starting from `initial` or else the first item.
fn reduce(
    a: &Args,
    items: &[Value],
    initial: Option<&Value>,
    step: impl Fn(Value, &Value) -> Result<Value, EvalError>,
) -> Result<Value, EvalError> {
    let mut rest = items.iter();
    let Some(mut acc) = initial.or_else(|| rest.next()).cloned() else {
        return Err(err(format!("{}() of an empty collection needs an initial value", a.name)));
    };
    for item in rest {
        acc = step(acc, item)?;
    }
    Ok(acc)
}

/// `sum(initial => none)`: the items added with `+`.
pub(crate) fn sum(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, slots) = list_arg(a, &["collection", "initial"], 1)?;
    reduce(a, items, slots[1], |acc, item| ops::add(acc, item.clone()))
}

/// The larger (or smaller) of two values, by the `>` operator.
fn pick(name: &str, x: Value, y: &Value, larger: bool) -> Result<Value, EvalError> {
    let greater = compare(y, &x).ok_or_else(|| incomparable(&format!("{name}()"), &x, y))?.is_gt();
    Ok(if greater == larger { y.clone() } else { x })
}

/// `max(a, b)`, or `collection.max(initial => none)`.
fn extreme(a: &Args, larger: bool) -> Result<Value, EvalError> {
    if !a.method && a.values.len() == 2 && a.named.is_empty() {
        return pick(a.name, a.values[0].clone(), &a.values[1], larger);
    }
    let (items, slots) = list_arg(a, &["collection", "initial"], 1)?;
    reduce(a, items, slots[1], |acc, item| pick(a.name, acc, item, larger))
}

pub(crate) fn max(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    extreme(a, true)
}

pub(crate) fn min(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    extreme(a, false)
}

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::Array(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

/// `flatten()`: nested lists spliced in, at every depth.
pub(crate) fn flatten(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, _) = list_arg(a, &["collection"], 1)?;
    let mut out = Vec::new();
    flatten_into(items, &mut out);
    Ok(Value::Array(out))
}

/// `concat(...)`: strings joined, or lists concatenated.
pub(crate) fn concat(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let values = a.positional_only()?;
    if values.iter().all(Value::is_string) {
        return Ok(Value::String(values.iter().filter_map(Value::as_str).collect()));
    }
    let mut out = Vec::new();
    for value in values {
        out.extend(Param("concat", "collections").list(value)?.iter().cloned());
    }
    Ok(Value::Array(out))
}

fn count_arg(a: &Args, value: &Value) -> Result<usize, EvalError> {
    Ok(usize::try_from(Param(a.name, "count").int(value)?).unwrap_or(0))
}

pub(crate) fn skip(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, slots) = list_arg(a, &["collection", "count"], 2)?;
    let n = count_arg(a, need(&slots, 1, a.name)?)?;
    Ok(Value::Array(items.iter().skip(n).cloned().collect()))
}

/// `take(n)`, also `limit(n)`.
pub(crate) fn take(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, slots) = list_arg(a, &["collection", "count"], 2)?;
    let n = count_arg(a, need(&slots, 1, a.name)?)?;
    Ok(Value::Array(items.iter().take(n).cloned().collect()))
}

pub(crate) fn reverse(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, _) = list_arg(a, &["collection"], 1)?;
    Ok(Value::Array(items.iter().rev().cloned().collect()))
}

/// `enumerate(start => 0)`: `[index, item]` pairs.
pub(crate) fn enumerate(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, slots) = list_arg(a, &["collection", "start"], 1)?;
    let start = slots[1].map(|s| Param(a.name, "start").int(s)).transpose()?.unwrap_or(0);
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let index = i64::try_from(i)
            .ok()
            .and_then(|i| i.checked_add(start))
            .ok_or_else(|| err("enumerate() index overflow"))?;
        out.push(Value::Array(vec![Value::from(index), item.clone()]));
    }
    Ok(Value::Array(out))
}

/// `append(values...)`: the collection with the values added at the end.
pub(crate) fn append(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let values = a.exactly(1, usize::MAX)?;
    let mut out = Param(a.name, "collection").list(&values[0])?.clone();
    out.extend(values[1..].iter().cloned());
    Ok(Value::Array(out))
}

pub(crate) fn to_list(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let (items, _) = list_arg(a, &["collection"], 1)?;
    Ok(Value::Array(items.to_vec()))
}

fn find_item(a: &Args, from_end: bool) -> Result<Value, EvalError> {
    if a.values.first().is_some_and(Value::is_string) {
        return strings::find(a, from_end);
    }
    let (items, slots) = list_arg(a, &["collection", "item"], 2)?;
    let item = need(&slots, 1, a.name)?;
    let mut positions = items.iter().enumerate().filter(|(_, t)| py_eq(t, item)).map(|(i, _)| i);
    let found = if from_end { positions.next_back() } else { positions.next() };
    Ok(found.map_or(Value::from(-1), Value::from))
}

/// `indexOf(item)` in a list (-1 when absent); on a string, the position of a substring.
pub(crate) fn index_of(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    find_item(a, false)
}

pub(crate) fn last_index_of(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    find_item(a, true)
}

/// `range(stop)` or `range(start, stop, step => 1)`, as Python's.
pub(crate) fn range(ev: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["start", "stop", "step"], 1)?;
    let int = |i: usize, name: &str| slots[i].map(|v| Param("range", name).int(v)).transpose();
    let (start, stop) = match int(1, "stop")? {
        Some(stop) => (int(0, "start")?.unwrap_or(0), stop),
        None => (0, int(0, "stop")?.unwrap_or(0)),
    };
    let step = int(2, "step")?.unwrap_or(1);
    if step == 0 {
        return Err(err("range() step must not be zero"));
    }
    let span = if step > 0 { i128::from(stop) - i128::from(start) } else { i128::from(start) - i128::from(stop) };
    let count = if span <= 0 { 0 } else { (span - 1) / i128::from(step).abs() + 1 };
    if count > MAX_REPEAT as i128 {
        return Err(err(format!("range() would have more than {MAX_REPEAT} items")));
    }
    ev.charge(u64::try_from(count).unwrap_or(u64::MAX))?;
    let item =
        |i: i128| i64::try_from(i128::from(start) + i * i128::from(step)).map(Value::from).unwrap_or(Value::Null);
    Ok(Value::Array((0..count).map(item).collect()))
}

/// `dict.set(key, value)`, `dict.set(replacements)` or `dict.set(key => value, ...)`: a copy
/// with those keys set. (YAQL's `set(...)` of values builds a set, which JSON has not.)
pub(crate) fn set(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let Some(Value::Object(map)) = a.values.first() else {
        return Err(err("set() needs a dict to set keys in (sets of values are not supported)"));
    };
    let mut out = map.clone();
    match (&a.values[1..], a.named.is_empty()) {
        ([key, value], true) => {
            out.insert(key_string(key), value.clone());
        }
        ([Value::Object(replacements)], true) => out.extend(replacements.clone()),
        ([], false) => out.extend(a.named.clone()),
        _ => return Err(err("set() takes a key and a value, a dict of replacements, or key => value pairs")),
    }
    Ok(Value::Object(out))
}

pub(crate) fn is_list(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    Ok(Value::Bool(need(&slots, 0, a.name)?.is_array()))
}

pub(crate) fn is_dict(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    Ok(Value::Bool(need(&slots, 0, a.name)?.is_object()))
}

/// `isEmpty()`: null, or a string of only whitespace; beyond YAQL, an empty list or dict too.
pub(crate) fn is_empty(_: &Evaluator, a: &Args) -> Result<Value, EvalError> {
    let slots = a.bind(&["value"], 1)?;
    Ok(Value::Bool(match need(&slots, 0, a.name)? {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        other => return Err(err(format!("isEmpty() expects a string, list or dict, got {}", a_type(other)))),
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{check_errors, check_values};

    #[test]
    fn collections() {
        let d = json!({"d": {"a": 1, "b": null}, "l": [3, 1, 2]});
        check_values(&[
            ("dict(a => 1, 'b' => 2, 3 => x)", json!(null), json!({"a": 1, "b": 2, "3": "x"})),
            ("dict([[a, 1], [true, 2]])", json!(null), json!({"a": 1, "true": 2})),
            ("dict()", json!(null), json!({})),
            ("len('héllo') + len([1]) + {a => 1}.len()", json!(null), json!(7)),
            ("$.l.count()", d.clone(), json!(3)),
            ("$.d.keys()", d.clone(), json!(["a", "b"])),
            ("$.d.values()", d.clone(), json!([1, null])),
            ("$.d.items()", d.clone(), json!([["a", 1], ["b", null]])),
            ("$.d.get(a)", d.clone(), json!(1)),
            ("$.d.get(b, 5)", d.clone(), json!(null)),
            ("$.d.get(c, default => 5)", d.clone(), json!(5)),
            ("$.d.get(c)", d.clone(), json!(null)),
            ("[$.d.containsKey(b), $.d.containsKey(c), $.d.containsValue(1)]", d.clone(), json!([true, false, true])),
            ("[$.l.contains(2), $.l.contains(5), 'abc'.contains(b)]", d.clone(), json!([true, false, true])),
            (
                "[$.l.first(), $.l.last(), [].first(0), [].last(default => 9), [7].single()]",
                d.clone(),
                json!([3, 2, 0, 9, 7]),
            ),
            ("[$.l.sum(), [].sum(0), [[1], [2]].sum(), ['a', 'b'].sum()]", d.clone(), json!([6, 0, [1, 2], "ab"])),
            (
                "[$.l.max(), $.l.min(), max(1, 2.5), min('a', 'b'), [].max(0), max(null, 1)]",
                d.clone(),
                json!([3, 1, 2.5, "a", 0, 1]),
            ),
            ("[1, [2, [3, [4]]], []].flatten()", json!(null), json!([1, 2, 3, 4])),
            ("[concat('a', 'b'), concat([1], [2, 3]), [1].concat([2])]", json!(null), json!(["ab", [1, 2, 3], [1, 2]])),
            (
                "[$.l.skip(1), $.l.take(2), $.l.limit(0), $.l.reverse()]",
                d.clone(),
                json!([[1, 2], [3, 1], [], [2, 1, 3]]),
            ),
            ("[a, b].enumerate(1)", json!(null), json!([[1, "a"], [2, "b"]])),
            ("[1].append(2, 3)", json!(null), json!([1, 2, 3])),
            ("[$.l.indexOf(1), $.l.indexOf(9), [1, 2, 1].lastIndexOf(1)]", d.clone(), json!([1, -1, 2])),
            (
                "[range(3), range(1, 4), range(5, 0, -2), range(2, 1)]",
                json!(null),
                json!([[0, 1, 2], [1, 2, 3], [5, 3, 1], []]),
            ),
            (
                "[isList([]), isDict({}), isList({}), isEmpty(''), isEmpty(' '), isEmpty(null), isEmpty([1])]",
                json!(null),
                json!([true, true, false, true, true, true, false]),
            ),
            ("$.l.toList()", d.clone(), json!([3, 1, 2])),
            (
                "[$.d.set(a, 5), $.d.set({c => 1}), $.d.set(b => 2, z => 3)]",
                d.clone(),
                json!([{"a": 5, "b": null}, {"a": 1, "b": null, "c": 1}, {"a": 1, "b": 2, "z": 3}]),
            ),
        ]);
        check_errors(&[
            ("[].first()", json!(null), "first() of an empty collection (give a default)"),
            ("[].sum()", json!(null), "sum() of an empty collection needs an initial value"),
            ("[1, 'a'].max()", json!(null), "max() cannot compare"),
            ("$.keys()", json!([1]), "keys() expects a dict for \"dict\", got a list"),
            ("len(1)", json!(null), "len() expects a string, list or dict, got an integer"),
            ("dict([1])", json!(null), "dict() expects [key, value] pairs, got an integer"),
            ("dict([[a, 1]], b => 2)", json!(null), "dict() takes either"),
            ("range(0, 10, 0)", json!(null), "range() step must not be zero"),
            ("range(100000000)", json!(null), "range() would have more than"),
            ("[1, 2].single()", json!(null), "single() expects exactly one item, got 2"),
            ("[1].skip(a)", json!(null), "skip() expects an integer for \"count\", got a string"),
            ("$.get()", json!({}), "get() is missing its argument \"key\""),
            ("set(1, 2)", json!(null), "set() needs a dict"),
            ("{}.set(1)", json!(null), "set() takes a key and a value"),
        ]);
    }
}
