//! Where the daemon is and how to reach it: the global flags and the environment, resolved.
//!
//! Owns: the discovery order (`--url`, `--socket`, `--home` on the command line, then
//! `ST2D_URL`, `ST2D_SOCKET`, `ST2D_HOME`, the system default), what a url must look like, the
//! token (`--token`, `--token-file`, `ST2D_TOKEN`, `ST2D_TOKEN_FILE`), which TLS files apply
//! (`--ca`, `--cert`, `--key` and their variables), the usage checks between them and the refusal
//! of a token in clear off loopback. Must not: connect, or read the TLS files (`tls` does).

use std::error::Error as StdError;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use tonic::transport::{Endpoint, Uri};

use super::{Settings, Target, Tls};
use crate::cli::Global;

/// The system default, as st2d's.
pub const SYSTEM_SOCKET: &str = "/run/st2d/st2d.sock";

/// A command line (or environment) that cannot work as given; it exits 2, as clap's do.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Usage {}

/// Resolves the global flags against an environment lookup (an empty variable is unset): flags
/// win over variables, and the TLS variables apply only to an https url (the TLS flags with
/// anything else are a usage error). Reads the token file; refuses a token in clear to a host
/// that is not loopback.
pub fn settings(global: &Global, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
    let env = |key: &str| env(key).filter(|value| !value.is_empty());
    let target = target(global, env);
    let uri = match &target {
        Target::Tcp(url) => Some(tcp_uri(url)?),
        Target::Unix(_) => None,
    };
    let https = uri.as_ref().is_some_and(|uri| uri.scheme_str() == Some("https"));
    let tls = if https {
        let path = |flag: &Option<PathBuf>, key: &str| flag.clone().or_else(|| env(key).map(PathBuf::from));
        let identity = match (path(&global.cert, "ST2D_CERT"), path(&global.key, "ST2D_KEY")) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err(Usage("--cert and --key (or ST2D_CERT and ST2D_KEY) go together".into()).into()),
        };
        Some(Tls { ca: path(&global.ca, "ST2D_CA"), identity })
    } else {
        if let Some(flag) = [("--ca", &global.ca), ("--cert", &global.cert), ("--key", &global.key)]
            .into_iter()
            .find_map(|(flag, value)| value.is_some().then_some(flag))
        {
            return Err(
                Usage(format!("{flag} needs an https url (--url https://host:port); st2d is at {target}")).into()
            );
        }
        None
    };
    let token = token(global, env)?;
    if let (Some(_), Some(uri), Target::Tcp(url)) = (&token, &uri, &target)
        && !https
        && !is_loopback(uri)
    {
        anyhow::bail!("refusing to send the token in clear to {url}; use https");
    }
    Ok(Settings { target, token, tls })
}

/// Where the daemon is, given the global flags and an environment lookup (an empty variable is
/// unset): `--url`, else `ST2D_URL` unless `--socket` or `--home` is given, else the socket.
pub fn target(global: &Global, env: impl Fn(&str) -> Option<String>) -> Target {
    let env = |key: &str| env(key).filter(|value| !value.is_empty());
    if let Some(url) = &global.url {
        return Target::Tcp(url.clone());
    }
    if global.socket.is_none()
        && global.home.is_none()
        && let Some(url) = env("ST2D_URL")
    {
        return Target::Tcp(url);
    }
    Target::Unix(socket_path(global.socket.as_deref(), global.home.as_deref(), env))
}

/// Where the daemon's socket is, given the flags and an environment lookup.
pub fn socket_path(socket: Option<&Path>, home: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(socket) = socket {
        return socket.to_path_buf();
    }
    if let Some(socket) = env("ST2D_SOCKET").filter(|s| !s.is_empty()) {
        return PathBuf::from(socket);
    }
    if let Some(home) = home {
        return home.join("st2d.sock");
    }
    if let Some(home) = env("ST2D_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home).join("st2d.sock");
    }
    PathBuf::from(SYSTEM_SOCKET)
}

