//! [`SqlGrantStore`]: grants persisted in SQL (SQLite or PostgreSQL), encrypted at rest.
//!
//! Each row holds the user id in the clear and everything else (tokens, scopes, expiry) sealed
//! with XChaCha20-Poly1305 under a key derived from `SECRET_KEY` by HKDF-SHA256. Every write
//! draws a fresh random 192-bit nonce. The user id is authenticated as associated data, so a
//! sealed grant copied onto another user's row does not open. A short key id, derived from the
//! same secret, tells "written under another `SECRET_KEY`" apart from "altered".

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::{AnyPool, Row as _};
use std::time::Duration;

use crate::auth::store::{Grant, GrantStore, StoreFuture};
use crate::auth::{AccessToken, AuthError, RefreshToken};
use crate::db;

/// The table grants are kept in; created when missing.
pub const GRANTS_TABLE: &str = "fact_oauth_grants";

/// The shortest `SECRET_KEY` accepted, in bytes.
pub const MIN_SECRET_KEY_LEN: usize = 32;

const KEY_INFO: &[u8] = b"fact-runtime/oauth-grants/v1/xchacha20poly1305";
const KEY_ID_INFO: &[u8] = b"fact-runtime/oauth-grants/v1/key-id";
const AAD_PREFIX: &[u8] = b"fact_oauth_grants/v1/user\0";
const NONCE_LEN: usize = 24;

/// A [`GrantStore`] in a SQL table, through the same code for a SQLite file and PostgreSQL.
/// Tokens never reach the database in plaintext; see the module docs for the scheme.
///
/// ```no_run
/// use std::sync::Arc;
/// use fact_runtime::auth::{AuthorizationManager, OAuthConfig, SqlGrantStore};
///
/// # async fn run(config: OAuthConfig) -> Result<(), fact_runtime::auth::AuthError> {
/// // DATABASE_URL (default: a SQLite file) and SECRET_KEY (at least 32 bytes).
/// let store = SqlGrantStore::from_env().await?;
/// let manager = AuthorizationManager::builder(config)
///     .grant_store(Arc::new(store))
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct SqlGrantStore {
    pool: AnyPool,
    sealer: Sealer,
    backend: &'static str,
}

impl SqlGrantStore {
    /// Opens the store at `database_url` (`sqlite://path` or `postgres://...`), creating the
    /// table when missing, with tokens encrypted under a key derived from `secret_key`.
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when `secret_key` is shorter than [`MIN_SECRET_KEY_LEN`] bytes;
    /// [`AuthError::Store`] when the database cannot be opened or the table created.
    pub async fn connect(
        database_url: &str,
        secret_key: impl AsRef<[u8]>,
    ) -> Result<Self, AuthError> {
        let sealer = Sealer::new(secret_key.as_ref())?;
        let backend = if database_url.starts_with("postgres") {
            "postgres"
        } else if database_url.starts_with("sqlite") {
            "sqlite"
        } else {
            "sql"
        };
        let pool = db::connect(database_url, 4)
            .await
            .map_err(|error| store_error(&format!("cannot open the {backend} database"), &error))?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {GRANTS_TABLE} (\
             user_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, sealed TEXT NOT NULL)"
        ))
        .execute(&pool)
        .await
        .map_err(|error| store_error(&format!("cannot create table {GRANTS_TABLE}"), &error))?;
        Ok(Self {
            pool,
            sealer,
            backend,
        })
    }

    /// [`connect`](Self::connect) to `DATABASE_URL` (default [`DEFAULT_DATABASE_URL`](crate::DEFAULT_DATABASE_URL)) with
    /// the key derived from `SECRET_KEY`.
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when `SECRET_KEY` is unset or too short; as `connect` otherwise.
    pub async fn from_env() -> Result<Self, AuthError> {
        let secret = std::env::var("SECRET_KEY").map_err(|_| {
            AuthError::Config(format!(
                "SECRET_KEY is not set; the encrypted grant store needs at least {MIN_SECRET_KEY_LEN} random bytes in it"
            ))
        })?;
        Self::connect(&db::database_url(), secret).await
    }
}

