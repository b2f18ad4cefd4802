//! Authentication as StackStorm's st2auth does it with the flat-file backend: a users file
//! (htpasswd), tokens issued for a user and password with a TTL, and the acting user of a
//! request found from its token.
//!
//! Owns: who a credential belongs to and the messages StackStorm gives when it does not
//! (`Token has expired.`, `Invalid or missing credentials`). Must not: know a door's types
//! (HTTP headers, gRPC metadata: each door takes the credential out of its request).

pub mod api_keys;
pub mod tokens;
pub mod users;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

pub use api_keys::{ApiKeyRecord, ApiKeys};
pub use tokens::{ActionTokens, IssuedToken, TokenRecord, Tokens};
pub use users::{UsersError, UsersFile};

/// StackStorm's default and largest token TTL (`auth.token_ttl`): a day.
pub const DEFAULT_TOKEN_TTL: u64 = 86_400;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Users(#[from] UsersError),
    #[error("Invalid or missing credentials")]
    BadCredentials,
    #[error("TTL specified {given} is greater than max allowed {max}.")]
    TtlTooLarge { given: u64, max: u64 },
    #[error("Token is not found.")]
    TokenNotFound,
    #[error("Token has expired.")]
    TokenExpired,
    #[error("API key is disabled.")]
    ApiKeyDisabled,
    #[error("ApiKey matching {0} for reference and id not found.")]
    ApiKeyNotFound(String),
    #[error(
        "authentication is off: start st2d with --auth-users FILE (an htpasswd file) to log in with a user and password"
    )]
    Off,
    #[error("auth store: {0}")]
    Store(String),
}

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
}

impl Principal {
    /// A request admitted without a user of its own (auth off, or a key or token from a
    /// credentials file) acts as StackStorm's system user.
    pub fn system() -> Self {
        Self { user: st2d_core::template::SYSTEM_USER.to_string() }
    }
}

/// How authentication is set up.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    pub users_file: Option<PathBuf>,
    /// Seconds a token lives unless a shorter TTL is asked for (also the largest TTL).
    pub token_ttl: u64,
}

/// The users file, when there is one; loaded before the store opens so a bad file stops the
/// start at once.
pub fn load_users(config: &AuthConfig) -> Result<Option<Arc<UsersFile>>, AuthError> {
    Ok(config.users_file.as_deref().map(UsersFile::open).transpose()?)
}

/// Users, tokens and API keys.
#[derive(Clone)]
pub struct Auth {
    users: Option<Arc<UsersFile>>,
    tokens: Tokens,
    action_tokens: Arc<ActionTokens>,
    api_keys: ApiKeys,
    token_ttl: u64,
}

impl Auth {
    pub fn new(
        users: Option<Arc<UsersFile>>,
        store: crate::store::Store,
        action_tokens: Arc<ActionTokens>,
        token_ttl: u64,
    ) -> Self {
        let token_ttl = if token_ttl == 0 { DEFAULT_TOKEN_TTL } else { token_ttl };
        Self { users, tokens: Tokens::new(store.clone()), action_tokens, api_keys: ApiKeys::new(store), token_ttl }
    }

    /// Whether users log in (a users file is configured).
    pub fn enabled(&self) -> bool {
        self.users.is_some()
    }

    /// A new token for `user` when `password` is theirs; `ttl` (seconds) at most the configured
    /// TTL.
    pub fn login(
        &self,
        user: &str,
        password: &str,
        ttl: Option<u64>,
        metadata: Value,
    ) -> Result<IssuedToken, AuthError> {
        let users = self.users.as_ref().ok_or(AuthError::Off)?;
        if !users.check(user, password) {
            return Err(AuthError::BadCredentials);
        }
        let ttl = match ttl.filter(|ttl| *ttl > 0) {
            Some(given) if given > self.token_ttl => return Err(AuthError::TtlTooLarge { given, max: self.token_ttl }),
            Some(given) => given,
            None => self.token_ttl,
        };
        self.tokens.issue(user, ttl, metadata)
    }

    /// The live token `token`: one issued to a user, or a running execution's.
    pub fn token(&self, token: &str) -> Result<TokenRecord, AuthError> {
        if let Some(user) = self.action_tokens.user_of(token) {
            let now = Utc::now();
            return Ok(TokenRecord { id: String::new(), user, issued: now, expiry: now, metadata: Value::Null });
        }
        let record = self.tokens.find(token)?.ok_or(AuthError::TokenNotFound)?;
        if record.expired(Utc::now()) {
            return Err(AuthError::TokenExpired);
        }
        Ok(record)
    }

    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    pub fn api_keys(&self) -> &ApiKeys {
        &self.api_keys
    }

    /// The live, enabled API key `key`.
    pub fn api_key(&self, key: &str) -> Result<ApiKeyRecord, AuthError> {
        let record = self.api_keys.by_key(key)?.ok_or_else(|| AuthError::ApiKeyNotFound(key_prefix(key)))?;
        if !record.enabled {
            return Err(AuthError::ApiKeyDisabled);
        }
        Ok(record)
    }
}

/// The first characters of a secret, for a message that must not repeat it whole.
fn key_prefix(key: &str) -> String {
    let shown: String = key.chars().take(4).collect();
    format!("{shown}...")
}
