//! The one-line connection errors ("no daemon", refused, untrusted certificate, client
//! certificate, TLS versus plain), whether they surface at connect or at a call.
//!
//! Owns: finding the I/O or rustls error in a transport error's chain (or a status's source)
//! and saying what it means and what to do. Must not: connect, or word a call's failure other
//! than a connection failure (`commands` does).

use std::error::Error as StdError;
use std::io::ErrorKind;

use anyhow::anyhow;

use super::{Settings, Target};

/// TLS that cannot be set up before connecting: with valid files, only the system's roots can be
/// missing.
pub(super) fn tls_setup_error(settings: &Settings, error: &(dyn StdError + 'static)) -> anyhow::Error {
    let cause = innermost(error);
    let target = &settings.target;
    if settings.tls.as_ref().is_some_and(|tls| tls.ca.is_none()) && cause.to_string().contains("native certs") {
        return anyhow!("cannot connect to st2d at {target}: this system has no CA certificates; pass --ca FILE");
    }
    anyhow!("cannot connect to st2d at {target}: cannot set up TLS: {cause}")
}

/// The error and its sources, outermost first.
fn chain<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e: &&'a (dyn StdError + 'static)| e.source())
}

/// The last error of the chain, which names the cause.
fn innermost<'a>(error: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    chain(error).last().unwrap_or(error)
}

/// The rustls error in an error's chain: itself or inside an `io::Error` (whose `source()` skips
/// the error it wraps), or an alert received after the handshake, which h2 passes on as the text
/// of an `io::Error` (`received fatal alert: CertificateRequired`).
fn rustls_error(error: &(dyn StdError + 'static)) -> Option<rustls::Error> {
    chain(error).find_map(|e| {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.clone());
        }
        let io = e.downcast_ref::<std::io::Error>()?;
        if let Some(tls) = io.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(tls.clone());
        }
        let name = io.to_string().strip_prefix("received fatal alert: ")?.to_string();
        (0..=u8::MAX)
            .map(rustls::AlertDescription::from)
            .find(|alert| format!("{alert:?}") == name)
            .map(rustls::Error::AlertReceived)
    })
}

