//! Who pack processes (actions, sensors, the warm interpreters they are forked from) run as,
//! decided once at start (`--action-user`, README "Action user"). st2d as root: the user named,
//! else `stanley` when it exists (StackStorm's `[system_user] user`), else root, with a warning
//! that says how to change it. st2d as any other user: that user, since it cannot switch; naming
//! another stops the start. A name the user database does not know stops the start too, and so
//! does a root without the capabilities a switch takes.
//!
//! Owns: that choice and its refusals, and (`access`) what the chosen user must reach. Must not:
//! start a process (`process` starts them as the user its callers pass).

pub mod access;

use crate::process::{Account, AccountError, RunAs};

/// StackStorm's system user, the default when st2d runs as root.
pub const DEFAULT: &str = "stanley";

/// Who pack processes run as.
#[derive(Debug, Clone)]
pub struct ActionUser {
    /// Its name (a uid without a name in the user database shows as the number).
    pub name: String,
    /// The account st2d starts pack processes as; `None`: st2d's own.
    pub switch: Option<RunAs>,
    /// st2d runs as root, nobody named a user and there is no `stanley`: pack processes run as
    /// root.
    pub root_by_default: bool,
}

/// Why the start stops.
#[derive(Debug, thiserror::Error)]
pub enum ActionUserError {
    #[error("--action-user {0}: there is no such user")]
    Unknown(String),
    #[error(
        "--action-user {asked}: st2d runs as {own}, not as root, so it cannot start actions and sensors as \
         another user; leave --action-user out (they run as {own}) or start st2d as root"
    )]
    NotRoot { asked: String, own: String },
    #[error(
        "--action-user {user}: st2d runs as root without {missing}, which it needs to start actions and \
         sensors as {user} and to stop them (a systemd unit's CapabilityBoundingSet= must keep them)"
    )]
    Capabilities { user: String, missing: String },
    #[error("--action-user: {0}")]
    Lookup(#[from] AccountError),
    #[error("--action-user {user}: cannot read st2d's capabilities: {source}")]
    ReadCapabilities { user: String, source: std::io::Error },
}

impl ActionUser {
    /// The decision for st2d's effective user and `asked` (`--action-user`, empty when not
    /// given).
    pub fn resolve(asked: Option<&str>) -> Result<Self, ActionUserError> {
        let asked = asked.map(str::trim).filter(|name| !name.is_empty());
        let euid = rustix::process::geteuid().as_raw();
        let user = decide(euid, asked, &Account::by_name, &Account::by_uid)?;
        if let Some(switch) = &user.switch {
            can_switch(switch.name())?;
        }
        Ok(user)
    }

    /// Says at start who pack processes run as: a warning when root is the default.
    pub fn log(&self) {
        if self.root_by_default {
            tracing::warn!(
                "st2d runs as root and there is no user \"{DEFAULT}\": actions and sensors run as root. Create \
                 {DEFAULT}, or name an unprivileged user with --action-user (ST2D_ACTION_USER), to run them as \
                 that user"
            );
        } else if self.switch.is_some() {
            tracing::info!(user = %self.name, "actions and sensors run as {}; sudo: true actions as root", self.name);
        } else {
            tracing::info!(user = %self.name, "actions and sensors run as st2d's own user, {}", self.name);
        }
    }
}

type ByName<'a> = dyn Fn(&str) -> Result<Option<Account>, AccountError> + 'a;
type ByUid<'a> = dyn Fn(u32) -> Result<Option<Account>, AccountError> + 'a;

