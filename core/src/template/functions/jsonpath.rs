//! JSONPath as `jsonpath-rw` 1.4 (which StackStorm's `jsonpath_query` uses) reads and
//! evaluates it: `$`, `a.b`, `a..b`, `*`, `a,b`, `[0]`, `[-1]`, `[*]`, `[1:3]`, `['x y']`,
//! `a where b`, `a | b`, `` `this` ``, `` `parent` `` and parentheses, with its precedence
//! (`..` below `.` below `|` below `where`) and its lexer and parser error texts.
//!
//! Owns: finding a query's matches in a value (`parse` reads the query). A slice of something that is not
//! a list matches the thing itself (jsonpath-rw wraps it in a list first; only `` `parent` ``
//! could tell the difference), and an index into a string finds nothing (jsonpath-rw finds
//! the character) *(here)*. Must not: know what a function returns for no match.

mod parse;

use serde_json::Value;

use self::parse::Path;
use super::FunctionError;
use super::signature::python_type;

/// The values `query` finds in `value`, in order.
pub(super) fn find(value: &Value, query: &str) -> Result<Vec<Value>, FunctionError> {
    let path = parse::parse(query)?;
    let mut arena = vec![Node { value: Some(value), parent: None }];
    let found = path.find(&mut arena, 0)?;
    found.into_iter().map(|at| arena[at].value.cloned().ok_or_else(no_parent)).collect()
}

fn no_parent() -> FunctionError {
    FunctionError::NoAttribute("'NoneType' object has no attribute 'value'".to_string())
}

/// A value found, and where it was found (`None` is the parent of the top).
struct Node<'a> {
    value: Option<&'a Value>,
    parent: Option<usize>,
}

impl Path {
    /// The nodes this path finds from node `at`, added to `arena`.
    fn find<'a>(&self, arena: &mut Vec<Node<'a>>, at: usize) -> Result<Vec<usize>, FunctionError> {
        let child = |arena: &mut Vec<Node<'a>>, value: &'a Value| {
            arena.push(Node { value: Some(value), parent: Some(at) });
            arena.len() - 1
        };
        let value = arena[at].value;
        match self {
            Path::Root => {
                let mut top = at;
                while let Some(parent) = arena[top].parent {
                    top = parent;
                }
                Ok(vec![top])
            }
            Path::This => Ok(vec![at]),
            Path::Parent => match arena[at].parent {
                Some(parent) => Ok(vec![parent]),
                None => {
                    arena.push(Node { value: None, parent: None });
                    Ok(vec![arena.len() - 1])
                }
            },
            Path::Fields(names) => {
                let Some(Value::Object(map)) = value else { return Ok(Vec::new()) };
                let names: Vec<&String> =
                    if names.iter().any(|n| n == "*") { map.keys().collect() } else { names.iter().collect() };
                Ok(names.into_iter().filter_map(|name| map.get(name)).map(|found| child(arena, found)).collect())
            }
            Path::Index(index) => {
                index_of(value, *index).map(|found| found.map(|v| child(arena, v)).into_iter().collect())
            }
            Path::Slice(start, end) => match value {
                Some(Value::Array(items)) => {
                    let range = slice_range(items.len(), *start, *end);
                    Ok(items[range].iter().map(|item| child(arena, item)).collect())
                }
                // jsonpath-rw slices a dict, a string or an integer as a list of itself.
                Some(Value::Object(_) | Value::String(_) | Value::Bool(_)) => {
                    Ok(if slice_range(1, *start, *end).is_empty() { Vec::new() } else { vec![at] })
                }
                Some(Value::Number(n)) if !n.is_f64() => {
                    Ok(if slice_range(1, *start, *end).is_empty() { Vec::new() } else { vec![at] })
                }
                other => Err(no_len(other)),
            },
            Path::Child(left, right) => {
                let mut found = Vec::new();
                for sub in left.find(arena, at)? {
                    found.extend(right.find(arena, sub)?);
                }
                Ok(found)
            }
            Path::Where(left, right) => {
                let mut found = Vec::new();
                for sub in left.find(arena, at)? {
                    if !right.find(arena, sub)?.is_empty() {
                        found.push(sub);
                    }
                }
                Ok(found)
            }
            Path::Union(left, right) => {
                let mut found = left.find(arena, at)?;
                found.extend(right.find(arena, at)?);
                Ok(found)
            }
            Path::Intersect(..) => Err(FunctionError::Unsupported(String::new())),
            Path::Descendants(left, right) => {
                let mut found = Vec::new();
                for sub in left.find(arena, at)? {
                    descend(right, arena, sub, &mut found)?;
                }
                Ok(found)
            }
        }
    }
}

