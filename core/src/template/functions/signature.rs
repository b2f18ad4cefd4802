//! How a call's arguments meet a function's parameters, as Python binds them, with the
//! `TypeError` texts Python gives for a wrong call ("missing 1 required positional argument",
//! "takes from 2 to 3 positional arguments but 4 were given", ...). StackStorm's functions are
//! Python functions, so a wrong call from Jinja fails with exactly these texts.
//!
//! Owns: `Signature` (a function's Python name and parameters), `Bound` (the arguments of one
//! call by parameter) and Python's view of values (`python_type`, `truthy`). Must not: know
//! what any function does.

use serde_json::{Map, Value};

use super::FunctionError;

/// A Python function's parameters.
#[derive(Debug, Clone, Copy)]
pub struct Signature {
    /// The name Python's messages use (`to_json_string` for `json_dump`, `ctx_` for `ctx`).
    pub name: &'static str,
    /// Positional-or-keyword parameters in order; the first `required` have no default.
    pub params: &'static [&'static str],
    pub required: usize,
    /// Takes `*args` after `params`.
    pub rest: bool,
    /// Takes `**kwargs`.
    pub any_named: bool,
}

impl Signature {
    /// A signature of `params` (the first `required` without default), no `*args`/`**kwargs`.
    pub const fn new(name: &'static str, params: &'static [&'static str], required: usize) -> Self {
        Signature { name, params, required, rest: false, any_named: false }
    }

    /// Binds `positional` then `named` as CPython does: keyword problems first, then too many
    /// positional arguments, then missing ones.
    pub fn bind(&self, positional: Vec<Value>, named: Map<String, Value>) -> Result<Bound, FunctionError> {
        let given = positional.len();
        let mut slots: Vec<Option<Value>> = vec![None; self.params.len()];
        let mut rest = Vec::new();
        for (at, value) in positional.into_iter().enumerate() {
            match slots.get_mut(at) {
                Some(slot) => *slot = Some(value),
                None => rest.push(value),
            }
        }
        let mut extra = Map::new();
        for (key, value) in named {
            match self.params.iter().position(|p| *p == key) {
                Some(at) if slots[at].is_some() => {
                    return Err(self.wrong(format!("got multiple values for argument '{key}'")));
                }
                Some(at) => slots[at] = Some(value),
                None if self.any_named => {
                    extra.insert(key, value);
                }
                None => return Err(self.wrong(format!("got an unexpected keyword argument '{key}'"))),
            }
        }
        if !rest.is_empty() && !self.rest {
            return Err(self.too_many(given));
        }
        let missing: Vec<&str> = (0..self.required).filter(|&i| slots[i].is_none()).map(|i| self.params[i]).collect();
        if !missing.is_empty() {
            let plural = if missing.len() == 1 { "" } else { "s" };
            let names = python_list(&missing);
            return Err(self.wrong(format!("missing {} required positional argument{plural}: {names}", missing.len())));
        }
        Ok(Bound { slots, rest, named: extra })
    }

    fn wrong(&self, detail: String) -> FunctionError {
        FunctionError::WrongCall(format!("{}() {detail}", self.name))
    }

    fn too_many(&self, given: usize) -> FunctionError {
        let count = self.params.len();
        let (takes, plural) = if self.required < count {
            (format!("from {} to {count}", self.required), "s")
        } else {
            (count.to_string(), if count == 1 { "" } else { "s" })
        };
        let verb = if given == 1 { "was" } else { "were" };
        self.wrong(format!("takes {takes} positional argument{plural} but {given} {verb} given"))
    }
}

/// `'a'`, `'a' and 'b'`, `'a', 'b', and 'c'`, as Python lists missing arguments.
fn python_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("'{name}'")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [first, second] => format!("{first} and {second}"),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// The arguments of one call, by parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    slots: Vec<Option<Value>>,
    /// Positional arguments beyond the parameters (`*args`).
    pub rest: Vec<Value>,
    /// Named arguments that are not parameters (`**kwargs`).
    pub named: Map<String, Value>,
}

