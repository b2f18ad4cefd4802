//! The library functions that take lambdas or evaluate their own arguments: `select`, `where`,
//! `selectMany`, `orderBy`, `groupBy`, `distinct`, `any`, `all`, `takeWhile`, `skipWhile`,
//! `toDict`, `switch`, `let` and `list`.
//!
//! Owns: evaluating a lambda argument once per item with `$` bound to the item, in the order
//! YAQL does. Must not: evaluate a lambda before its function asks for it.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::EvalError;
use super::ast::Expr;
use super::eval::Evaluator;
use super::library::{LazyArgs, Param, Slot, lookup};
use super::values::{compare, err, identity, incomparable, key_string, truthy};

/// A bound argument the binder guarantees (it was required).
fn need<'a>(slots: &[Option<Slot<'a>>], i: usize, name: &str) -> Result<Slot<'a>, EvalError> {
    slots.get(i).copied().flatten().ok_or_else(|| err(format!("{name}() is missing an argument")))
}

/// The collection argument (a list), evaluated.
fn items(ev: &Evaluator, a: &LazyArgs, slot: Slot) -> Result<Vec<Value>, EvalError> {
    match ev.value(slot, a.scope)? {
        Value::Array(items) => Ok(items),
        other => Param(a.name, "collection").list(&other).cloned(),
    }
}

/// The collection and one lambda: `collection.f(lambda)`.
fn collection_and_lambda<'a>(ev: &Evaluator, a: &'a LazyArgs) -> Result<(Vec<Value>, Slot<'a>), EvalError> {
    let slots = a.bind(&["collection", "selector"], 2)?;
    Ok((items(ev, a, need(&slots, 0, a.name)?)?, need(&slots, 1, a.name)?))
}

/// `let(...)` outside `->`: evaluates its arguments and gives null.
pub(crate) fn let_(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    for expr in a.exprs.iter().chain(a.named.iter().map(|(_, v)| v)) {
        ev.eval(expr, a.scope)?;
    }
    Ok(Value::Null)
}

/// `list(a, b, ...)`: its arguments as a list; an argument that is an iterator in YAQL (the
/// result of `select`, `range`, `keys`...) is unpacked into it, a list value is not.
pub(crate) fn list(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    if !a.named.is_empty() {
        return Err(err("list() takes no named arguments"));
    }
    let mut out: Vec<Value> = a.receiver.iter().cloned().collect();
    for expr in a.exprs {
        let value = ev.eval(expr, a.scope)?;
        let unpack = matches!(expr, Expr::Call(call) if lookup(&call.name).is_some_and(|e| e.iterates));
        match value {
            Value::Array(inner) if unpack => out.extend(inner),
            other => out.push(other),
        }
    }
    Ok(Value::Array(out))
}

/// `switch(condition => value, ...)`: the value of the first true condition, else null.
pub(crate) fn switch(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    if a.receiver.is_some() || !a.exprs.is_empty() {
        return Err(err("switch() takes only condition => value pairs"));
    }
    for (condition, value) in a.named {
        if truthy(&ev.eval(condition, a.scope)?) {
            return ev.eval(value, a.scope);
        }
    }
    Ok(Value::Null)
}

pub(crate) fn select(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let (items, selector) = collection_and_lambda(ev, a)?;
    items.iter().map(|item| ev.apply(selector, a.scope, item)).collect::<Result<_, _>>().map(Value::Array)
}

pub(crate) fn where_(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let (items, predicate) = collection_and_lambda(ev, a)?;
    let mut out = Vec::new();
    for item in items {
        if truthy(&ev.apply(predicate, a.scope, &item)?) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

/// `selectMany(selector)`: selected lists are spliced in, other values added as they are.
pub(crate) fn select_many(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let (items, selector) = collection_and_lambda(ev, a)?;
    let mut out = Vec::new();
    for item in &items {
        match ev.apply(selector, a.scope, item)? {
            Value::Array(inner) => out.extend(inner),
            other => out.push(other),
        }
    }
    Ok(Value::Array(out))
}

/// The number of leading items for which the predicate holds.
fn leading(ev: &Evaluator, a: &LazyArgs, items: &[Value], predicate: Slot) -> Result<usize, EvalError> {
    for (i, item) in items.iter().enumerate() {
        if !truthy(&ev.apply(predicate, a.scope, item)?) {
            return Ok(i);
        }
    }
    Ok(items.len())
}

pub(crate) fn take_while(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let (mut items, predicate) = collection_and_lambda(ev, a)?;
    let n = leading(ev, a, &items, predicate)?;
    items.truncate(n);
    Ok(Value::Array(items))
}

pub(crate) fn skip_while(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let (mut items, predicate) = collection_and_lambda(ev, a)?;
    let n = leading(ev, a, &items, predicate)?;
    Ok(Value::Array(items.split_off(n)))
}

/// `distinct(keySelector => null)`: the first item of each distinct key, in order.
pub(crate) fn distinct(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "keySelector"], 1)?;
    let items = items(ev, a, need(&slots, 0, a.name)?)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        let key = match slots[1] {
            Some(selector) => identity(&ev.apply(selector, a.scope, &item)?),
            None => identity(&item),
        };
        if seen.insert(key) {
            out.push(item);
        }
    }
    Ok(Value::Array(out))
}

