//! Rules: matching trigger instances against rule criteria. The rules engine (enforcement,
//! templating) builds on `criteria`.
//!
//! Owns: rule evaluation logic. Must not: read the registry or the store directly.

pub mod criteria;