impl fmt::Debug for SqlGrantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlGrantStore")
            .field("backend", &self.backend)
            .field("table", &GRANTS_TABLE)
            .finish_non_exhaustive()
    }
}

impl GrantStore for SqlGrantStore {
    fn get<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Grant>> {
        Box::pin(async move {
            let row = sqlx::query(&format!(
                "SELECT key_id, sealed FROM {GRANTS_TABLE} WHERE user_id = $1"
            ))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|error| store_error("cannot read a grant", &error))?;
            let Some(row) = row else { return Ok(None) };
            let (key_id, sealed): (String, String) = (
                row.try_get(0)
                    .map_err(|e| store_error("bad key_id column", &e))?,
                row.try_get(1)
                    .map_err(|e| store_error("bad sealed column", &e))?,
            );
            let plaintext = self.sealer.open(user_id, &key_id, &sealed)?;
            let stored: StoredGrant =
                serde_json::from_slice(&plaintext).map_err(|_| AuthError::Decrypt {
                    user_id: user_id.to_owned(),
                    reason: "it decrypts but is not a grant this version understands".to_owned(),
                })?;
            Ok(Some(stored.into_grant(user_id)))
        })
    }

    fn put(&self, grant: Grant) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let plaintext = serde_json::to_vec(&StoredGrant::from(&grant))
                .map_err(|error| AuthError::Store(format!("cannot encode a grant: {error}")))?;
            let sealed = self.sealer.seal(&grant.user_id, &plaintext)?;
            sqlx::query(&format!(
                "INSERT INTO {GRANTS_TABLE} (user_id, key_id, sealed) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed"
            ))
            .bind(grant.user_id.as_str())
            .bind(self.sealer.key_id.as_str())
            .bind(sealed)
            .execute(&self.pool)
            .await
            .map_err(|error| store_error("cannot write a grant", &error))?;
            Ok(())
        })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let done = sqlx::query(&format!("DELETE FROM {GRANTS_TABLE} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&self.pool)
                .await
                .map_err(|error| store_error("cannot delete a grant", &error))?;
            Ok(done.rows_affected() > 0)
        })
    }
}

/// sqlx errors name the database and the statement, never bound values, so they carry no token.
fn store_error(what: &str, error: &sqlx::Error) -> AuthError {
    AuthError::Store(format!("{what}: {error}"))
}

/// The sealed part of a row.
#[derive(Serialize, Deserialize)]
struct StoredGrant {
    access_token: String,
    refresh_token: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<Duration>,
}

impl From<&Grant> for StoredGrant {
    fn from(grant: &Grant) -> Self {
        Self {
            access_token: grant.access_token.secret().to_owned(),
            refresh_token: grant.refresh_token.as_ref().map(|t| t.secret().to_owned()),
            scopes: grant.scopes.clone(),
            expires_at: grant.expires_at,
        }
    }
}

impl StoredGrant {
    fn into_grant(self, user_id: &str) -> Grant {
        Grant {
            user_id: user_id.to_owned(),
            access_token: AccessToken::new(self.access_token),
            refresh_token: self.refresh_token.map(RefreshToken::new),
            scopes: self.scopes,
            expires_at: self.expires_at,
        }
    }
}

/// The AEAD under the key derived from the secret.
struct Sealer {
    cipher: XChaCha20Poly1305,
    key_id: String,
}

impl Sealer {
    fn new(secret: &[u8]) -> Result<Self, AuthError> {
        if secret.len() < MIN_SECRET_KEY_LEN {
            return Err(AuthError::Config(format!(
                "SECRET_KEY is {} bytes long; the encrypted grant store needs at least {MIN_SECRET_KEY_LEN} random bytes",
                secret.len()
            )));
        }
        let hkdf = Hkdf::<Sha256>::new(None, secret);
        let mut key = [0_u8; 32];
        let mut key_id = [0_u8; 8];
        // Both lengths are far below HKDF-SHA256's limit of 255 * 32 bytes.
        let expanded = hkdf
            .expand(KEY_INFO, &mut key)
            .and_then(|()| hkdf.expand(KEY_ID_INFO, &mut key_id));
        if expanded.is_err() {
            return Err(AuthError::Config("cannot derive the grant key".to_owned()));
        }
        Ok(Self {
            cipher: XChaCha20Poly1305::new(&key.into()),
            key_id: key_id.iter().map(|b| format!("{b:02x}")).collect(),
        })
    }