/// `groupBy(keySelector, valueSelector => null, aggregator => null)`: `[key, [values]]` pairs
/// in order of first appearance, each passed through the aggregator when one is given.
pub(crate) fn group_by(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "keySelector", "valueSelector", "aggregator"], 2)?;
    let items = items(ev, a, need(&slots, 0, a.name)?)?;
    let key_selector = need(&slots, 1, a.name)?;
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for item in &items {
        let key = ev.apply(key_selector, a.scope, item)?;
        let value = match slots[2] {
            Some(selector) => ev.apply(selector, a.scope, item)?,
            None => item.clone(),
        };
        let at = *index.entry(identity(&key)).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[at].1.push(value);
    }
    let pairs = groups.into_iter().map(|(key, values)| Value::Array(vec![key, Value::Array(values)]));
    match slots[3] {
        Some(aggregator) => {
            pairs.map(|pair| ev.apply(aggregator, a.scope, &pair)).collect::<Result<_, _>>().map(Value::Array)
        }
        None => Ok(Value::Array(pairs.collect())),
    }
}

fn sort(ev: &Evaluator, a: &LazyArgs, descending: bool) -> Result<Value, EvalError> {
    let (items, selector) = collection_and_lambda(ev, a)?;
    let keys = items.iter().map(|item| ev.apply(selector, a.scope, item)).collect::<Result<Vec<_>, _>>()?;
    let mut order: Vec<usize> = (0..items.len()).collect();
    let mut failure = None;
    order.sort_by(|&x, &y| match compare(&keys[x], &keys[y]) {
        Some(o) if descending => o.reverse(),
        Some(o) => o,
        None => {
            failure.get_or_insert_with(|| incomparable(&format!("{}()", a.name), &keys[x], &keys[y]));
            Ordering::Equal
        }
    });
    if let Some(failure) = failure {
        return Err(failure);
    }
    let mut slots: Vec<Option<Value>> = items.into_iter().map(Some).collect();
    Ok(Value::Array(order.into_iter().filter_map(|i| slots[i].take()).collect()))
}

/// `orderBy(selector)`: a stable sort by the selected keys.
pub(crate) fn order_by(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    sort(ev, a, false)
}

pub(crate) fn order_by_descending(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    sort(ev, a, true)
}

