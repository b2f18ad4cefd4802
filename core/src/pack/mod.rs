//! The language of pack files: the validated model every module reads (`model`), the field
//! checks (`fields`), the runner catalogue (`runners`) and what makes each metadata file valid
//! (`validate`).
//!
//! Owns: turning a parsed metadata document into a typed resource, or an error naming the
//! field. Must not: walk a pack directory, read configs or keep state (the daemon's `pack`
//! module loads packs; the only file read here is an Orquesta definition an action names).

pub mod fields;
pub mod model;
pub mod runners;
pub mod validate;
