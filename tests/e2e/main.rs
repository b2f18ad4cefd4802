//! End-to-end tests: the real st2d, driven through the real st2ctl and st2 binaries.

// The test harness starts real processes of its own (clippy.toml keeps the daemon to `process`).
#![allow(clippy::disallowed_methods)]

mod action_user;
mod actions;
mod check;
mod cli;
mod control_plane;
mod datastore;
mod executions;
mod grpc;
mod inquiries;
mod intake;
mod lifecycle;
mod live_reload;
mod orquesta;
mod orquesta_inspection;
mod orquesta_semantics;
mod pack_env;
mod packs;
mod policies;
mod python_warm;
mod registration;
mod remote;
mod rerun;
mod rest_aliases;
mod rest_api;
mod rest_packs;
mod rest_rules;
mod rest_webui;
mod rules;
mod sensors;
mod store;
mod support;
mod systemd;
mod timers;
mod webhooks;
mod workflows;
