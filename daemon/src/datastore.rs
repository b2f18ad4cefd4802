//! The key-value datastore.