impl Bound {
    /// The argument of parameter `at`, `None` when the call left it to its default.
    pub fn given(&self, at: usize) -> Option<&Value> {
        self.slots.get(at).and_then(Option::as_ref)
    }

    /// The argument of parameter `at`, null when not given (for parameters defaulting to
    /// `None`, and required ones, which binding guarantees).
    pub fn arg(&self, at: usize) -> &Value {
        self.given(at).unwrap_or(&Value::Null)
    }
}

/// The name of a value's Python type (`int`, `str`, `NoneType`...), for messages.
pub fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

pub use crate::pyfmt::truthy;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const REGEX_MATCH: Signature = Signature::new("regex_match", &["value", "pattern", "ignorecase"], 2);

    fn bind(signature: &Signature, args: Value, named: Value) -> Result<Bound, String> {
        let args = args.as_array().cloned().unwrap_or_default();
        let named = named.as_object().cloned().unwrap_or_default();
        signature.bind(args, named).map_err(|e| e.to_string())
    }

    #[test]
    fn wrong_calls_fail_with_pythons_messages() {
        let basename = Signature::new("basename", &["path"], 1);
        let task = Signature::new("task", &["context", "task_id", "route"], 1);
        let cases = [
            (&REGEX_MATCH, json!(["x"]), json!({}), "regex_match() missing 1 required positional argument: 'pattern'"),
            (&REGEX_MATCH, json!([]), json!({}), "missing 2 required positional arguments: 'value' and 'pattern'"),
            (&REGEX_MATCH, json!([1, 2, 3, 4]), json!({}), "takes from 2 to 3 positional arguments but 4 were given"),
            (&REGEX_MATCH, json!(["x", "y"]), json!({"flags": 1}), "got an unexpected keyword argument 'flags'"),
            (&REGEX_MATCH, json!(["x", "y"]), json!({"value": 1}), "got multiple values for argument 'value'"),
            (&basename, json!(["a", "b"]), json!({}), "basename() takes 1 positional argument but 2 were given"),
            (
                &task,
                json!([null, "a", 0, 1]),
                json!({}),
                "task() takes from 1 to 3 positional arguments but 4 were given",
            ),
        ];
        for (signature, args, named, expected) in cases {
            let error = bind(signature, args, named).expect_err("a wrong call");
            assert!(error.starts_with("TypeError: "), "{error}");
            assert!(error.contains(expected), "{error} / {expected}");
        }
        let three = Signature::new("f", &["a", "b", "c"], 3);
        assert_eq!(
            bind(&three, json!([]), json!({})).expect_err("missing"),
            "TypeError: f() missing 3 required positional arguments: 'a', 'b', and 'c'"
        );
        let none = Signature::new("g", &[], 0);
        assert_eq!(
            bind(&none, json!([1]), json!({})).expect_err("too many"),
            "TypeError: g() takes 0 positional arguments but 1 was given"
        );
    }

    #[test]
    fn arguments_bind_by_position_then_name() {
        let bound = bind(&REGEX_MATCH, json!(["x"]), json!({"pattern": "p"})).expect("binds");
        assert_eq!((bound.arg(0), bound.arg(1), bound.given(2)), (&json!("x"), &json!("p"), None));
        let zip = Signature { name: "zip_", params: &[], required: 0, rest: true, any_named: true };
        let bound = bind(&zip, json!([[1], [2]]), json!({"pad": 0})).expect("binds");
        assert_eq!((bound.rest.len(), bound.named.get("pad")), (2, Some(&json!(0))));
    }

    #[test]
    fn python_views_of_values() {
        let types: Vec<&str> = [json!(null), json!(true), json!(1), json!(1.5), json!("s"), json!([]), json!({})]
            .iter()
            .map(python_type)
            .collect();
        assert_eq!(types, ["NoneType", "bool", "int", "float", "str", "list", "dict"]);
        assert!(
            [json!(null), json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({})]
                .iter()
                .all(|v| !truthy(v))
        );
        assert!([json!(true), json!(-1), json!("0"), json!([0]), json!({"a": null})].iter().all(truthy));
    }
}
