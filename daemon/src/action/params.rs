//! The parameter pipeline (ST2-COMPAT.md 2.2).
