//! st2d-core: the languages StackStorm packs are written in, as pure functions over values.
//! YAML as PyYAML reads it, Python's printing of values, Jinja with StackStorm's filters, YAQL,
//! the Orquesta and action-chain definitions, rule criteria, JSON-schema types and pack
//! metadata. The daemon and `st2ctl` both build on it.
//!
//! Owns: the meaning of pack files and expressions. Must not: use tokio, the store or the
//! network, spawn processes, or read any file but those a caller names.

pub mod alias;
pub mod chain;
pub mod criteria;
pub mod orquesta;
pub mod pack;
pub mod pyfmt;
pub mod random;
pub mod schema;
pub mod status;
pub mod template;
pub mod yaml;
pub mod yaql;
