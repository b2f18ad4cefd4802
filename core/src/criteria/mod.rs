//! Rule criteria as StackStorm's rules engine evaluates them: the operators (`operators`),
//! criteria compiled once and walked per payload (`matcher`), and Jinja-rendered patterns
//! (`patterns`).
//!
//! Owns: whether a payload matches a rule's criteria. Must not: know the registry, record
//! enforcements or run anything.

pub mod matcher;
pub mod operators;
pub mod patterns;
