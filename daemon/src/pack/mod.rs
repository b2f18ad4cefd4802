//! Packs on disk: reading, validating and loading them into immutable `PackContent` values.
//!
//! Owns: everything between a pack directory and its validated content. Must not: keep state
//! between loads (the reload actor owns caching) or know about the registry, sensors or the API.

pub mod builtin;
pub mod config;
mod items;
pub mod load;
