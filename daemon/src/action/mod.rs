//! Actions: parameter resolution and the runners that execute them (local shell, remote shell
//! over SSH, python, http, and `core.inject_trigger` done natively).

pub mod announcement;
pub mod common;
pub mod http;
pub mod inject;
pub mod inquiry;
pub mod params;
pub mod python;
pub mod remote;
pub mod shell;

#[cfg(test)]
pub(crate) mod testkit;
