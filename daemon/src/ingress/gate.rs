//! Who may use the HTTP listener, and as whom: StackStorm's credentials (`X-Auth-Token` header
//! or `?x-auth-token=`, `St2-Api-Key` header or `?st2-api-key=`) and a bearer token
//! (`Authorization: Bearer`). A token is one from `--http-token-file` or one issued by
//! `/auth/v1/tokens`; an API key is one from `--http-api-keys` or one made through
//! `/api/v1/apikeys`. A request admitted by a file's secret acts as the system user; one with an
//! issued token or API key as its user.
//!
//! Owns: the credential files, re-reading them, and the acting user of each request. Must not:
//! issue tokens or check passwords (`auth` does), or serve anything.

use std::path::PathBuf;
use std::sync::Arc;

use axum::http::HeaderMap;

use super::{IngressConfig, IngressError};
use crate::auth::{Auth, AuthError, Principal, UsersFile};
use crate::credentials::SecretsFile;
use crate::rest::Fault;

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

    /// Who the request acts as, or why it is refused.
    pub fn principal(&self, auth: &Auth, headers: &HeaderMap, query: Option<&str>) -> Result<Principal, Fault> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(|v| v.trim().to_string());
        let parameter = |name: &str| {
            query.and_then(|q| {
                form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
            })
        };
        let bearer = header("authorization").and_then(|a| a.strip_prefix("Bearer ").map(|t| t.trim().to_string()));
        let token = header("x-auth-token").or_else(|| parameter("x-auth-token")).or(bearer);
        let api_key = header("st2-api-key").or_else(|| parameter("st2-api-key"));
        let in_file = |file: &Option<Arc<SecretsFile>>, given: &str| file.as_ref().is_some_and(|f| f.admits(given));
        if let Some(token) = token.filter(|t| !t.is_empty()) {
            if in_file(&self.tokens, &token) {
                return Ok(Principal::system());
            }
            return match auth.token(&token) {
                Ok(record) => Ok(Principal { user: record.user }),
                Err(AuthError::TokenNotFound) if !self.required() => Ok(Principal::system()),
                Err(error) => Err(error.into()),
            };
        }
        if let Some(key) = api_key.filter(|k| !k.is_empty()) {
            if in_file(&self.api_keys, &key) {
                return Ok(Principal::system());
            }
            return match auth.api_key(&key) {
                Ok(record) => Ok(Principal { user: record.user }),
                Err(AuthError::ApiKeyNotFound(_)) if !self.required() => Ok(Principal::system()),
                Err(AuthError::ApiKeyNotFound(_)) => Err(Fault::unauthorized("API key is not found.")),
                Err(error) => Err(error.into()),
            };
        }
        if self.required() {
            return Err(Fault::unauthorized("One of Token or API key required."));
        }
        Ok(Principal::system())
    }
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
        let user =
            |headers: &HeaderMap, query: Option<&str>| credentials.principal(&auth, headers, query).map(|p| p.user);
        let system = Ok("stanley".to_string());
        assert_eq!(user(&with("st2-api-key", "k3y"), None), system);
        assert_eq!(user(&none, Some("a=1&st2-api-key=k3y")), system);
        assert_eq!(user(&with("authorization", "Bearer t0k"), None), system);
        assert_eq!(user(&with("x-auth-token", "t0k"), None), system);
        assert_eq!(user(&none, Some("x-auth-token=t0k")), system);
        assert_eq!(user(&with("x-auth-token", &issued.token), None), Ok("jill".to_string()));
        // A key is not a token, nor the other way round.
        for (headers, query) in [
            (with("x-auth-token", "k3y"), None),
            (with("st2-api-key", "t0k"), None),
            (with("authorization", "Basic t0k"), None),
            (none.clone(), Some("st2-api-key=k3")),
            (none.clone(), None),
        ] {
            let refused = credentials.principal(&auth, &headers, query).expect_err("refused");
            assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{headers:?} {query:?}");
        }
    }
}