    /// `base64(nonce || ciphertext)`, bound to `user_id`.
    fn seal(&self, user_id: &str, plaintext: &[u8]) -> Result<String, AuthError> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let aad = aad(user_id);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| AuthError::Store("cannot encrypt a grant".to_owned()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(BASE64.encode(out))
    }

    fn open(&self, user_id: &str, key_id: &str, sealed: &str) -> Result<Vec<u8>, AuthError> {
        let fail = |reason: &str| AuthError::Decrypt {
            user_id: user_id.to_owned(),
            reason: reason.to_owned(),
        };
        if key_id != self.key_id {
            return Err(fail(
                "it was stored under a different SECRET_KEY; restore that key, or revoke the grant and authorize again",
            ));
        }
        let tampered =
            "the row was altered or copied from another user; revoke the grant and authorize again";
        let bytes = BASE64.decode(sealed).map_err(|_| fail(tampered))?;
        if bytes.len() < NONCE_LEN {
            return Err(fail(tampered));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let aad = aad(user_id);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| fail(tampered))
    }
}

fn aad(user_id: &str) -> Vec<u8> {
    [AAD_PREFIX, user_id.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    #[test]
    fn sealed_grant_opens_for_its_user_and_hides_the_plaintext() {
        let sealer = Sealer::new(SECRET).expect("key");
        let sealed = sealer.seal("ada", b"token-in-the-clear").expect("seal");
        assert!(!sealed.contains("token-in-the-clear"));
        let decoded = BASE64.decode(&sealed).expect("base64");
        assert!(!decoded.windows(5).any(|w| w == b"token"));
        assert_eq!(
            sealer.open("ada", &sealer.key_id, &sealed).expect("open"),
            b"token-in-the-clear"
        );
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = Sealer::new(SECRET).expect("key");
        assert_ne!(
            sealer.seal("ada", b"same").expect("seal"),
            sealer.seal("ada", b"same").expect("seal")
        );
    }

    #[test]
    fn grant_moved_to_another_user_does_not_open() {
        let sealer = Sealer::new(SECRET).expect("key");
        let sealed = sealer.seal("ada", b"secret").expect("seal");
        let error = sealer
            .open("mallory", &sealer.key_id, &sealed)
            .expect_err("AAD binds the user");
        assert!(
            error.to_string().contains("copied from another user"),
            "{error}"
        );
    }

    #[test]
    fn another_key_is_reported_as_such_and_never_decrypts() {
        let sealer = Sealer::new(SECRET).expect("key");
        let other = Sealer::new(OTHER).expect("key");
        assert_ne!(sealer.key_id, other.key_id);
        let sealed = sealer.seal("ada", b"secret").expect("seal");
        let error = other
            .open("ada", &sealer.key_id, &sealed)
            .expect_err("wrong key");
        assert!(
            error.to_string().contains("different SECRET_KEY"),
            "{error}"
        );
        // Even when the key id is forged to match, the AEAD refuses.
        assert!(other.open("ada", &other.key_id, &sealed).is_err());
    }

    #[test]
    fn altered_ciphertext_is_refused() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut bytes = BASE64
            .decode(sealer.seal("ada", b"secret").expect("seal"))
            .expect("base64");
        if let Some(last) = bytes.last_mut() {
            *last ^= 1;
        }
        assert!(
            sealer
                .open("ada", &sealer.key_id, &BASE64.encode(bytes))
                .is_err()
        );
        assert!(sealer.open("ada", &sealer.key_id, "not base64!").is_err());
        assert!(sealer.open("ada", &sealer.key_id, "AAAA").is_err());
    }

    #[test]
    fn short_secret_is_refused() {
        let error = Sealer::new(b"too short").err().expect("refused");
        assert!(error.to_string().contains("at least 32"), "{error}");
    }
}
