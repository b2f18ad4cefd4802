//! Turns parsed content files into validated domain types, as StackStorm's registrars do.
//!
//! Owns: the rules of what a valid `pack.yaml`, action, sensor, trigger type, rule, alias and
//! policy is. Must not: read files (but the definition an Orquesta action names) or touch the
//! registry; callers hand in the parsed document.

mod action;
mod extras;
pub mod meta;
mod rule;
mod sensor;

pub use action::{ValidAction, action, definition_runs};
pub use extras::{alias, policy};
pub use meta::{is_valid_ref, pack_meta};
pub use rule::{OPERATORS, rule};
pub use sensor::{sensor, trigger_type};

use std::path::Path;

use super::fields::{FieldError, Fields};

/// Where a content file sits: its pack and its path relative to the pack directory.
pub struct FileCtx<'a> {
    pub pack: &'a str,
    pub pack_dir: &'a Path,
    /// Relative to the pack directory, `/`-separated (`actions/run.yaml`).
    pub file: &'a str,
}

/// A content file's own `pack` field, when set, must name the pack it is in.
fn check_pack_field(fields: &Fields<'_>, ctx: &FileCtx<'_>) -> Result<(), FieldError> {
    match fields.optional_str("pack")? {
        Some(pack) if pack != ctx.pack => Err(FieldError::new(
            "pack",
            format!("the file is in pack \"{}\" but its field pack is \"{pack}\"", ctx.pack),
        )),
        _ => Ok(()),
    }
}
