//! Helpers shared by several end-to-end test modules (and the files they serve, such as
//! `https_git_server.py`).
//!
//! Owns: what more than one test module needs. Must not: hold a test.

pub mod http;
pub mod rest;