/// The choice, from the user database as `by_name` and `by_uid` read it.
fn decide(euid: u32, asked: Option<&str>, by_name: &ByName, by_uid: &ByUid) -> Result<ActionUser, ActionUserError> {
    let own = |name: String| ActionUser { name, switch: None, root_by_default: false };
    let own_name = || -> Result<String, ActionUserError> {
        Ok(by_uid(euid)?.map(|account| account.name).unwrap_or_else(|| euid.to_string()))
    };
    if euid != 0 {
        let Some(asked) = asked else { return Ok(own(own_name()?)) };
        return match by_name(asked)? {
            None => Err(ActionUserError::Unknown(asked.to_string())),
            Some(account) if account.uid == euid => Ok(own(account.name)),
            Some(_) => Err(ActionUserError::NotRoot { asked: asked.to_string(), own: own_name()? }),
        };
    }
    match (by_name(asked.unwrap_or(DEFAULT))?, asked) {
        (Some(account), _) if account.uid == 0 => Ok(own(account.name)),
        (Some(account), _) => {
            Ok(ActionUser { name: account.name.clone(), switch: Some(RunAs::new(account)), root_by_default: false })
        }
        (None, Some(asked)) => Err(ActionUserError::Unknown(asked.to_string())),
        (None, None) => Ok(ActionUser { root_by_default: true, ..own(own_name()?) }),
    }
}

/// Refuses a root that lacks what starting and stopping processes of another user takes.
fn can_switch(user: &str) -> Result<(), ActionUserError> {
    use rustix::thread::CapabilitySet as Cap;
    let held = rustix::thread::capabilities(None)
        .map_err(|error| ActionUserError::ReadCapabilities { user: user.to_string(), source: error.into() })?
        .effective;
    let wanted =
        [(Cap::SETUID, "CAP_SETUID"), (Cap::SETGID, "CAP_SETGID"), (Cap::KILL, "CAP_KILL"), (Cap::CHOWN, "CAP_CHOWN")];
    let missing: Vec<&str> = wanted.iter().filter(|(cap, _)| !held.contains(*cap)).map(|(_, name)| *name).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ActionUserError::Capabilities { user: user.to_string(), missing: missing.join(", ") })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn account(name: &str, uid: u32) -> Account {
        Account { name: name.into(), uid, gid: uid, groups: vec![uid], home: PathBuf::from("/home").join(name) }
    }

    /// A user database of root, st2d (1000) and nobody, with `stanley` (2000) when asked.
    fn database(with_stanley: bool) -> Vec<Account> {
        let mut users = vec![account("root", 0), account("st2d", 1000), account("nobody", 65534)];
        if with_stanley {
            users.push(account(DEFAULT, 2000));
        }
        users
    }

    fn outcome(euid: u32, asked: Option<&str>, with_stanley: bool) -> String {
        let users = database(with_stanley);
        let by_name = |name: &str| Ok(users.iter().find(|a| a.name == name).cloned());
        let by_uid = |uid: u32| Ok(users.iter().find(|a| a.uid == uid).cloned());
        match decide(euid, asked, &by_name, &by_uid) {
            Ok(user) => format!(
                "{} {}{}",
                user.name,
                if user.switch.is_some() { "switch" } else { "own" },
                if user.root_by_default { " warned" } else { "" }
            ),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn root_runs_pack_code_as_the_named_user_else_stanley_else_root_with_a_warning() {
        let cases = [
            ((0, Some("nobody"), false), "nobody switch"),
            ((0, Some("nobody"), true), "nobody switch"),
            ((0, None, true), "stanley switch"),
            ((0, None, false), "root own warned"),
            ((0, Some("root"), true), "root own"),
            ((0, Some("ghost"), true), "--action-user ghost: there is no such user"),
        ];
        for ((euid, asked, stanley), expected) in cases {
            assert_eq!(outcome(euid, asked, stanley), expected, "euid {euid}, {asked:?}, stanley {stanley}");
        }
    }

    #[test]
    fn another_user_runs_pack_code_as_itself_and_refuses_to_switch() {
        let cases = [
            ((1000, None, true), "st2d own".to_string()),
            ((1000, Some("st2d"), false), "st2d own".to_string()),
            ((1000, Some("ghost"), false), "--action-user ghost: there is no such user".to_string()),
            ((1234, None, false), "1234 own".to_string()),
        ];
        for ((euid, asked, stanley), expected) in cases {
            assert_eq!(outcome(euid, asked, stanley), expected, "euid {euid}, {asked:?}");
        }
        let refused = outcome(1000, Some("nobody"), true);
        assert!(refused.starts_with("--action-user nobody: st2d runs as st2d, not as root"), "{refused}");
        assert!(refused.contains("start st2d as root"), "{refused}");
    }
}
