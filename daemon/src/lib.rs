//! st2d: a single daemon that runs StackStorm integration packs.
//!
//! Owns: the module tree. Must not: hold logic of its own; `app` wires the parts together.

pub mod action;
pub mod action_user;
pub mod announce;
pub mod api;
pub mod app;
pub mod auth;
pub mod backup;
pub mod check;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod datastore;
pub mod embedded;
pub mod execution;
pub mod executor;
pub mod ingress;
pub mod metrics;
pub mod pack;
pub mod packmgmt;
pub mod policy;
pub mod process;
pub mod pyenv;
pub mod registry;
pub mod reload;
pub mod rest;
pub mod retention;
pub mod rule;
pub mod runner;
pub mod sensor;
pub mod service;
pub mod shim;
pub mod signal;
pub mod store;
pub mod store_command;
pub mod systemd;
pub mod telemetry;
pub mod trigger;
pub mod warm;
pub mod watch;
pub mod workflow;
