//! Who a child process runs as: an account from the system's user database (NSS, so LDAP or
//! sssd users too: `getpwnam_r`, `getgrouplist`), and the switch to it in the child between
//! fork and exec: a session of its own (no controlling terminal of st2d's to reach), the
//! account's supplementary groups, its group, its user (real, effective and saved: nothing to
//! switch back to, no capability left), then its working directory entered as that user.
//!
//! Owns: the account a pack process runs as, handing it the files it must own (its sockets),
//! and the daemon's one `unsafe` block outside `st2d-alloc` (`pre_exec`: raw system calls on
//! data prepared before the fork, nothing allocated). Must not: decide who pack processes run
//! as (`action_user` does) or build the command (`ProcessSpec::command` does).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::process::{Gid, Uid};

/// An account of the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Its groups as `initgroups` sets them: the primary group and every group that lists it.
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

/// Why an account could not be looked up.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("cannot look up user \"{name}\" in the user database: {source}")]
    Lookup { name: String, source: nix::Error },
    #[error("cannot look up uid {uid} in the user database: {source}")]
    LookupUid { uid: u32, source: nix::Error },
    #[error("cannot look up the groups of user \"{name}\": {source}")]
    Groups { name: String, source: nix::Error },
}

impl Account {
    /// The account called `name`; `None` when there is none.
    pub fn by_name(name: &str) -> Result<Option<Self>, AccountError> {
        let found =
            nix::unistd::User::from_name(name).map_err(|source| AccountError::Lookup { name: name.into(), source })?;
        found.map(Self::from_user).transpose()
    }

    /// The account of `uid`; `None` when the database has no entry for it (a container's
    /// arbitrary uid).
    pub fn by_uid(uid: u32) -> Result<Option<Self>, AccountError> {
        let found = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .map_err(|source| AccountError::LookupUid { uid, source })?;
        found.map(Self::from_user).transpose()
    }

    fn from_user(user: nix::unistd::User) -> Result<Self, AccountError> {
        let groups = CString::new(user.name.as_bytes())
            .map_err(|_| nix::Error::EINVAL)
            .and_then(|name| nix::unistd::getgrouplist(&name, user.gid))
            .map_err(|source| AccountError::Groups { name: user.name.clone(), source })?;
        let mut groups: Vec<u32> = groups.into_iter().map(|gid| gid.as_raw()).collect();
        if !groups.contains(&user.gid.as_raw()) {
            groups.insert(0, user.gid.as_raw());
        }
        Ok(Self { uid: user.uid.as_raw(), gid: user.gid.as_raw(), groups, home: user.dir, name: user.name })
    }
}

/// An account children are started as (cheap to clone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs(Arc<Account>);

impl RunAs {
    pub fn new(account: Account) -> Self {
        Self(Arc::new(account))
    }

    pub fn account(&self) -> &Account {
        &self.0
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Makes the file at `path` this account's (group: its primary group) with `mode`; a
    /// symbolic link there is refused, never followed.
    pub fn give(&self, path: &Path, mode: u32) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::symlink_metadata(path)?.file_type().is_symlink() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a symbolic link is not handed over"));
        }
        // The mode first: once the file is the account's, changing it would take CAP_FOWNER.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        std::os::unix::fs::lchown(path, Some(self.0.uid), Some(self.0.gid))
    }
}

/// Has `command`'s child become `user` before it execs, with `cwd` entered as that user (so a
/// directory the user may not enter fails the start, as it would for a process the user
/// started). The child leads a new session, hence also its own process group, as
/// `ProcessSpec::command` wants of every child.
#[allow(unsafe_code)]
pub(super) fn switch(command: &mut tokio::process::Command, user: &RunAs, cwd: &Path) {
    let account = user.account();
    let groups: Vec<Gid> = account.groups.iter().map(|gid| Gid::from_raw(*gid)).collect();
    let (uid, gid) = (Uid::from_raw(account.uid), Gid::from_raw(account.gid));
    // Absolute: the standard library has entered it already when the closure runs. A path with
    // a NUL byte cannot be a working directory: the spawn fails on it before this.
    let cwd = std::path::absolute(cwd).unwrap_or_else(|_| cwd.to_path_buf());
    let cwd = CString::new(cwd.as_os_str().as_bytes()).ok();
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe work is allowed. It makes raw system calls (rustix's own, not libc's
    // wrappers, which would coordinate with threads the child does not have) on values made
    // before the fork, allocates nothing (an error is an errno) and touches no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::setsid()?;
            rustix::thread::set_thread_groups(&groups)?;
            rustix::thread::set_thread_res_gid(gid, gid, gid)?;
            rustix::thread::set_thread_res_uid(uid, uid, uid)?;
            if let Some(cwd) = &cwd {
                rustix::process::chdir(cwd.as_c_str())?;
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_come_from_the_user_database() {
        let root = Account::by_name("root").expect("a lookup").expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert!(root.groups.contains(&0), "{root:?}");
        assert_eq!(Account::by_uid(0).expect("a lookup").map(|a| a.name), Some("root".to_string()));
        assert_eq!(Account::by_name("no-such-user-st2d").expect("a lookup"), None);
        assert_eq!(Account::by_name("nul\0byte").expect("a lookup"), None);
    }
}
