//! [`SqlGrantStore`]: grants persisted in SQL (SQLite or PostgreSQL), encrypted at rest, and
//! the lock that makes a grant's refresh single-flight across replicas on PostgreSQL.
//!
//! Each row holds the user id in the clear and everything else (tokens, scopes, expiry) sealed
//! (`seal.rs`), with the user id as associated data, so a sealed grant copied onto another
//! user's row does not open.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::{AnyPool, Row as _};
use tokio::sync::Semaphore;

use crate::auth::seal::{OpenError, Sealer};
use crate::auth::sql_flows::{self, SqlFlowStore, backend_of, store_error};
use crate::auth::store::{Grant, GrantLock, GrantStore, StoreFuture};
use crate::auth::{AccessToken, AuthError, FlowStore, RefreshToken};
use crate::db;

/// The table grants are kept in; created when missing.
pub const GRANTS_TABLE: &str = "fact_oauth_grants";

/// How long a replica waits for another's lock on a grant (PostgreSQL's `lock_timeout`):
/// longer than the token request the holder makes under it (30 s), so a live holder finishes
/// first.
pub const GRANT_LOCK_TIMEOUT: Duration = Duration::from_secs(40);

/// How long a lock holder may sit idle in its transaction before PostgreSQL ends its session,
/// and the lock with it (`idle_in_transaction_session_timeout`): a frozen holder frees the
/// grant.
const LOCK_HOLDER_IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Connections of the store's pool, and how many of them locks may hold at once: the others
/// stay free for the reads and writes the lock holders make.
const POOL_CONNECTIONS: u32 = 8;
const LOCK_CONNECTIONS: usize = 4;

const AAD_PREFIX: &[u8] = b"fact_oauth_grants/v1/user\0";
/// Keeps FACT's advisory locks apart from other users of the database's.
const ADVISORY_NAMESPACE: &[u8] = b"fact_oauth_grants/v1/refresh\0";

/// A [`GrantStore`] in a SQL table, through the same code for a SQLite file and PostgreSQL.
/// Tokens never reach the database in plaintext; see the module docs for the scheme. Pending
/// flows go in table `fact_oauth_flows` of the same database ([`GrantStore::flow_store`]), so
/// replicas sharing the database share both.
///
/// On PostgreSQL, [`lock_grant`](GrantStore::lock_grant) takes a transaction-scoped advisory
/// lock keyed by the user, so that of N replicas finding one grant expiring, one refreshes it
/// and the others read the result. On SQLite the lock is the manager's own, in its process:
/// processes sharing one SQLite file may each refresh a grant (the last write wins), which is
/// why a deployment of several processes uses PostgreSQL.
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
    sealer: Arc<Sealer>,
    backend: &'static str,
    /// Bounds the connections locks hold.
    lock_connections: Arc<Semaphore>,
    lock_timeout: Duration,
}