/// `any(predicate => null)`: without a predicate, whether the collection has an item.
pub(crate) fn any(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "predicate"], 1)?;
    let items = items(ev, a, need(&slots, 0, a.name)?)?;
    let Some(predicate) = slots[1] else { return Ok(Value::Bool(!items.is_empty())) };
    for item in &items {
        if truthy(&ev.apply(predicate, a.scope, item)?) {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

/// `all(predicate => null)`: without a predicate, whether every item is true.
pub(crate) fn all(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "predicate"], 1)?;
    let items = items(ev, a, need(&slots, 0, a.name)?)?;
    for item in &items {
        let holds = match slots[1] {
            Some(predicate) => truthy(&ev.apply(predicate, a.scope, item)?),
            None => truthy(item),
        };
        if !holds {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

/// `toDict(keySelector, valueSelector => null)`; keys become text.
pub(crate) fn to_dict(ev: &Evaluator, a: &LazyArgs) -> Result<Value, EvalError> {
    let slots = a.bind(&["collection", "keySelector", "valueSelector"], 2)?;
    let items = items(ev, a, need(&slots, 0, a.name)?)?;
    let key_selector = need(&slots, 1, a.name)?;
    let mut out = Map::new();
    for item in &items {
        let key = key_string(&ev.apply(key_selector, a.scope, item)?);
        let value = match slots[2] {
            Some(selector) => ev.apply(selector, a.scope, item)?,
            None => item.clone(),
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{check_errors, check_values};

    #[test]
    fn queries() {
        let data = json!({
            "vms": [
                {"name": "web1", "region": "east", "size": 2},
                {"name": "db1", "region": "east", "size": 8},
                {"name": "web2", "region": "west", "size": 4}
            ],
            "nums": [3, 1, 2, 3, 1]
        });
        check_values(&[
            ("$.vms.select($.name)", data.clone(), json!(["web1", "db1", "web2"])),
            ("$.vms.map($.size * 2)", data.clone(), json!([4, 16, 8])),
            ("$.vms.where($.size > 2).select($.name)", data.clone(), json!(["db1", "web2"])),
            ("$.vms.filter($.region = west).len()", data.clone(), json!(1)),
            ("$.vms.selectMany([$.name, $.size])", data.clone(), json!(["web1", 2, "db1", 8, "web2", 4])),
            ("$.vms.selectMany($.name)", data.clone(), json!(["web1", "db1", "web2"])),
            ("$.vms.orderBy($.size).select($.name)", data.clone(), json!(["web1", "web2", "db1"])),
            ("$.vms.orderByDescending($.name).select($.size)", data.clone(), json!([4, 2, 8])),
            ("$.nums.orderBy($)", data.clone(), json!([1, 1, 2, 3, 3])),
            ("$.nums.distinct()", data.clone(), json!([3, 1, 2])),
            ("$.vms.distinct($.region).select($.name)", data.clone(), json!(["web1", "web2"])),
            ("[1, 1.0, true, '1'].distinct()", json!(null), json!([1, "1"])),
            ("$.vms.groupBy($.region, $.name)", data.clone(), json!([["east", ["web1", "db1"]], ["west", ["web2"]]])),
            (
                "$.vms.groupBy($.region, aggregator => [$[0], $[1].len()])",
                data.clone(),
                json!([["east", 2], ["west", 1]]),
            ),
            ("$.vms.any($.size > 7)", data.clone(), json!(true)),
            ("$.vms.all($.size > 7)", data.clone(), json!(false)),
            ("[].any()", json!(null), json!(false)),
            ("[0].any()", json!(null), json!(true)),
            ("[1, 0].all()", json!(null), json!(false)),
            ("[].all($ > 1)", json!(null), json!(true)),
            ("$.nums.takeWhile($ > 2)", data.clone(), json!([3])),
            ("$.nums.skipWhile($ > 2)", data.clone(), json!([1, 2, 3, 1])),
            ("$.vms.toDict($.name, $.size)", data.clone(), json!({"web1": 2, "db1": 8, "web2": 4})),
            ("[1, 2].toDict($)", json!(null), json!({"1": 1, "2": 2})),
            ("select($.nums, $ + 1)", data.clone(), json!([4, 2, 3, 4, 2])),
            ("$.nums.select($ + [$.len()])", json!({"nums": [[1], [2, 3]]}), json!([[1, 1], [2, 3, 2]])),
            ("switch($ > 5 => big, $ > 1 => medium, true => small)", json!(3), json!("medium")),
            ("switch($ > 5 => big)", json!(3), json!(null)),
            ("list(1, [2], range(3, 5), $.nums.select($))", json!({"nums": [7]}), json!([1, [2], 3, 4, 7])),
            ("list()", json!(null), json!([])),
            ("let(x => 1)", json!(null), json!(null)),
        ]);
        check_errors(&[
            ("$.select($)", json!({"a": 1}), "select() expects a list for \"collection\", got a dict"),
            ("[1].select()", json!(null), "select() is missing its argument \"selector\""),
            ("[1].select($, $)", json!(null), "select() takes at most 1 argument besides its receiver (2 given)"),
            ("[1, 'a'].orderBy($)", json!(null), "orderBy() cannot compare"),
            ("[1].distinct(key => $)", json!(null), "distinct() has no argument named \"key\""),
            ("[1].where($ + 'a')", json!(null), "operator \"+\" does not apply to an integer and a string"),
            ("switch(1)", json!(null), "switch() takes only condition => value pairs"),
            ("list(a => 1)", json!(null), "list() takes no named arguments"),
        ]);
    }
}
