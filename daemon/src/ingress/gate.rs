//! Who may use the HTTP listener, and as whom: StackStorm's credentials (`X-Auth-Token` header,
//! `?x-auth-token=` or the `auth-token` cookie, `St2-Api-Key` header or `?st2-api-key=`) and a
//! bearer token (`Authorization: Bearer`). As StackStorm's router does, a request admitted by an
//! issued token in a header or the query gets that token back as an `auth-token` cookie
//! (`HttpOnly`, living as long as the token), so a browser's `EventSource`, which sends no
//! headers, reaches the stream. A token is one from `--http-token-file` or one issued by
//! `/auth/v1/tokens`; an API key is one from `--http-api-keys` or one made through
//! `/api/v1/apikeys`. A request admitted by a file's secret acts as the system user; one with an
//! issued token or API key as its user.
//!
//! Owns: the credential files, re-reading them, and the acting user of each request. Must not:
//! issue tokens or check passwords (`auth` does), or serve anything.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};

use super::{IngressConfig, IngressError};
use crate::auth::{Auth, AuthError, Principal, UsersFile};
use crate::credentials::SecretsFile;
use crate::rest::Fault;

/// The cookie a token is also accepted in (StackStorm's `auth-token-cookie`).
pub const TOKEN_COOKIE: &str = "auth-token";

/// Who a request acts as, and the session cookie to set on its answer.
#[derive(Debug)]
pub struct Admitted {
    pub principal: Principal,
    pub cookie: Option<HeaderValue>,
}

/// Credentials a request may carry (re-read on SIGHUP); none means none are asked for.
#[derive(Debug, Default)]
pub struct Credentials {
    pub api_keys: Option<Arc<SecretsFile>>,
    pub tokens: Option<Arc<SecretsFile>>,
    pub users: Option<Arc<UsersFile>>,
}

impl Credentials {
    pub fn load(config: &IngressConfig) -> Result<Self, IngressError> {
        let open = |path: &PathBuf| SecretsFile::open(path);
        Ok(Self {
            api_keys: config.api_keys_file.as_ref().map(open).transpose()?,
            tokens: config.token_file.as_ref().map(open).transpose()?,
            users: crate::auth::load_users(&config.auth)?,
        })
    }

    /// Whether a request must carry a credential.
    pub fn required(&self) -> bool {
        self.api_keys.is_some() || self.tokens.is_some() || self.users.is_some()
    }

    /// Who the request acts as, with the cookie its answer sets, or why it is refused.
    pub fn admit(&self, auth: &Auth, headers: &HeaderMap, query: Option<&str>) -> Result<Admitted, Fault> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
        let parameter = |name: &str| {
            query.and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            })
        };
        let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(|t| t.trim().to_string()));
        let cookie = || {
            headers
                .get_all("cookie")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .find_map(|pair| pair.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('=').map(str::to_string))
        };
        let sent = header("x-auth-token").or_else(|| parameter("x-auth-token"));
        let from_cookie = sent.is_none() && bearer.is_none();
        let token = sent.or(bearer).or_else(|| cookie().filter(|c| !c.is_empty()));
        let admitted = |principal: Principal| Admitted { principal, cookie: None };
        let api_key = header("st2-api-key").or_else(|| parameter("st2-api-key"));
        let in_file = |file: &Option<Arc<SecretsFile>>, given: &str| file.as_ref().is_some_and(|f| f.admits(given));
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            if in_file(&self.tokens, &token) {
                return Ok(admitted(Principal::system()));
            }
            return match auth.token(&token) {
                Ok(record) => {
                    let cookie = if from_cookie { None } else { session_cookie(&token, &record.expiry) };
                    Ok(Admitted { principal: Principal { user: record.user }, cookie })
                }
                Err(AuthError::TokenNotFound) if !self.required() => Ok(admitted(Principal::system())),
                Err(error) => Err(error.into()),
            };
        }
        if let Some(key) = api_key.filter(|k| !k.is_empty()) {
            if in_file(&self.api_keys, &key) {
                return Ok(admitted(Principal::system()));
            }
            return match auth.api_key(&key) {
                Ok(record) => Ok(admitted(Principal { user: record.user })),
                Err(AuthError::ApiKeyNotFound(_)) if !self.required() => Ok(admitted(Principal::system())),
                Err(AuthError::ApiKeyNotFound(_)) => Err(Fault::unauthorized("API key is not found.")),
                Err(error) => Err(error.into()),
            };
        }
        if self.required() {
            return Err(Fault::unauthorized("One of Token or API key required."));
        }
        Ok(admitted(Principal::system()))
    }
}

/// `auth-token=TOKEN; Max-Age=...; HttpOnly; Path=/`, living as long as the token.
fn session_cookie(token: &str, expiry: &chrono::DateTime<chrono::Utc>) -> Option<HeaderValue> {
    let max_age = (*expiry - chrono::Utc::now()).num_seconds().max(0);
    HeaderValue::from_str(&format!("{TOKEN_COOKIE}={token}; Max-Age={max_age}; HttpOnly; Path=/")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn credentials_come_from_stackstorms_headers_and_query_parameters() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str, secret: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, secret).expect("write");
            Some(SecretsFile::open(&path).expect("readable"))
        };
        let store = crate::store::Store::open(&dir.path().join("data")).expect("store");
        let auth = Auth::new(None, store, Default::default(), 0);
        let issued = auth.tokens().issue("jill", 60, serde_json::Value::Null).expect("issued");
        let credentials = Credentials { api_keys: file("keys", "k3y"), tokens: file("tokens", "t0k"), users: None };
        let with = |name: &'static str, value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(name, value.parse().expect("a header value"));
            headers
        };
        let none = HeaderMap::new();
        let user = |headers: &HeaderMap, query: Option<&str>| {
            credentials.admit(&auth, headers, query).map(|a| a.principal.user)
        };
        let system = Ok("stanley".to_string());
        assert_eq!(user(&with("st2-api-key", "k3y"), None), system);
        assert_eq!(user(&none, Some("a=1&st2-api-key=k3y")), system);
        assert_eq!(user(&with("authorization", "Bearer t0k"), None), system);
        assert_eq!(user(&with("x-auth-token", "t0k"), None), system);
        assert_eq!(user(&none, Some("x-auth-token=t0k")), system);
        assert_eq!(user(&with("x-auth-token", &issued.token), None), Ok("jill".to_string()));
        let cookie = format!("theme=dark; {TOKEN_COOKIE}={}", issued.token);
        assert_eq!(user(&with("cookie", &cookie), None), Ok("jill".to_string()));
        let by_header = credentials.admit(&auth, &with("x-auth-token", &issued.token), None).expect("admitted");
        let set = by_header.cookie.expect("a session cookie");
        assert!(set.to_str().expect("text").starts_with(&format!("{TOKEN_COOKIE}={}; Max-Age=", issued.token)));
        let by_cookie = credentials.admit(&auth, &with("cookie", &cookie), None).expect("admitted");
        assert!(by_cookie.cookie.is_none(), "a cookie is not sent back");
        // A key is not a token, nor the other way round.
        for (headers, query) in [
            (with("x-auth-token", "k3y"), None),
            (with("st2-api-key", "t0k"), None),
            (with("authorization", "Basic t0k"), None),
            (none.clone(), Some("st2-api-key=k3")),
            (with("cookie", "auth-token=forged"), None),
            (none.clone(), None),
        ] {
            let refused = credentials.admit(&auth, &headers, query).expect_err("refused");
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{headers:?} {query:?}");
        }
    }
}