impl SqlGrantStore {
    /// Opens the store at `database_url` (`sqlite://path` or `postgres://...`), creating the
    /// tables of grants and flows when missing, with secrets encrypted under a key derived from
    /// `secret_key` (every replica must use the same).
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when `secret_key` is shorter than
    /// [`MIN_SECRET_KEY_LEN`](crate::auth::MIN_SECRET_KEY_LEN) bytes; [`AuthError::Store`]
    /// when the database cannot be opened or a table created.
    pub async fn connect(
        database_url: &str,
        secret_key: impl AsRef<[u8]>,
    ) -> Result<Self, AuthError> {
        let sealer = Arc::new(Sealer::new(secret_key.as_ref())?);
        let backend = backend_of(database_url);
        let pool = db::connect(database_url, POOL_CONNECTIONS)
            .await
            .map_err(|error| store_error(&format!("cannot open the {backend} database"), &error))?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {GRANTS_TABLE} (\
             user_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, sealed TEXT NOT NULL)"
        ))
        .execute(&pool)
        .await
        .map_err(|error| store_error(&format!("cannot create table {GRANTS_TABLE}"), &error))?;
        sql_flows::create_table(&pool, backend).await?;
        Ok(Self {
            pool,
            sealer,
            backend,
            lock_connections: Arc::new(Semaphore::new(LOCK_CONNECTIONS)),
            lock_timeout: GRANT_LOCK_TIMEOUT,
        })
    }

    /// How long [`lock_grant`](GrantStore::lock_grant) waits for another replica's lock on a
    /// grant (default [`GRANT_LOCK_TIMEOUT`], at least a millisecond). Keep it above the token
    /// request's 30 s, or a replica gives up on a refresh that would have succeeded.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout.max(Duration::from_millis(1));
        self
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
                "SECRET_KEY is not set; the encrypted grant store needs at least {} random bytes in it",
                crate::auth::MIN_SECRET_KEY_LEN
            ))
        })?;
        Self::connect(&db::database_url(), secret).await
    }

    /// Takes PostgreSQL's transaction-scoped advisory lock of `user_id`'s grant, on a
    /// connection of its own, waiting at most its lock timeout. The lock ends with the
    /// transaction: when released, when dropped, or when the connection dies with its process.
    async fn advisory_lock(&self, user_id: &str) -> Result<GrantLock, AuthError> {
        let busy = || AuthError::GrantBusy {
            user_id: user_id.to_owned(),
            waited: self.lock_timeout,
        };
        let slot = tokio::time::timeout(
            self.lock_timeout,
            Arc::clone(&self.lock_connections).acquire_owned(),
        )
        .await
        .map_err(|_| busy())?
        .map_err(|_| AuthError::Store("the grant store is closed".to_owned()))?;
        let mut transaction =
            self.pool.begin().await.map_err(|error| {
                store_error("cannot begin the transaction of a grant lock", &error)
            })?;
        sqlx::query(&format!(
            "SELECT set_config('lock_timeout', '{}ms', true), \
             set_config('idle_in_transaction_session_timeout', '{}ms', true)",
            self.lock_timeout.as_millis(),
            LOCK_HOLDER_IDLE_LIMIT.as_millis()
        ))
        .execute(&mut *transaction)
        .await
        .map_err(|error| store_error("cannot bound the wait for a grant lock", &error))?;
        // `pg_advisory_xact_lock` returns `void`, a type the `Any` driver cannot read: the
        // query reads a count instead.
        let locked =
            sqlx::query("SELECT COUNT(*) FROM (SELECT pg_advisory_xact_lock($1)) AS locked")
                .bind(advisory_key(user_id))
                .execute(&mut *transaction)
                .await;
        match locked {
            Ok(_) => Ok(GrantLock::held_until(async move {
                // Rolling back ends the lock; nothing was written in the transaction. A
                // failure means the connection is gone, and the lock with it.
                let _ = transaction.rollback().await;
                drop(slot);
            })),
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("55P03") => {
                Err(busy())
            }
            Err(error) => Err(store_error("cannot take the lock of a grant", &error)),
        }
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
            let plaintext = open_grant(&self.sealer, user_id, &key_id, &sealed)?;
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
            let sealed = self.sealer.seal(&aad(&grant.user_id), &plaintext)?;
            sqlx::query(&format!(
                "INSERT INTO {GRANTS_TABLE} (user_id, key_id, sealed) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed"
            ))
            .bind(grant.user_id.as_str())
            .bind(self.sealer.key_id())
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

    fn lock_grant<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, GrantLock> {
        Box::pin(async move {
            if self.backend == "postgres" {
                self.advisory_lock(user_id).await
            } else {
                Ok(GrantLock::unshared())
            }
        })
    }

    fn flow_store(&self) -> Option<Arc<dyn FlowStore>> {
        Some(Arc::new(SqlFlowStore::sharing(
            self.pool.clone(),
            Arc::clone(&self.sealer),
            self.backend,
        )))
    }
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

/// The plaintext of the grant of `user_id`, or why it does not open.
fn open_grant(
    sealer: &Sealer,
    user_id: &str,
    key_id: &str,
    sealed: &str,
) -> Result<Vec<u8>, AuthError> {
    sealer
        .open(&aad(user_id), key_id, sealed)
        .map_err(|error| AuthError::Decrypt {
            user_id: user_id.to_owned(),
            reason: match error {
                OpenError::OtherKey => "it was stored under a different SECRET_KEY; restore that key, or revoke the grant and authorize again",
                OpenError::Altered => "the row was altered or copied from another user; revoke the grant and authorize again",
            }
            .to_owned(),
        })
}

/// The advisory lock key of `user_id`'s grant: 64 bits of a SHA-256 in FACT's namespace, so
/// distinct users practically never share a lock.
fn advisory_key(user_id: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(ADVISORY_NAMESPACE)
        .chain_update(user_id.as_bytes())
        .finalize();
    let mut first = [0_u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
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
    fn a_grant_moved_to_another_user_does_not_open_and_says_so() {
        let sealer = Sealer::new(SECRET).expect("key");
        let sealed = sealer.seal(&aad("ada"), b"secret").expect("seal");
        assert_eq!(
            open_grant(&sealer, "ada", sealer.key_id(), &sealed).expect("opens"),
            b"secret"
        );
        let error = open_grant(&sealer, "mallory", sealer.key_id(), &sealed)
            .expect_err("AAD binds the user");
        assert!(
            error.to_string().contains("copied from another user"),
            "{error}"
        );
    }

    #[test]
    fn a_grant_under_another_key_is_reported_as_such() {
        let sealer = Sealer::new(SECRET).expect("key");
        let other = Sealer::new(OTHER).expect("key");
        let sealed = sealer.seal(&aad("ada"), b"secret").expect("seal");
        let error = open_grant(&other, "ada", sealer.key_id(), &sealed).expect_err("wrong key");
        assert!(
            error.to_string().contains("different SECRET_KEY"),
            "{error}"
        );
    }

    #[test]
    fn advisory_lock_keys_differ_by_user_and_are_stable() {
        assert_eq!(advisory_key("ada"), advisory_key("ada"));
        assert_ne!(advisory_key("ada"), advisory_key("bob"));
    }
}
