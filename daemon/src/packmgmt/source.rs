//! What a `packs` argument names (ST2-COMPAT.md 6.2): `name_or_url[=version]`, where the left
//! part is a pack name (looked up in the index), a git URL, GitHub's `owner/repo`, or an
//! absolute local path; and the checks on pack refs given to the other `packs.*` actions.
//!
//! Owns: parsing and refusing hostile arguments. Must not: touch the network or the disk.

use std::path::PathBuf;

use crate::pack::builtin::BUILTIN_PACKS;
use st2d_core::pack::validate::meta::is_valid_ref;

/// Why a `packs` argument or a pack ref is refused; each names what was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("an empty pack argument was given")]
    Empty,
    #[error("pack argument {text:?} contains control characters")]
    ControlCharacters { text: String },
    #[error("pack argument \"{text}\" has an empty version after \"=\"")]
    EmptyVersion { text: String },
    #[error("\"{version}\" is not a valid version, hash, tag or branch")]
    InvalidVersion { version: String },
    #[error("\"{url}\" is not a git URL st2d can fetch (https, http, ssh, git or file://)")]
    UnsupportedUrl { url: String },
    #[error("local path \"{path}\" must not contain \"..\"")]
    ParentInPath { path: String },
    #[error("\"{name}\" is not a valid pack name: only lowercase letters, digits and underscores are allowed")]
    InvalidName { name: String },
    #[error("\"{argument}\" is not a pack name, a git URL, GitHub's owner/repo or an absolute path to a pack")]
    Unrecognized { argument: String },
    #[error("\"{pack}\" is not a valid pack ref: only lowercase letters, digits and underscores are allowed")]
    InvalidRef { pack: String },
    #[error("pack ref \"{pack}\" is reserved for st2d's built-in content and cannot be installed")]
    ReservedRef { pack: String },
    #[error("\"{pack}\" is a built-in pack and cannot be removed or unloaded")]
    BuiltIn { pack: String },
}

/// Where a pack comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A bare pack name, looked up in the index.
    Index(String),
    /// A git URL: https, http, ssh, git, `user@host:path`, or `file://` (a `file://` directory
    /// that is not a git repository is copied).
    Git(String),
    /// An absolute local path: cloned when it is a git repository, copied otherwise.
    Local(PathBuf),
}

/// One parsed `packs` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackArg {
    /// The argument as given.
    pub text: String,
    pub location: Location,
    /// A branch, tag (with or without `v`) or commit.
    pub version: Option<String>,
}

impl PackArg {
    /// The name the argument is known by before it is fetched: the index name, or the last
    /// path segment of a URL or path without `.git` and a `stackstorm-` prefix.
    pub fn short_name(&self) -> String {
        let tail = match &self.location {
            Location::Index(name) => return name.clone(),
            Location::Git(url) => url.trim_end_matches('/').rsplit(['/', ':']).next().unwrap_or(url).to_string(),
            Location::Local(path) => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        };
        let tail = tail.strip_suffix(".git").unwrap_or(&tail);
        tail.strip_prefix("stackstorm-").unwrap_or(tail).to_string()
    }
}

/// Parses one `packs` argument.
pub fn parse(argument: &str) -> Result<PackArg, SourceError> {
    let text = argument.trim();
    if text.is_empty() {
        return Err(SourceError::Empty);
    }
    if text.chars().any(char::is_control) {
        return Err(SourceError::ControlCharacters { text: text.to_string() });
    }
    let (source, version) = match text.split_once('=') {
        Some((source, version)) => (source.trim(), Some(version.trim())),
        None => (text, None),
    };
    let version = match version {
        None => None,
        Some("") => return Err(SourceError::EmptyVersion { text: text.to_string() }),
        Some(v) if v.starts_with('-') || v.chars().any(char::is_whitespace) || v.contains("..") => {
            return Err(SourceError::InvalidVersion { version: v.to_string() });
        }
        Some(v) => Some(v.to_string()),
    };
    let location = location(source)?;
    Ok(PackArg { text: text.to_string(), location, version })
}

fn location(source: &str) -> Result<Location, SourceError> {
    if let Some((scheme, rest)) = source.split_once("://") {
        return match scheme.to_ascii_lowercase().as_str() {
            "https" | "http" | "ssh" | "git" if !rest.is_empty() => Ok(Location::Git(source.to_string())),
            "file" if rest.starts_with('/') => Ok(Location::Git(source.to_string())),
            _ => Err(SourceError::UnsupportedUrl { url: source.to_string() }),
        };
    }
    if is_scp_like(source) {
        return Ok(Location::Git(source.to_string()));
    }
    if source.starts_with('/') {
        if source.split('/').any(|segment| segment == "..") {
            return Err(SourceError::ParentInPath { path: source.to_string() });
        }
        return Ok(Location::Local(PathBuf::from(source)));
    }
    if !source.contains('/') {
        return if is_valid_ref(source) {
            Ok(Location::Index(source.to_string()))
        } else {
            Err(SourceError::InvalidName { name: source.to_string() })
        };
    }
    let parts: Vec<&str> = source.split('/').collect();
    let github_name = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if parts.len() == 2 && parts.iter().all(|p| github_name(p)) {
        return Ok(Location::Git(format!("https://github.com/{}/{}", parts[0], parts[1])));
    }
    Err(SourceError::Unrecognized { argument: source.to_string() })
}

