//! StackStorm's Jinja filters (`st2common/util/jinja.py`): every function of `functions`
//! (JSON and YAML, regular expressions, versions, time, paths, `to_complex`, `use_none`) as a
//! filter whose value is the first argument, and `decrypt_kv`.
//!
//! Owns: calling a function from Jinja (values in, the result or the function's error out)
//! and `decrypt_kv`. Must not: know where a render's values come from, or implement the
//! functions themselves.

use minijinja::value::{Kwargs, Rest, Value as Jinja};
use minijinja::{Environment, Error, ErrorKind, State};
use serde_json::{Map, Value};

use super::functions::{self, Function};
use super::{kv::Lookup, to_json};

pub(super) fn register(env: &mut Environment<'static>) {
    for function in functions::all() {
        env.add_filter(function.signature.name, move |value: Jinja, args: Rest<Jinja>, kwargs: Kwargs| {
            let positional = std::iter::once(&value).chain(args.iter()).map(to_json).collect();
            call(function, positional, &kwargs)
        });
    }
    env.add_filter("decrypt_kv", decrypt_kv);
}

/// Calls `function` with Jinja's arguments.
pub(crate) fn call(function: &Function, positional: Vec<Value>, kwargs: &Kwargs) -> Result<Jinja, Error> {
    function.call(positional, named(kwargs)?).map(|value| Jinja::from(minijinja::value::Serde(&value))).map_err(failure)
}

/// The keyword arguments of a Jinja call as JSON.
pub(crate) fn named(kwargs: &Kwargs) -> Result<Map<String, Value>, Error> {
    let mut named = Map::new();
    for key in kwargs.args() {
        let value: Jinja = kwargs.get(key)?;
        named.insert(key.to_string(), to_json(&value));
    }
    Ok(named)
}

/// A function's failure as a Jinja error that carries it (so a caller can show it alone).
pub(crate) fn failure(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::from(ErrorKind::InvalidOperation).with_source(error)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Finds a `T` among the causes of a Jinja error.
pub(crate) fn cause<T: std::error::Error + Clone + 'static>(error: &Error) -> Option<T> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found.clone());
        }
        source = cause.source();
    }
    None
}

/// The clear text of a datastore secret (given as `st2kv.system.key` or as its stored text).
fn decrypt_kv(state: &State, value: Jinja) -> Result<String, Error> {
    if let Some(lookup) = value.downcast_object_ref::<Lookup>() {
        return match lookup.value().map_err(|e| invalid(e.to_string()))? {
            Some(found) if found.secret => lookup.decrypt(&found.value).map_err(|e| invalid(e.to_string())),
            Some(found) => Ok(found.value),
            None => Ok(String::new()),
        };
    }
    let stored = value.as_str().unwrap_or_default().to_string();
    let root = state.lookup("st2kv").and_then(|kv| kv.get_attr("system").ok());
    match root.as_ref().and_then(|r| r.downcast_object_ref::<Lookup>()) {
        Some(lookup) => lookup.decrypt(&stored).map_err(|e| invalid(e.to_string())),
        None => Err(invalid("decrypt_kv: no datastore".to_string())),
    }
}
