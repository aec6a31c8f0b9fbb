//! Authentication (HTTP Basic with Argon2id password hashes, Bearer API tokens stored
//! as SHA-256) and per-collection authorisation from the store's permissions.
//!
//! Verified credentials and permissions are cached for a few seconds so a busy client
//! does not pay an Argon2 verification or a database round trip per request; a
//! revoked token or changed permission takes effect within [`CACHE_TTL`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use store::{CollectionId, Store};

use super::error::ServerError;

/// How long verified credentials and permissions are reused.
pub const CACHE_TTL: Duration = Duration::from_secs(5);
const CACHE_MAX: usize = 10_000;

/// Roles a user or token can carry. `sensor` is for telemetry feeds: it may post events
/// to the early-warning ingest endpoint, and reads but never writes over TAXII.
pub const ROLES: [&str; 5] = ["admin", "analyst", "reader", "peer", "sensor"];

/// The role of an unauthenticated reader (never stored: no account carries it).
pub const ANONYMOUS_ROLE: &str = "anonymous";

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable identity used to bind `next` tokens: `user:<id>` or `token:<id>`.
    pub key: String,
    pub org_id: String,
    pub role: String,
    /// The user account behind the credential (a token may belong to none): the
    /// identity TLP:RED's named individuals are matched against.
    pub user_id: Option<String>,
}

impl Principal {
    /// An unauthenticated reader, on a node that lets anonymous readers receive
    /// TLP:CLEAR (`nadhir node set --anonymous-clear true`).
    pub fn anonymous() -> Self {
        Principal {
            key: "anonymous".to_owned(),
            org_id: String::new(),
            role: ANONYMOUS_ROLE.to_owned(),
            user_id: None,
        }
    }

    /// Whether the role may write at all (readers, sensors and anonymous readers never
    /// write).
    pub fn role_can_write(&self) -> bool {
        self.role != "reader" && self.role != "sensor" && self.role != ANONYMOUS_ROLE
    }
    /// Whether the role may delete objects.
    pub fn role_can_delete(&self) -> bool {
        self.role == "admin" || self.role == "analyst"
    }
}

/// The rights a principal has on one collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rights {
    pub read: bool,
    pub write: bool,
}

/// Hashes a password as an Argon2id PHC string.
pub fn hash_password(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServerError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(format!("cannot hash password: {e}")))
}

/// Checks a password against an Argon2 PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new random API token secret (32 bytes, base64url) and its SHA-256 hex.
pub fn new_token_secret() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = format!("ndr_{}", URL_SAFE_NO_PAD.encode(raw));
    let hash = token_hash(&secret);
    (secret, hash)
}

/// SHA-256 hex of a token secret, as the store keeps it.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

struct Entry<V> {
    value: V,
    at: Instant,
}

/// A small time-bounded cache.
pub(crate) struct TtlCache<V> {
    map: Mutex<hashbrown::HashMap<String, Entry<V>>>,
}

impl<V> std::fmt::Debug for TtlCache<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TtlCache")
    }
}

impl<V: Clone> TtlCache<V> {
    pub(crate) fn new() -> Self {
        TtlCache {
            map: Mutex::new(hashbrown::HashMap::new()),
        }
    }
    pub(crate) fn get(&self, key: &str) -> Option<V> {
        let map = self.map.lock().ok()?;
        map.get(key)
            .filter(|e| e.at.elapsed() < CACHE_TTL)
            .map(|e| e.value.clone())
    }
    pub(crate) fn put(&self, key: String, value: V) {
        if let Ok(mut map) = self.map.lock() {
            if map.len() >= CACHE_MAX {
                map.retain(|_, e| e.at.elapsed() < CACHE_TTL);
                if map.len() >= CACHE_MAX {
                    map.clear();
                }
            }
            map.insert(
                key,
                Entry {
                    value,
                    at: Instant::now(),
                },
            );
        }
    }
}

/// Authenticates requests and answers authorisation questions.
pub struct Authenticator {
    principals: TtlCache<Principal>,
    rights: TtlCache<Rights>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator")
    }
}