/// `right`'s matches at `at`, then at every item and field below it, depth first.
fn descend<'a>(
    right: &Path,
    arena: &mut Vec<Node<'a>>,
    at: usize,
    found: &mut Vec<usize>,
) -> Result<(), FunctionError> {
    found.extend(right.find(arena, at)?);
    let children: Vec<&'a Value> = match arena[at].value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => map.values().collect(),
        _ => Vec::new(),
    };
    for value in children {
        arena.push(Node { value: Some(value), parent: Some(at) });
        let child = arena.len() - 1;
        descend(right, arena, child, found)?;
    }
    Ok(())
}

fn no_len(value: Option<&Value>) -> FunctionError {
    let kind = value.map_or("NoneType", python_type);
    FunctionError::WrongType(format!("object of type '{kind}' has no len()"))
}

/// `[index]` of a value: an item of a list (or character of a string; negative counts from
/// the end); nothing for a value Python finds false; an error where Python's fails.
fn index_of(value: Option<&Value>, index: i64) -> Result<Option<&Value>, FunctionError> {
    let Some(value) = value.filter(|v| super::signature::truthy(v)) else { return Ok(None) };
    let len = match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        Value::String(text) => text.chars().count(),
        other => return Err(no_len(Some(other))),
    };
    let len = i64::try_from(len).unwrap_or(i64::MAX);
    if len <= index {
        return Ok(None);
    }
    match value {
        Value::Array(items) => {
            let at = if index < 0 { index + len } else { index };
            usize::try_from(at)
                .ok()
                .and_then(|at| items.get(at))
                .map(Some)
                .ok_or_else(|| FunctionError::NoSuchIndex("list index out of range".to_string()))
        }
        Value::Object(_) => Err(FunctionError::MissingKey(index.to_string())),
        // A character is a new value; jsonpath-rw finds `'abc'[0]` as `'a'`, which st2d does
        // not keep (a query over text finds nothing) *(here)*.
        _ => Ok(None),
    }
}

/// Python's `range(len)[start:end]` as a range of indexes.
fn slice_range(len: usize, start: Option<i64>, end: Option<i64>) -> std::ops::Range<usize> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let clamp = |bound: i64| -> usize {
        let bound = if bound < 0 { (bound + len_i).max(0) } else { bound.min(len_i) };
        usize::try_from(bound).unwrap_or(0)
    };
    let start = start.map_or(0, clamp);
    let end = end.map_or(len, clamp);
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn queries_find_what_jsonpath_rw_finds() {
        // st2common/tests/unit/test_jinja_render_jsonpath_query_filters.py
        let people = json!({
            "people": [{"first": "James", "last": "d"}, {"first": "Jacob", "last": "e"}, {"first": "Jayden", "last": "f"}, {"missing": "different"}],
            "foo": {"bar": "baz"}
        });
        let cases = [
            ("people[*].first", json!(["James", "Jacob", "Jayden"])),
            ("$.foo.bar", json!(["baz"])),
            ("people[0].last", json!(["d"])),
            ("people[-1].missing", json!(["different"])),
            ("people[1:3].first", json!(["Jacob", "Jayden"])),
            ("$..bar", json!(["baz"])),
            ("foo.*", json!(["baz"])),
            ("people[*] where missing", json!([{"missing": "different"}])),
            ("people[0].first,last", json!(["James", "d"])),
            ("foo.bar | foo", json!(["baz"])),
            ("foo[*]", json!([{"bar": "baz"}])),
            ("foo[1:]", json!([])),
            ("(foo | people[3]).bar", json!(["baz"])),
            ("foo.`this`.bar", json!(["baz"])),
            ("foo.bar.`parent`", json!([{"bar": "baz"}])),
            ("'foo'.\"bar\"", json!(["baz"])),
            ("query_returns_no_results", json!([])),
        ];
        for (query, expected) in cases {
            assert_eq!(find(&people, query).map(Value::Array), Ok(expected), "{query}");
        }
    }

    #[test]
    fn bad_queries_fail_as_jsonpath_rw_fails() {
        let value = json!({"a": 1});
        let long = "a.".repeat(600);
        let cases = [
            ("a ? b", "JsonPathLexerError: Error on line 1, col 2: Unexpected character: ? "),
            ("'a", "JsonPathLexerError: Unexpected EOF in string literal or identifier"),
            ("a..]", "Exception: Parse error at 1:3 near token ] (])"),
            ("a.", "AttributeError: 'NoneType' object has no attribute 'lineno'"),
            ("`nope`", "Exception: Unknown named operator `nope` at 1:0"),
            ("a & a", "NotImplementedError: "),
            (long.as_str(), "Exception: the query has more than 1000 tokens"),
        ];
        for (query, expected) in cases {
            assert_eq!(find(&value, query).map_err(|e| e.to_string()), Err(expected.to_string()), "{query}");
        }
    }
}
