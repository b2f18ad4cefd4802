//! The Orquesta workflow language (StackStorm/orquesta): the definition and its checks
//! (`spec`), Orquesta's inspection as StackStorm runs it before a workflow starts
//! (`inspect`), inline definitions (`inline`), and expressions, `<% %>` YAQL and `{{ }}` Jinja with
//! the functions Orquesta and StackStorm register (`expr`, `functions`).
//!
//! Owns: what a workflow definition means. Must not: run a workflow (the daemon's conductor
//! does) or keep state between calls.

pub mod expr;
pub mod functions;
#[cfg(test)]
mod functions_tests;
pub mod inline;
pub mod inspect;
pub mod spec;
