//! The `hosts` runner parameter of the remote runners (ST2-COMPAT.md 2.3) and `bastion_host`: a
//! comma list whose items are a name, `name:port`, an IPv4 or IPv6 address, or `[IPv6]:port`
//! (StackStorm's `split_host_port`); and the key of each host's result entry.
//!
//! Owns: that parsing and the result keys. Must not: resolve names or open connections.

use std::net::IpAddr;

/// One host as the action named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The item as the action wrote it.
    pub given: String,
    /// The name or address ssh is given (an IPv6 address without brackets).
    pub host: String,
    pub port: Option<u16>,
}

/// Why `hosts` (or `bastion_host`) names no usable host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostsError {
    #[error("runner parameter \"hosts\" names no host")]
    Empty,
    #[error("host \"{given}\": invalid port \"{port}\"")]
    BadPort { given: String, port: String },
    #[error("host \"{0}\": a host name cannot start with \"-\"")]
    LooksLikeAnOption(String),
}

/// The hosts of a comma list, in order; empty items are skipped.
pub fn parse_list(list: &str) -> Result<Vec<Target>, HostsError> {
    let targets =
        list.split(',').map(str::trim).filter(|item| !item.is_empty()).map(parse_one).collect::<Result<Vec<_>, _>>()?;
    if targets.is_empty() {
        return Err(HostsError::Empty);
    }
    Ok(targets)
}

/// One host: an address as it is, `[address]`, `[address]:port` or `name:port`.
pub fn parse_one(item: &str) -> Result<Target, HostsError> {
    let given = item.trim().to_string();
    let target = |host: &str, port: Option<u16>| Target { given: given.clone(), host: host.to_string(), port };
    let port_of = |text: &str| {
        text.parse::<u16>()
            .ok()
            .filter(|port| *port > 0)
            .ok_or_else(|| HostsError::BadPort { given: given.clone(), port: text.to_string() })
    };
    let (host, port) = if given.parse::<IpAddr>().is_ok() {
        (given.as_str(), None)
    } else if let Some(bracketed) = given.strip_prefix('[') {
        match bracketed.strip_suffix(']') {
            Some(address) => (address, None),
            None => {
                let (address, port) = bracketed.rsplit_once(':').unwrap_or((bracketed, ""));
                (address.strip_suffix(']').unwrap_or(address), Some(port_of(port)?))
            }
        }
    } else if let Some((name, port)) = given.rsplit_once(':') {
        (name, Some(port_of(port)?))
    } else {
        (given.as_str(), None)
    };
    if host.starts_with('-') {
        return Err(HostsError::LooksLikeAnOption(given));
    }
    Ok(target(host, port))
}

/// The key of each target's result entry: its host, as StackStorm keys results, unless two
/// targets share a host (one address, several ports), which are keyed as given so that no entry
/// hides another.
pub fn result_keys(targets: &[Target]) -> Vec<String> {
    targets
        .iter()
        .map(|target| {
            let shared = targets.iter().filter(|other| other.host == target.host).count() > 1;
            if shared { target.given.clone() } else { target.host.clone() }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_split_as_stackstorm_splits_them() {
        let cases: &[(&str, &str, Option<u16>)] = &[
            ("web1", "web1", None),
            ("web1:2222", "web1", Some(2222)),
            ("10.0.0.1", "10.0.0.1", None),
            ("10.0.0.1:22", "10.0.0.1", Some(22)),
            ("::1", "::1", None),
            ("fe80::1:2", "fe80::1:2", None),
            ("[::1]", "::1", None),
            ("[::1]:2200", "::1", Some(2200)),
            (" db.example.com ", "db.example.com", None),
        ];
        for (item, host, port) in cases {
            let target = parse_one(item).unwrap_or_else(|e| panic!("{item}: {e}"));
            assert_eq!((target.host.as_str(), target.port), (*host, *port), "{item}");
            assert_eq!(target.given, item.trim());
        }
    }

    #[test]
    fn bad_items_are_refused_with_the_item() {
        assert_eq!(parse_one("web1:ssh"), Err(HostsError::BadPort { given: "web1:ssh".into(), port: "ssh".into() }));
        assert_eq!(parse_one("[::1]:0"), Err(HostsError::BadPort { given: "[::1]:0".into(), port: "0".into() }));
        assert_eq!(parse_one("-oProxyCommand=x"), Err(HostsError::LooksLikeAnOption("-oProxyCommand=x".into())));
        assert_eq!(parse_list(" , ,"), Err(HostsError::Empty));
    }

    #[test]
    fn lists_keep_their_order_and_results_are_keyed_by_host() {
        let targets = parse_list("a:2201, b,,c:2203").expect("valid");
        assert_eq!(targets.iter().map(|t| t.host.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(result_keys(&targets), ["a", "b", "c"]);
        let shared = parse_list("127.0.0.1:2201,127.0.0.1:2202,127.0.0.2:2201").expect("valid");
        assert_eq!(result_keys(&shared), ["127.0.0.1:2201", "127.0.0.1:2202", "127.0.0.2"]);
    }
}