/// The token: `--token`, `--token-file`, `ST2D_TOKEN`, `ST2D_TOKEN_FILE`, the first one set.
fn token(global: &Global, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<String>> {
    if let Some(token) = &global.token {
        return Ok(Some(token.clone()).filter(|token| !token.is_empty()));
    }
    if let Some(file) = &global.token_file {
        return read_token_file(file).map(Some);
    }
    if let Some(token) = env("ST2D_TOKEN") {
        return Ok(Some(token));
    }
    env("ST2D_TOKEN_FILE").map(|file| read_token_file(Path::new(&file))).transpose()
}

/// The first line of the file that is neither blank nor a `#` comment, trimmed (so the daemon's
/// own `--grpc-token-file` can be read as it is).
fn read_token_file(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| anyhow!("cannot read the token file {}: {error}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_string)
        .ok_or_else(|| anyhow!("the token file {} holds no token", path.display()))
}

/// Whether the url's host is this machine (`localhost`, 127.0.0.0/8, `[::1]`).
fn is_loopback(uri: &Uri) -> bool {
    let Some(host) = uri.host() else { return false };
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The parsed `http://host:port` (or https); anything else is an error naming the url.
fn tcp_uri(url: &str) -> anyhow::Result<Uri> {
    let invalid = || format!("invalid url {url} (expected https://host:port or http://host:port)");
    let uri: Uri = url.parse().with_context(invalid)?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(anyhow!(invalid()));
    }
    Ok(uri)
}

/// An endpoint for `http://host:port` (or https); anything else is an error naming the url.
pub(super) fn tcp_endpoint(url: &str) -> anyhow::Result<Endpoint> {
    Ok(Endpoint::from(tcp_uri(url)?))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;
    use crate::connect::tests::{tcp, token_file, unix};

    /// The settings for `st2ctl ARGS status` in an environment of `vars`.
    fn resolve(args: &[&str], vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(["st2ctl"].iter().chain(args).chain(&["status"])).expect("a valid command line");
        settings(&cli.global, |key| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
    }

    fn text(result: anyhow::Result<Settings>) -> String {
        result.expect_err("an error").to_string()
    }

    fn is_usage(result: &anyhow::Result<Settings>) -> bool {
        result.as_ref().err().is_some_and(|error| error.downcast_ref::<Usage>().is_some())
    }

    #[test]
    fn discovery_follows_the_documented_order() {
        let env_all = |key: &str| match key {
            "ST2D_SOCKET" => Some("/env.sock".to_string()),
            "ST2D_HOME" => Some("/envhome".to_string()),
            _ => None,
        };
        let env_home = |key: &str| (key == "ST2D_HOME").then(|| "/envhome".to_string());
        let none = |_: &str| None;
        let flag_socket = Some(Path::new("/flag.sock"));
        let flag_home = Some(Path::new("/flaghome"));
        assert_eq!(socket_path(flag_socket, flag_home, env_all), PathBuf::from("/flag.sock"));
        assert_eq!(socket_path(None, flag_home, env_all), PathBuf::from("/env.sock"));
        assert_eq!(socket_path(None, flag_home, env_home), PathBuf::from("/flaghome/st2d.sock"));
        assert_eq!(socket_path(None, None, env_home), PathBuf::from("/envhome/st2d.sock"));
        assert_eq!(socket_path(None, None, none), PathBuf::from(SYSTEM_SOCKET));
        let empty = |_: &str| Some(String::new());
        assert_eq!(socket_path(None, None, empty), PathBuf::from(SYSTEM_SOCKET), "empty variables are unset");
    }

    #[test]
    fn a_url_means_tcp() {
        let global = Global { url: Some("http://127.0.0.1:7000".into()), ..Global::default() };
        assert_eq!(target(&global, |_| None), tcp("http://127.0.0.1:7000"));
        let global = Global { home: Some(PathBuf::from("/h")), ..Global::default() };
        assert_eq!(target(&global, |_| None), unix("/h/st2d.sock"));
    }

    #[test]
    fn flags_win_over_st2d_url_and_st2d_url_over_the_socket_variables() {
        let url = ("ST2D_URL", "https://st2d.example:9443");
        let target_of = |args: &[&str], vars: &[(&str, &str)]| resolve(args, vars).expect("valid").target;
        assert_eq!(target_of(&[], &[url]), tcp("https://st2d.example:9443"));
        assert_eq!(target_of(&["--url", "http://127.0.0.1:1"], &[url]), tcp("http://127.0.0.1:1"));
        assert_eq!(target_of(&["--home", "/h"], &[url]), unix("/h/st2d.sock"), "--home wins over ST2D_URL");
        assert_eq!(target_of(&["--socket", "/s.sock"], &[url]), unix("/s.sock"), "--socket wins over ST2D_URL");
        let socket_vars = [url, ("ST2D_SOCKET", "/env.sock"), ("ST2D_HOME", "/envhome")];
        assert_eq!(target_of(&[], &socket_vars), tcp("https://st2d.example:9443"));
        assert_eq!(target_of(&[], &[("ST2D_URL", "")]), unix(SYSTEM_SOCKET), "an empty ST2D_URL is unset");
        assert!(
            Cli::try_parse_from(["st2ctl", "--url", "https://h:1", "--socket", "/s", "status"]).is_err(),
            "--url and --socket on the command line exclude each other"
        );
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(tcp_endpoint("http://127.0.0.1:9101").is_ok());
        assert!(tcp_endpoint("https://st2d.example:443").is_ok());
        for bad in ["nonsense", "127.0.0.1:9101", "ftp://h:1", "http://", "unix:/run/st2d.sock"] {
            let error = tcp_endpoint(bad).expect_err(bad).to_string();
            assert_eq!(error, format!("invalid url {bad} (expected https://host:port or http://host:port)"));
        }
        assert!(text(resolve(&["--url", "nonsense"], &[])).starts_with("invalid url nonsense"));
    }

    #[test]
    fn token_files_give_their_first_token_line_trimmed() {
        let file = token_file("\n  \n# tokens of the control plane\n\t s3cret \r\nsecond line\n");
        assert_eq!(read_token_file(file.path()).expect("a token"), "s3cret");
        let empty = token_file(" \n# nothing but a comment\n");
        assert_eq!(
            read_token_file(empty.path()).expect_err("empty").to_string(),
            format!("the token file {} holds no token", empty.path().display())
        );
        let missing = Path::new("/nonexistent/st2d-test/token");
        let error = read_token_file(missing).expect_err("missing").to_string();
        assert!(error.starts_with("cannot read the token file /nonexistent/st2d-test/token: "), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn the_token_comes_from_the_flag_then_the_file_then_the_variables() {
        let file = token_file("from-file\n");
        let env_file = token_file("from-env-file\n");
        let path = file.path().to_str().expect("a utf-8 temporary path");
        let env_path = env_file.path().to_str().expect("a utf-8 temporary path");
        let token_of = |args: &[&str], vars: &[(&str, &str)]| resolve(args, vars).expect("valid").token;
        let both = [("ST2D_TOKEN", "from-env"), ("ST2D_TOKEN_FILE", env_path)];
        assert_eq!(token_of(&["--token", "flag"], &both).as_deref(), Some("flag"));
        assert_eq!(token_of(&["--token-file", path], &both).as_deref(), Some("from-file"));
        assert_eq!(token_of(&[], &both).as_deref(), Some("from-env"));
        assert_eq!(token_of(&[], &both[1..]).as_deref(), Some("from-env-file"));
        assert_eq!(token_of(&[], &[]), None);
        assert_eq!(token_of(&["--token", ""], &[]), None, "an empty token is none");
        assert_eq!(token_of(&[], &[("ST2D_TOKEN", "")]), None, "an empty variable is unset");
        assert!(
            Cli::try_parse_from(["st2ctl", "--token", "t", "--token-file", path, "status"]).is_err(),
            "--token and --token-file exclude each other"
        );
        let missing = text(resolve(&[], &[("ST2D_TOKEN_FILE", "/nonexistent/st2d-test/token")]));
        assert!(missing.starts_with("cannot read the token file /nonexistent/st2d-test/token: "), "{missing}");
    }

    #[test]
    fn tls_flags_need_an_https_url() {
        for (args, flag, at) in [
            (["--url", "http://127.0.0.1:9101", "--ca", "ca.pem"].as_slice(), "--ca", "http://127.0.0.1:9101"),
            (&["--home", "/h", "--cert", "c.pem", "--key", "k.pem"], "--cert", "/h/st2d.sock"),
            (&["--key", "k.pem"], "--key", SYSTEM_SOCKET),
        ] {
            let result = resolve(args, &[]);
            assert!(is_usage(&result), "{args:?}");
            assert_eq!(text(result), format!("{flag} needs an https url (--url https://host:port); st2d is at {at}"));
        }
        let half = resolve(&["--url", "https://h:1", "--cert", "c.pem"], &[]);
        assert!(is_usage(&half));
        assert_eq!(text(half), "--cert and --key (or ST2D_CERT and ST2D_KEY) go together");
        assert!(is_usage(&resolve(&["--url", "https://h:1"], &[("ST2D_KEY", "k.pem")])));
    }

    #[test]
    fn tls_variables_apply_to_https_only_and_flags_win() {
        let vars = [("ST2D_CA", "/env/ca.pem"), ("ST2D_CERT", "/env/c.pem"), ("ST2D_KEY", "/env/k.pem")];
        assert_eq!(resolve(&["--home", "/h"], &vars).expect("ignored for the socket").tls, None);
        assert_eq!(resolve(&["--url", "http://127.0.0.1:1"], &vars).expect("ignored for http").tls, None);
        let tls = resolve(&["--url", "https://h:1"], &vars).expect("valid").tls;
        let identity = Some((PathBuf::from("/env/c.pem"), PathBuf::from("/env/k.pem")));
        assert_eq!(tls, Some(Tls { ca: Some(PathBuf::from("/env/ca.pem")), identity: identity.clone() }));
        let tls = resolve(&["--url", "https://h:1", "--ca", "/flag/ca.pem"], &vars).expect("valid").tls;
        assert_eq!(tls, Some(Tls { ca: Some(PathBuf::from("/flag/ca.pem")), identity }));
        let tls = resolve(&["--url", "https://h:1"], &[]).expect("valid").tls;
        assert_eq!(tls, Some(Tls::default()), "https without --ca trusts the system's roots");
    }

    #[test]
    fn a_token_goes_in_clear_only_to_loopback() {
        let refused = resolve(&["--url", "http://st2d.example:9101", "--token", "t"], &[]);
        assert!(!is_usage(&refused));
        assert_eq!(text(refused), "refusing to send the token in clear to http://st2d.example:9101; use https");
        let refused = resolve(&[], &[("ST2D_URL", "http://10.0.0.5:9101"), ("ST2D_TOKEN", "t")]);
        assert_eq!(text(refused), "refusing to send the token in clear to http://10.0.0.5:9101; use https");
        for url in ["http://127.0.0.1:9101", "http://127.1.2.3:9101", "http://localhost:9101", "http://[::1]:9101"] {
            assert!(resolve(&["--url", url, "--token", "t"], &[]).is_ok(), "{url}");
        }
        assert!(resolve(&["--url", "https://st2d.example:9443", "--token", "t"], &[]).is_ok());
        assert!(resolve(&["--url", "http://st2d.example:9101"], &[]).is_ok(), "no token, nothing in clear");
        assert!(resolve(&["--home", "/h", "--token", "t"], &[]).is_ok(), "the socket is local");
    }
}
