//! Rules: matching trigger instances against rule criteria, and the rules engine that turns
//! matches into enforcements and executions.
//!
//! Owns: rule evaluation. Must not: run actions itself (the executor does).

pub mod engine;
pub mod reactor;