impl Default for Authenticator {
    fn default() -> Self {
        Self::new()
    }
}

fn unauth(msg: &str) -> ServerError {
    ServerError::Unauthenticated(msg.to_owned())
}

impl Authenticator {
    pub fn new() -> Self {
        Authenticator {
            principals: TtlCache::new(),
            rights: TtlCache::new(),
        }
    }

    /// Authenticates the request from its `Authorization` header.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        headers: &HeaderMap,
    ) -> Result<Principal, ServerError> {
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauth("no Authorization header; use HTTP Basic or a Bearer token"))?;
        let value = value
            .to_str()
            .map_err(|_| unauth("Authorization header is not visible ASCII"))?;
        let (scheme, cred) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| unauth("malformed Authorization header"))?;
        let cred = cred.trim();
        // The cache key is a hash of the full credential, never the credential itself.
        let cache_key = hex::encode(Sha256::digest(value.trim().as_bytes()));
        if let Some(p) = self.principals.get(&cache_key) {
            return Ok(p);
        }
        let principal = if scheme.eq_ignore_ascii_case("bearer") {
            let rec = store
                .get_token_by_hash(&token_hash(cred))
                .await?
                .ok_or_else(|| unauth("unknown API token"))?;
            if rec.revoked {
                return Err(unauth("the API token has been revoked"));
            }
            Principal {
                key: format!("token:{}", rec.id),
                org_id: rec.org_id,
                role: rec.role,
                user_id: rec.user_id,
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD
                .decode(cred)
                .map_err(|_| unauth("Basic credentials are not base64"))?;
            let decoded = String::from_utf8(decoded)
                .map_err(|_| unauth("Basic credentials are not UTF-8"))?;
            let (user, password) = decoded
                .split_once(':')
                .ok_or_else(|| unauth("Basic credentials lack ':'"))?;
            let rec = store.get_user_by_name(user).await?;
            let Some(rec) = rec else {
                return Err(unauth("unknown user or wrong password"));
            };
            let phc = rec.password_hash.clone();
            let password = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc))
                .await
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            if !ok {
                return Err(unauth("unknown user or wrong password"));
            }
            Principal {
                key: format!("user:{}", rec.id),
                user_id: Some(rec.id),
                org_id: rec.org_id,
                role: rec.role,
            }
        } else {
            return Err(unauth(
                "unsupported authorization scheme; use Basic or Bearer",
            ));
        };
        self.principals.put(cache_key, principal.clone());
        Ok(principal)
    }

    /// The principal's rights on a collection (its organisation's permission,
    /// narrowed by its role).
    pub async fn rights(
        &self,
        store: &dyn Store,
        principal: &Principal,
        collection: &CollectionId,
    ) -> Result<Rights, ServerError> {
        let key = format!(
            "{}\u{0}{}\u{0}{}",
            principal.org_id, principal.role, collection.0
        );
        if let Some(r) = self.rights.get(&key) {
            return Ok(r);
        }
        if principal.role == ANONYMOUS_ROLE {
            // Every collection may be read; the policy lets only TLP:CLEAR through.
            return Ok(Rights {
                read: true,
                write: false,
            });
        }
        let r = match store.get_permission(collection, &principal.org_id).await? {
            Some(p) => Rights {
                read: p.can_read,
                write: p.can_write && principal.role_can_write(),
            },
            None => Rights::default(),
        };
        self.rights.put(key, r);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, ha) = new_token_secret();
        let (b, hb) = new_token_secret();
        assert_ne!(a, b);
        assert_ne!(ha, hb);
        assert_eq!(ha.len(), 64);
        assert_eq!(token_hash(&a), ha);
        assert!(a.len() >= 40);
    }

    #[test]
    fn roles() {
        let p = |role: &str| Principal {
            key: "k".into(),
            org_id: "o".into(),
            role: role.into(),
            user_id: None,
        };
        assert!(!p("reader").role_can_write());
        assert!(!p("sensor").role_can_write());
        assert!(!p("sensor").role_can_delete());
        assert!(p("peer").role_can_write());
        assert!(!p("peer").role_can_delete());
        assert!(p("analyst").role_can_delete());
    }
}
