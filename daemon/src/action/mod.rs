//! Actions: parameter resolution and the runners that execute them.

pub mod params;
