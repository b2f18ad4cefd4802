//! `basename` and `dirname` (`st2common/expressions/functions/path.py`): Python's
//! `os.path.basename` and `os.path.dirname` on POSIX paths.
//!
//! Owns: splitting a path at its last `/`. Must not: touch the filesystem.

use serde_json::Value;

use super::FunctionError;
use super::signature::{Bound, python_type};

/// `basename(path)`: what follows the last `/` (empty for a path ending in `/`).
pub(super) fn basename(args: &Bound) -> Result<Value, FunctionError> {
    let path = path_text(args.arg(0))?;
    Ok(Value::String(path[split_at(path)..].to_string()))
}

/// `dirname(path)`: what precedes the last `/`, without trailing slashes unless it is all
/// slashes (`/` stays `/`).
pub(super) fn dirname(args: &Bound) -> Result<Value, FunctionError> {
    let path = path_text(args.arg(0))?;
    let head = &path[..split_at(path)];
    let trimmed = head.trim_end_matches('/');
    Ok(Value::String(if trimmed.is_empty() { head } else { trimmed }.to_string()))
}

/// The byte index after the last `/` (0 without one).
fn split_at(path: &str) -> usize {
    path.rfind('/').map_or(0, |at| at + 1)
}

fn path_text(value: &Value) -> Result<&str, FunctionError> {
    value.as_str().ok_or_else(|| {
        FunctionError::WrongType(format!("expected str, bytes or os.PathLike object, not {}", python_type(value)))
    })
}
