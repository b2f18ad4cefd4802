//! StackStorm's expression functions (`st2common/expressions/functions/`), one implementation
//! of each with its Python signature: the rule templates call them as Jinja filters
//! (`template::filters`), Orquesta workflows as YAQL and Jinja functions under the names its
//! runner registers (`ORQUESTA`, used by `crate::orquesta::functions`).
//!
//! Owns: the table of functions, what each answers, and `FunctionError`, whose text is the
//! Python exception StackStorm raises (`ClassName: message`). Must not: know Orquesta's own
//! functions (`ctx()`, `task()`, `st2kv()`...) or read the datastore.

mod data;
mod jsonpath;
mod path;
mod pyjson;
mod pyyaml;
mod regex;
mod signature;
mod time;
mod version;

use serde_json::{Map, Value};

pub(crate) use data::parse_json;
pub use signature::{Bound, Signature, python_type, truthy};

/// Why a function failed, as the Python exception StackStorm raises for it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FunctionError {
    /// The arguments do not fit the parameters (YAQL reports these as no matching function).
    #[error("TypeError: {0}")]
    WrongCall(String),
    #[error("TypeError: {0}")]
    WrongType(String),
    #[error("ValueError: {0}")]
    InvalidValue(String),
    #[error("IndexError: {0}")]
    NoSuchIndex(String),
    #[error("KeyError: {0}")]
    MissingKey(String),
    #[error("AttributeError: {0}")]
    NoAttribute(String),
    /// `to_human_time_from_seconds` of something that is not a number (an `assert` without
    /// a message).
    #[error("AssertionError: ")]
    NotANumber,
    #[error("OverflowError: {0}")]
    OutOfRange(String),
    #[error("JSONDecodeError: {0}")]
    NotJson(String),
    #[error("YAMLError: {0}")]
    NotYaml(String),
    /// A pattern or replacement Python's `re` refuses (`re.error`).
    #[error("error: {0}")]
    InvalidRegex(String),
    #[error("JsonPathLexerError: {0}")]
    JsonPathLexer(String),
    #[error("Exception: {0}")]
    InvalidJsonPath(String),
    #[error("NotImplementedError: {0}")]
    Unsupported(String),
}

/// One function: its Python signature and implementation.
pub struct Function {
    pub signature: Signature,
    run: fn(&Bound) -> Result<Value, FunctionError>,
}

impl Function {
    /// Binds the arguments as Python would, then runs the function.
    pub fn call(&self, positional: Vec<Value>, named: Map<String, Value>) -> Result<Value, FunctionError> {
        let bound = self.signature.bind(positional, named)?;
        (self.run)(&bound)
    }
}

const fn function(
    name: &'static str,
    params: &'static [&'static str],
    required: usize,
    run: fn(&Bound) -> Result<Value, FunctionError>,
) -> Function {
    Function { signature: Signature::new(name, params, required), run }
}

const VALUE: &[&str] = &["value"];
const VALUE_PATTERN: &[&str] = &["value", "pattern"];

/// Every function, under its Python name (the name StackStorm's Jinja filters use).
const FUNCTIONS: &[Function] = &[
    // data.py
    function("from_json_string", VALUE, 1, data::from_json_string),
    function("from_yaml_string", VALUE, 1, data::from_yaml_string),
    function("to_json_string", &["value", "indent", "sort_keys", "separators"], 1, data::to_json_string),
    function("to_yaml_string", &["value", "indent", "allow_unicode"], 1, data::to_yaml_string),
    function("json_escape", VALUE, 1, data::json_escape),
    function("jsonpath_query", &["value", "query"], 2, data::jsonpath_query),
    function("to_complex", VALUE, 1, data::to_complex),
    function("use_none", VALUE, 1, data::use_none),
    // path.py
    function("basename", &["path"], 1, path::basename),
    function("dirname", &["path"], 1, path::dirname),
    // regex.py
    function("regex_match", &["value", "pattern", "ignorecase"], 2, regex::regex_match),
    function("regex_replace", &["value", "pattern", "replacement", "ignorecase"], 3, regex::regex_replace),
    function("regex_search", &["value", "pattern", "ignorecase"], 2, regex::regex_search),
    function("regex_substring", &["value", "pattern", "result_index", "ignorecase"], 2, regex::regex_substring),
    // time.py
    function("to_human_time_from_seconds", &["seconds"], 1, time::to_human_time_from_seconds),
    // version.py
    function("version_compare", VALUE_PATTERN, 2, version::version_compare),
    function("version_more_than", VALUE_PATTERN, 2, version::version_more_than),
    function("version_less_than", VALUE_PATTERN, 2, version::version_less_than),
    function("version_equal", VALUE_PATTERN, 2, version::version_equal),
    function("version_match", VALUE_PATTERN, 2, version::version_match),
    function("version_bump_major", VALUE, 1, version::version_bump_major),
    function("version_bump_minor", VALUE, 1, version::version_bump_minor),
    function("version_bump_patch", VALUE, 1, version::version_bump_patch),
    function("version_strip_patch", VALUE, 1, version::version_strip_patch),
];

/// The function StackStorm's Jinja filter `name` is.
pub fn filter(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.signature.name == name)
}

/// Every function (each is a filter of the same name; `decrypt_kv` is the templates' own).
pub fn all() -> impl Iterator<Item = &'static Function> {
    FUNCTIONS.iter()
}

/// The functions StackStorm's Orquesta runner registers besides `st2kv` and `task`
/// (`orquesta.expressions.functions` in `contrib/runners/orquesta_runner/setup.py`): the name
/// workflows call, and the function it is.
pub const ORQUESTA: [(&str, &str); 27] = [
    ("basename", "basename"),
    ("dirname", "dirname"),
    ("from_json_string", "from_json_string"),
    ("from_yaml_string", "from_yaml_string"),
    ("json_dump", "to_json_string"),
    ("json_parse", "from_json_string"),
    ("json_escape", "json_escape"),
    ("jsonpath_query", "jsonpath_query"),
    ("regex_match", "regex_match"),
    ("regex_replace", "regex_replace"),
    ("regex_search", "regex_search"),
    ("regex_substring", "regex_substring"),
    ("to_human_time_from_seconds", "to_human_time_from_seconds"),
    ("to_json_string", "to_json_string"),
    ("to_yaml_string", "to_yaml_string"),
    ("use_none", "use_none"),
    ("version_compare", "version_compare"),
    ("version_more_than", "version_more_than"),
    ("version_less_than", "version_less_than"),
    ("version_equal", "version_equal"),
    ("version_match", "version_match"),
    ("version_bump_major", "version_bump_major"),
    ("version_bump_minor", "version_bump_minor"),
    ("version_bump_patch", "version_bump_patch"),
    ("version_strip_patch", "version_strip_patch"),
    ("yaml_dump", "to_yaml_string"),
    ("yaml_parse", "from_yaml_string"),
];

/// The function a workflow calls as `name`.
pub fn orquesta_function(name: &str) -> Option<&'static Function> {
    ORQUESTA.iter().find(|(workflow_name, _)| *workflow_name == name).and_then(|(_, python)| filter(python))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_orquesta_name_has_a_function() {
        for (i, (name, python)) in ORQUESTA.iter().enumerate() {
            assert!(ORQUESTA[..i].iter().all(|(other, _)| other != name), "{name} twice");
            assert!(orquesta_function(name).is_some_and(|f| f.signature.name == *python), "{name}");
        }
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert!(FUNCTIONS[..i].iter().all(|g| g.signature.name != f.signature.name), "{}", f.signature.name);
            assert!(f.signature.required <= f.signature.params.len());
        }
    }
}
