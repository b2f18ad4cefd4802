//! st2d: a single daemon that runs StackStorm integration packs.
//!
//! Owns: the module tree. Must not: hold logic of its own; `app` wires the parts together.

pub mod api;
pub mod app;
pub mod check;
pub mod cli;
pub mod config;
pub mod pack;
pub mod registry;
pub mod reload;
pub mod signal;
pub mod store;
pub mod systemd;
pub mod telemetry;
pub mod watch;
pub mod yaml;