/// The one-line error for a connection that failed, at connect or at a call (whose status has
/// the transport error as its source): no daemon, refused, or what TLS said, with what to do.
pub fn connect_error(settings: &Settings, error: &(dyn StdError + 'static)) -> anyhow::Error {
    let target = &settings.target;
    if let Some(tls) = rustls_error(error) {
        return anyhow!("cannot connect to st2d at {target}: {}", tls_failure(settings, &tls));
    }
    let io = chain(error).find_map(|e| e.downcast_ref::<std::io::Error>());
    match (target, io) {
        (Target::Unix(_), None) => no_daemon(target),
        (Target::Unix(_), Some(io))
            if matches!(io.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused | ErrorKind::TimedOut) =>
        {
            no_daemon(target)
        }
        (Target::Tcp(_), Some(io)) if io.kind() == ErrorKind::ConnectionRefused => {
            anyhow!("no st2d daemon at {target} (connection refused)")
        }
        (Target::Tcp(_), Some(io)) if io.kind() == ErrorKind::TimedOut => {
            anyhow!("no st2d daemon at {target} (connection timed out)")
        }
        (Target::Tcp(_), Some(io))
            if matches!(io.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) =>
        {
            // A TLS port answers a plain client's first bytes by closing the connection.
            let hint = if settings.tls.is_none() { "; is it a TLS port? then use https://" } else { "" };
            anyhow!("cannot connect to st2d at {target}: the server closed the connection ({io}){hint}")
        }
        (_, Some(io)) => anyhow!("cannot connect to st2d at {target}: {io}"),
        (Target::Tcp(_), None) => anyhow!("cannot connect to st2d at {target}: {}", innermost(error)),
    }
}

fn no_daemon(target: &Target) -> anyhow::Error {
    anyhow!("no st2d daemon at {target} (is it running? start it with: st2d --home DIR)")
}

/// What a TLS failure means, with rustls's own words and what to do.
fn tls_failure(settings: &Settings, error: &rustls::Error) -> String {
    use rustls::{AlertDescription as Alert, CertificateError as Cert, Error as E};
    let tls = settings.tls.clone().unwrap_or_default();
    let untrusted = |hint: &str| format!("the server's certificate is not trusted ({error}); {hint}");
    match error {
        E::InvalidCertificate(Cert::NotValidForName | Cert::NotValidForNameContext { .. }) => {
            untrusted("use a url with a name or address the certificate was issued for")
        }
        E::InvalidCertificate(
            Cert::Expired | Cert::ExpiredContext { .. } | Cert::NotValidYet | Cert::NotValidYetContext { .. },
        ) => untrusted("the server needs a current certificate (or this machine's clock is wrong)"),
        // webpki's error, which rustls wraps as `Other`: the one-line `openssl req -x509` makes one.
        E::InvalidCertificate(Cert::Other(other)) if format!("{other:?}").contains("CaUsedAsEndEntity") => untrusted(
            "it is a CA certificate (basicConstraints CA:TRUE), which cannot be a server's: \
             issue it with basicConstraints=critical,CA:FALSE",
        ),
        E::InvalidCertificate(_) | E::NoCertificatesPresented => match &tls.ca {
            Some(ca) => untrusted(&format!("pass --ca FILE with the CA that signed it ({} did not)", ca.display())),
            None => untrusted("pass --ca FILE with the CA that signed it"),
        },
        E::AlertReceived(Alert::CertificateRequired) if tls.identity.is_none() => {
            format!("the server requires a client certificate ({error}); pass --cert FILE --key FILE")
        }
        E::AlertReceived(Alert::HandshakeFailure | Alert::CertificateRequired) if tls.identity.is_none() => {
            format!(
                "the server refused the TLS handshake ({error}); it may require a client certificate: pass --cert FILE --key FILE"
            )
        }
        E::AlertReceived(
            Alert::BadCertificate
            | Alert::UnknownCA
            | Alert::CertificateUnknown
            | Alert::CertificateExpired
            | Alert::CertificateRevoked
            | Alert::DecryptError
            | Alert::AccessDenied,
        ) if tls.identity.is_some() => format!("the server refused the client certificate ({error})"),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } => {
            format!("the server does not speak TLS ({error}); is it a plain http port? then use http://")
        }
        _ => format!("TLS failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::path::PathBuf;

    use super::*;
    use crate::connect::Tls;
    use crate::connect::tests::{tcp, unix};

    fn https(tls: Tls) -> Settings {
        Settings { target: tcp("https://127.0.0.1:9443"), token: None, tls: Some(tls) }
    }

    /// A transport error as tonic's: an outer error whose source is the I/O error.
    #[derive(Debug)]
    struct Transport(std::io::Error);

    impl fmt::Display for Transport {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("transport error")
        }
    }

    impl StdError for Transport {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    fn tls_error(settings: &Settings, error: rustls::Error) -> String {
        let error = Transport(std::io::Error::new(ErrorKind::InvalidData, error));
        connect_error(settings, &error).to_string()
    }

    #[test]
    fn tls_failures_name_the_cause() {
        use rustls::{AlertDescription as Alert, CertificateError as Cert, Error as E};
        let plain = https(Tls::default());
        let at = "cannot connect to st2d at https://127.0.0.1:9443";
        assert_eq!(
            tls_error(&plain, E::InvalidCertificate(Cert::UnknownIssuer)),
            format!(
                "{at}: the server's certificate is not trusted (invalid peer certificate: UnknownIssuer); \
                 pass --ca FILE with the CA that signed it"
            )
        );
        let with_ca = https(Tls { ca: Some(PathBuf::from("/etc/st2d/ca.pem")), identity: None });
        assert!(
            tls_error(&with_ca, E::InvalidCertificate(Cert::BadSignature))
                .ends_with("pass --ca FILE with the CA that signed it (/etc/st2d/ca.pem did not)")
        );
        assert_eq!(
            tls_error(&plain, E::InvalidCertificate(Cert::NotValidForName)),
            format!(
                "{at}: the server's certificate is not trusted (invalid peer certificate: NotValidForName); \
                 use a url with a name or address the certificate was issued for"
            )
        );
        assert_eq!(
            tls_error(&plain, E::InvalidCertificate(Cert::Expired)),
            format!(
                "{at}: the server's certificate is not trusted (invalid peer certificate: Expired); \
                 the server needs a current certificate (or this machine's clock is wrong)"
            )
        );
        assert_eq!(
            tls_error(&plain, E::AlertReceived(Alert::CertificateRequired)),
            format!(
                "{at}: the server requires a client certificate (received fatal alert: CertificateRequired); \
                 pass --cert FILE --key FILE"
            )
        );
        let identity = https(Tls { ca: None, identity: Some((PathBuf::from("c.pem"), PathBuf::from("k.pem"))) });
        assert_eq!(
            tls_error(&identity, E::AlertReceived(Alert::UnknownCA)),
            format!("{at}: the server refused the client certificate (received fatal alert: UnknownCA)")
        );
        let corrupt = tls_error(&plain, E::InvalidMessage(rustls::InvalidMessage::InvalidContentType));
        assert!(corrupt.starts_with(&format!("{at}: the server does not speak TLS (")), "{corrupt}");
        assert!(corrupt.ends_with("); is it a plain http port? then use http://"), "{corrupt}");
        assert_eq!(tls_error(&plain, E::DecryptError), format!("{at}: TLS failed: cannot decrypt peer's message"));
    }

    #[test]
    fn connection_failures_name_the_cause() {
        let plain = https(Tls::default());
        let refused = Transport(std::io::Error::from(ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_error(&plain, &refused).to_string(),
            "no st2d daemon at https://127.0.0.1:9443 (connection refused)"
        );
        let timed_out = Transport(std::io::Error::from(ErrorKind::TimedOut));
        assert_eq!(
            connect_error(&plain, &timed_out).to_string(),
            "no st2d daemon at https://127.0.0.1:9443 (connection timed out)"
        );
        let unix = Settings { target: unix("/s.sock"), token: None, tls: None };
        let denied = std::io::Error::from(ErrorKind::PermissionDenied);
        let message = connect_error(&unix, &denied).to_string();
        assert!(message.starts_with("cannot connect to st2d at /s.sock: "), "{message}");
        let refused = std::io::Error::from(ErrorKind::ConnectionRefused);
        assert!(connect_error(&unix, &refused).to_string().starts_with("no st2d daemon at /s.sock"));
    }
}