/// `git@github.com:owner/repo.git` and other `user@host:path` forms.
fn is_scp_like(source: &str) -> bool {
    let Some((user_host, path)) = source.split_once(':') else {
        return false;
    };
    let Some((user, host)) = user_host.split_once('@') else {
        return false;
    };
    !user.is_empty() && !host.is_empty() && !host.contains('/') && !path.is_empty()
}

/// Checks a pack ref given to uninstall, unload, delete, get or setup_virtualenv.
pub fn check_ref(pack: &str) -> Result<(), SourceError> {
    if is_valid_ref(pack) { Ok(()) } else { Err(SourceError::InvalidRef { pack: pack.to_string() }) }
}

/// Refs that an installed pack may not take: the built-in packs and `_global`.
pub fn check_installable_ref(pack: &str) -> Result<(), SourceError> {
    check_ref(pack)?;
    if BUILTIN_PACKS.contains(&pack) || pack == "_global" {
        return Err(SourceError::ReservedRef { pack: pack.to_string() });
    }
    Ok(())
}

/// Refuses to remove or unload a built-in pack.
pub fn check_removable_ref(pack: &str) -> Result<(), SourceError> {
    check_ref(pack)?;
    if BUILTIN_PACKS.contains(&pack) {
        return Err(SourceError::BuiltIn { pack: pack.to_string() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(url: &str) -> Location {
        Location::Git(url.to_string())
    }

    #[test]
    fn arguments_resolve_as_stackstorm_resolves_them() {
        let cases: &[(&str, Location, Option<&str>)] = &[
            ("docker", Location::Index("docker".into()), None),
            ("docker=1.2.0", Location::Index("docker".into()), Some("1.2.0")),
            ("StackStorm/st2contrib", git("https://github.com/StackStorm/st2contrib"), None),
            ("owner/stackstorm-x.git=v2", git("https://github.com/owner/stackstorm-x.git"), Some("v2")),
            ("https://github.com/a/b.git", git("https://github.com/a/b.git"), None),
            ("git@github.com:a/b.git=main", git("git@github.com:a/b.git"), Some("main")),
            ("ssh://git@host/a/b", git("ssh://git@host/a/b"), None),
            ("file:///srv/repos/demo", git("file:///srv/repos/demo"), None),
            ("/srv/packs/demo=1.0.0", Location::Local("/srv/packs/demo".into()), Some("1.0.0")),
        ];
        for (text, location, version) in cases {
            let parsed = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(&parsed.location, location, "{text}");
            assert_eq!(parsed.version.as_deref(), *version, "{text}");
        }
    }

    #[test]
    fn hostile_arguments_are_refused_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("../evil", "not a pack name"),
            ("a/../../b", "not a pack name"),
            ("a/b/c", "not a pack name"),
            ("Docker", "not a valid pack name"),
            ("my-pack", "not a valid pack name"),
            ("/srv/../etc", "must not contain"),
            ("docker=", "empty version"),
            ("docker=--upload-pack=x", "not a valid version"),
            ("docker=a..b", "not a valid version"),
            ("ftp://host/x", "not a git URL"),
            ("file://relative", "not a git URL"),
            ("doc\nker", "control characters"),
        ];
        for (text, reason) in cases {
            match parse(text) {
                Ok(parsed) => panic!("{text:?} was accepted as {parsed:?}"),
                Err(error) => assert!(error.to_string().contains(reason), "{text:?}: {error}"),
            }
        }
    }

    #[test]
    fn short_names_drop_git_suffixes_and_the_exchange_prefix() {
        let cases = [
            ("docker", "docker"),
            ("https://github.com/StackStorm-Exchange/stackstorm-docker.git", "docker"),
            ("git@github.com:a/stackstorm-aws", "aws"),
            ("/srv/packs/demo/", "demo"),
        ];
        for (text, name) in cases {
            assert_eq!(parse(text).expect("parses").short_name(), name, "{text}");
        }
    }

    #[test]
    fn refs_of_other_actions_are_checked() {
        assert!(check_ref("docker").is_ok());
        for bad in ["../x", "a/b", "", "A", "a.b"] {
            assert!(check_ref(bad).is_err(), "{bad}");
        }
        assert!(check_installable_ref("core").expect_err("refused").to_string().contains("reserved"));
        assert!(check_installable_ref("_global").expect_err("refused").to_string().contains("reserved"));
        assert!(check_removable_ref("packs").expect_err("refused").to_string().contains("built-in"));
    }
}
