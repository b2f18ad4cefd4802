//! Auth tokens as StackStorm's st2auth issues them: 32 hex digits, a user, an expiry; kept in
//! the store under the SHA-256 digest of the token (the token itself is shown once, when it is
//! issued), so they survive restarts and can be revoked.
//!
//! Owns: making, finding and revoking tokens. Must not: check a password (`auth::users` does)
//! or know about HTTP.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AuthError;
use crate::store::Store;

const TOKEN_PREFIX: &str = "token:";

/// 32 random hex digits (the shape of StackStorm's tokens).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 16];
    // The system's random source failing leaves zeros; the digest lookup still works, and
    // ring's SystemRandom only fails where getrandom is missing altogether.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest_key(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: String,
    pub user: String,
    pub issued: DateTime<Utc>,
    pub expiry: DateTime<Utc>,
    #[serde(default)]
    pub metadata: Value,
}

impl TokenRecord {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expiry <= now
    }
}

/// A token just issued: the secret (shown once) and its record.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub record: TokenRecord,
}

/// The tokens in the store.
#[derive(Clone)]
pub struct Tokens {
    store: Store,
}

impl Tokens {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn issue(&self, user: &str, ttl_seconds: u64, metadata: Value) -> Result<IssuedToken, AuthError> {
        let token = new_secret();
        let issued = Utc::now();
        let ttl = Duration::seconds(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 1000));
        let record = TokenRecord {
            id: new_secret()[..24].to_string(),
            user: user.to_string(),
            issued,
            expiry: issued.checked_add_signed(ttl).unwrap_or(DateTime::<Utc>::MAX_UTC),
            metadata,
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| AuthError::Store(e.to_string()))?;
        self.store.put_auth_record(&digest_key(&token), &bytes).map_err(|e| AuthError::Store(e.to_string()))?;
        Ok(IssuedToken { token, record })
    }

    /// The record of `token`, expired or not; `None` when no such token was issued.
    pub fn find(&self, token: &str) -> Result<Option<TokenRecord>, AuthError> {
        let record = self.store.auth_record(&digest_key(token)).map_err(|e| AuthError::Store(e.to_string()))?;
        Ok(record.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Forgets `token`; whether it existed.
    pub fn revoke(&self, token: &str) -> Result<bool, AuthError> {
        self.store.remove_auth_record(&digest_key(token)).map_err(|e| AuthError::Store(e.to_string()))
    }

    /// Removes every expired token; how many.
    pub fn sweep(&self, now: DateTime<Utc>) -> Result<usize, AuthError> {
        let records = self.store.auth_records(TOKEN_PREFIX).map_err(|e| AuthError::Store(e.to_string()))?;
        let mut removed = 0;
        for (key, bytes) in records {
            let expired = serde_json::from_slice::<TokenRecord>(&bytes).map(|r| r.expired(now)).unwrap_or(true);
            if expired && self.store.remove_auth_record(&key).map_err(|e| AuthError::Store(e.to_string()))? {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Tokens of running executions (`ST2_ACTION_AUTH_TOKEN`): in memory only, as they end with
/// their execution, and an execution does not outlive a restart.
#[derive(Default)]
pub struct ActionTokens {
    by_execution: std::sync::Mutex<std::collections::HashMap<String, String>>,
    users: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl ActionTokens {
    /// The user a live execution token acts as.
    pub fn user_of(&self, token: &str) -> Option<String> {
        self.users.lock().ok()?.get(token).cloned()
    }
}

impl crate::runner::ExecutionTokens for ActionTokens {
    fn token_for(&self, execution_id: &str, user: &str) -> String {
        let Ok(mut by_execution) = self.by_execution.lock() else { return String::new() };
        if let Some(token) = by_execution.get(execution_id) {
            return token.clone();
        }
        let token = new_secret();
        by_execution.insert(execution_id.to_string(), token.clone());
        if let Ok(mut users) = self.users.lock() {
            users.insert(token.clone(), user.to_string());
        }
        token
    }

    fn forget(&self, execution_id: &str) {
        let token = self.by_execution.lock().ok().and_then(|mut m| m.remove(execution_id));
        if let (Some(token), Ok(mut users)) = (token, self.users.lock()) {
            users.remove(&token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_by_their_secret_only_and_expire() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("data")).expect("store");
        let tokens = Tokens::new(store.clone());
        let issued = tokens.issue("st2admin", 60, Value::Null).expect("issued");
        assert_eq!(issued.token.len(), 32);
        let found = tokens.find(&issued.token).expect("read").expect("found");
        assert_eq!(found.user, "st2admin");
        assert!(!found.expired(Utc::now()));
        assert!(found.expired(Utc::now() + Duration::seconds(61)));
        // The secret is not what the store keeps.
        let kept = store.auth_records("").expect("records");
        assert!(kept.iter().all(
            |(key, bytes)| !key.contains(&issued.token) && !String::from_utf8_lossy(bytes).contains(&issued.token)
        ));
        assert_eq!(tokens.find("0123").expect("read"), None);
        assert_eq!(tokens.sweep(Utc::now() + Duration::seconds(61)).expect("swept"), 1);
        assert_eq!(tokens.find(&issued.token).expect("read"), None);
    }
}
