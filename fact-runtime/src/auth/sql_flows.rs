//! [`SqlFlowStore`]: pending authorization flows in SQL (SQLite or PostgreSQL), shared by every
//! replica on the database, with nothing in the table that would let a reader finish a flow.
//!
//! A row is found by the SHA-256 of the flow id (the OAuth2 `state`), never the id itself; the
//! id, the authorization URL (which carries it), the scopes and the PKCE verifier are sealed
//! (`seal.rs`), bound to the row's hash, user, tool and expiry. The verifier is erased when the
//! flow is claimed. A claim is one conditional `UPDATE ... WHERE state = 'pending' AND
//! expires_at > now`: of racing claims on any number of replicas, the database lets one change
//! the row, and the others find it used (docs/ARCHITECTURE.md, "Shared OAuth state").

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row as _};

use crate::auth::flows::{FLOW_LIFETIME, FlowStore, MAX_FLOWS, PendingFlow, reusable_at};
use crate::auth::seal::{OpenError, Sealer};
use crate::auth::store::StoreFuture;
use crate::auth::{AuthError, AuthorizationFlow, FlowStatus, PkceVerifier};
use crate::db;

/// The table pending flows are kept in; created when missing.
pub const FLOWS_TABLE: &str = "fact_oauth_flows";

const AAD_PREFIX: &[u8] = b"fact_oauth_flows/v1\0";
const COLUMNS: &str = "user_id, tool_name, expires_at, state, reason, key_id, sealed";

/// A [`FlowStore`] in a SQL table, through the same code for a SQLite file and PostgreSQL:
/// the store replicas share, so that the provider's callback may reach any of them. It is the
/// flow store of a manager whose grants are in a [`SqlGrantStore`](crate::auth::SqlGrantStore)
/// unless another is set, in the same database.
///
/// Expiry is decided by the managers' clocks, so replicas' clocks must agree (NTP) to within
/// a small part of [`FLOW_LIFETIME`].
///
/// ```no_run
/// use std::sync::Arc;
/// use fact_runtime::auth::{AuthorizationManager, OAuthConfig, SqlFlowStore};
///
/// # async fn run(config: OAuthConfig) -> Result<(), fact_runtime::auth::AuthError> {
/// let flows = SqlFlowStore::connect("postgres://fact@db/fact", "a SECRET_KEY of 32 bytes or more").await?;
/// let manager = AuthorizationManager::builder(config)
///     .flow_store(Arc::new(flows))
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct SqlFlowStore {
    pool: AnyPool,
    sealer: Arc<Sealer>,
    backend: &'static str,
    max_flows: usize,
}

impl SqlFlowStore {
    /// Opens the store at `database_url` (`sqlite://path` or `postgres://...`), creating the
    /// table when missing, with verifiers encrypted under a key derived from `secret_key`
    /// (every replica must use the same).
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when `secret_key` is shorter than
    /// [`MIN_SECRET_KEY_LEN`](crate::auth::MIN_SECRET_KEY_LEN) bytes; [`AuthError::Store`]
    /// when the database cannot be opened or the table created.
    pub async fn connect(
        database_url: &str,
        secret_key: impl AsRef<[u8]>,
    ) -> Result<Self, AuthError> {
        let sealer = Arc::new(Sealer::new(secret_key.as_ref())?);
        let backend = backend_of(database_url);
        let pool = db::connect(database_url, 4)
            .await
            .map_err(|error| store_error(&format!("cannot open the {backend} database"), &error))?;
        create_table(&pool, backend).await?;
        Ok(Self::sharing(pool, sealer, backend))
    }

    /// The store on a pool opened already, whose table exists.
    pub(super) fn sharing(pool: AnyPool, sealer: Arc<Sealer>, backend: &'static str) -> Self {
        Self {
            pool,
            sealer,
            backend,
            max_flows: MAX_FLOWS,
        }
    }

    /// Keeps at most about `max_flows` flows (default [`MAX_FLOWS`]), pending and used
    /// together; past it the oldest are deleted. Replicas inserting at the same instant may
    /// pass the bound by as many flows as they insert at once.
    #[must_use]
    pub fn with_max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
        self
    }

    /// Deletes the flows gone for a whole lifetime, then the oldest while the table is full.
    async fn prune(&self, now: Duration) -> Result<(), AuthError> {
        sqlx::query(&format!("DELETE FROM {FLOWS_TABLE} WHERE expires_at <= $1"))
            .bind(millis(now.saturating_sub(FLOW_LIFETIME)))
            .execute(&self.pool)
            .await
            .map_err(|error| store_error("cannot delete expired authorization flows", &error))?;
        let held: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {FLOWS_TABLE}"))
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(|error| store_error("cannot count authorization flows", &error))?;
        let max = i64::try_from(self.max_flows).unwrap_or(i64::MAX);
        if held >= max {
            sqlx::query(&format!(
                "DELETE FROM {FLOWS_TABLE} WHERE seq IN \
                 (SELECT seq FROM {FLOWS_TABLE} ORDER BY seq LIMIT $1)"
            ))
            .bind(held - max + 1)
            .execute(&self.pool)
            .await
            .map_err(|error| store_error("cannot delete the oldest authorization flows", &error))?;
        }
        Ok(())
    }

    /// The row of flow `flow_id`, if any.
    async fn row(&self, flow_id: &str) -> Result<Option<Stored>, AuthError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM {FLOWS_TABLE} WHERE flow_key = $1"
        ))
        .bind(flow_key(flow_id))
        .fetch_optional(&self.pool)
        .await
        .map_err(|error| store_error("cannot read an authorization flow", &error))?;
        row.map(|row| Stored::read(&row, flow_key(flow_id)))
            .transpose()
    }

    async fn claim_flow(&self, flow_id: &str, now: Duration) -> Result<PendingFlow, AuthError> {
        let stored = self.row(flow_id).await?.ok_or(AuthError::UnknownFlow)?;
        stored.claimable(now)?;
        let mut sealed = stored.open(&self.sealer)?;
        let verifier = sealed.verifier.take().ok_or(AuthError::FlowUsed)?;
        let resealed = stored.seal(&self.sealer, &sealed)?;
        let claimed = sqlx::query(&format!(
            "UPDATE {FLOWS_TABLE} SET state = 'exchanging', sealed = $2, key_id = $3 \
             WHERE flow_key = $1 AND state = 'pending' AND expires_at > $4"
        ))
        .bind(stored.key.as_str())
        .bind(resealed)
        .bind(self.sealer.key_id())
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(|error| store_error("cannot claim an authorization flow", &error))?;
        if claimed.rows_affected() == 1 {
            return Ok(PendingFlow::new(
                stored.flow(sealed),
                PkceVerifier::new(verifier),
            ));
        }
        // Another claim changed the row between the read and the update (or it was pruned):
        // say which.
        match self.row(flow_id).await? {
            None => Err(AuthError::UnknownFlow),
            Some(now_stored) => now_stored.claimable(now).and(Err(AuthError::FlowUsed)),
        }
    }

    async fn status_of(
        &self,
        flow_id: &str,
        now: Duration,
    ) -> Result<Option<(AuthorizationFlow, FlowStatus)>, AuthError> {
        let Some(stored) = self.row(flow_id).await? else {
            return Ok(None);
        };
        let status = stored.status()?.as_of(stored.expires_at(), now);
        let sealed = stored.open(&self.sealer)?;
        Ok(Some((stored.flow(sealed), status)))
    }

    async fn reusable_flow(
        &self,
        user_id: &str,
        tool_name: &str,
        scopes: &[String],
        now: Duration,
    ) -> Result<Option<AuthorizationFlow>, AuthError> {
        let row = sqlx::query(&format!(
            "SELECT flow_key, {COLUMNS} FROM {FLOWS_TABLE} \
             WHERE user_id = $1 AND tool_name = $2 ORDER BY seq DESC LIMIT 1"
        ))
        .bind(user_id)
        .bind(tool_name)
        .fetch_optional(&self.pool)
        .await
        .map_err(|error| store_error("cannot read the latest authorization flow", &error))?;
        let Some(row) = row else { return Ok(None) };
        let key: String = row
            .try_get(0)
            .map_err(|error| store_error("bad flow_key column", &error))?;
        let stored = Stored::read_from(&row, key, 1)?;
        if stored.state != "pending" {
            return Ok(None);
        }
        let flow = stored.flow(stored.open(&self.sealer)?);
        Ok(reusable_at(&flow, scopes, now).then_some(flow))
    }
}

impl fmt::Debug for SqlFlowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlFlowStore")
            .field("backend", &self.backend)
            .field("table", &FLOWS_TABLE)
            .field("max_flows", &self.max_flows)
            .finish_non_exhaustive()
    }
}

impl FlowStore for SqlFlowStore {
    fn insert(&self, pending: PendingFlow, now: Duration) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.prune(now).await?;
            let flow = &pending.flow;
            let stored = Stored {
                key: flow_key(&flow.flow_id),
                user_id: flow.user_id.clone(),
                tool_name: flow.tool_name.clone(),
                expires_at: millis(flow.expires_at),
                state: "pending".to_owned(),
                reason: None,
                key_id: self.sealer.key_id().to_owned(),
                sealed: String::new(),
            };
            let sealed = stored.seal(
                &self.sealer,
                &Sealed {
                    flow_id: flow.flow_id.clone(),
                    authorization_url: flow.authorization_url.clone(),
                    scopes: flow.scopes.clone(),
                    verifier: Some(pending.verifier.secret().to_owned()),
                },
            )?;
            sqlx::query(&format!(
                "INSERT INTO {FLOWS_TABLE} (flow_key, {COLUMNS}) \
                 VALUES ($1, $2, $3, $4, 'pending', NULL, $5, $6)"
            ))
            .bind(stored.key.as_str())
            .bind(stored.user_id.as_str())
            .bind(stored.tool_name.as_str())
            .bind(stored.expires_at)
            .bind(stored.key_id.as_str())
            .bind(sealed)
            .execute(&self.pool)
            .await
            .map_err(|error| store_error("cannot store an authorization flow", &error))?;
            Ok(())
        })
    }

    fn claim<'a>(&'a self, flow_id: &'a str, now: Duration) -> StoreFuture<'a, PendingFlow> {
        Box::pin(self.claim_flow(flow_id, now))
    }

    fn settle<'a>(&'a self, flow_id: &'a str, outcome: FlowStatus) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let (state, reason) = match outcome {
                FlowStatus::Completed => ("completed", None),
                FlowStatus::Failed(reason) => ("failed", Some(reason)),
                _ => return Ok(()),
            };
            sqlx::query(&format!(
                "UPDATE {FLOWS_TABLE} SET state = $2, reason = $3 \
                 WHERE flow_key = $1 AND state = 'exchanging'"
            ))
            .bind(flow_key(flow_id))
            .bind(state)
            .bind(reason)
            .execute(&self.pool)
            .await
            .map_err(|error| {
                store_error("cannot record how an authorization flow ended", &error)
            })?;
            Ok(())
        })
    }

    fn status<'a>(
        &'a self,
        flow_id: &'a str,
        now: Duration,
    ) -> StoreFuture<'a, Option<(AuthorizationFlow, FlowStatus)>> {
        Box::pin(self.status_of(flow_id, now))
    }

    fn reusable<'a>(
        &'a self,
        user_id: &'a str,
        tool_name: &'a str,
        scopes: &'a [String],
        now: Duration,
    ) -> StoreFuture<'a, Option<AuthorizationFlow>> {
        Box::pin(self.reusable_flow(user_id, tool_name, scopes, now))
    }
}

/// Creates the flows table and its indexes when missing.
pub(crate) async fn create_table(pool: &AnyPool, backend: &str) -> Result<(), AuthError> {
    let seq = if backend == "postgres" {
        "BIGSERIAL PRIMARY KEY"
    } else {
        "INTEGER PRIMARY KEY AUTOINCREMENT"
    };
    let statements = [
        format!(
            "CREATE TABLE IF NOT EXISTS {FLOWS_TABLE} (seq {seq}, flow_key TEXT NOT NULL UNIQUE, \
             user_id TEXT NOT NULL, tool_name TEXT NOT NULL, expires_at BIGINT NOT NULL, \
             state TEXT NOT NULL, reason TEXT, key_id TEXT NOT NULL, sealed TEXT NOT NULL)"
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {FLOWS_TABLE}_latest ON {FLOWS_TABLE} (user_id, tool_name, seq)"
        ),
        format!("CREATE INDEX IF NOT EXISTS {FLOWS_TABLE}_expiry ON {FLOWS_TABLE} (expires_at)"),
    ];
    for statement in statements {
        sqlx::query(&statement)
            .execute(pool)
            .await
            .map_err(|error| store_error(&format!("cannot create table {FLOWS_TABLE}"), &error))?;
    }
    Ok(())
}

/// `postgres`, `sqlite` or `sql`, for messages and the dialect of the table.
pub(crate) fn backend_of(database_url: &str) -> &'static str {
    if database_url.starts_with("postgres") {
        "postgres"
    } else if db::is_sqlite(database_url) {
        "sqlite"
    } else {
        "sql"
    }
}

/// sqlx errors name the database and the statement, never bound values, so they carry no
/// secret.
pub(crate) fn store_error(what: &str, error: &sqlx::Error) -> AuthError {
    AuthError::Store(format!("{what}: {error}"))
}

/// What a row is found by: the flow id never reaches the table.
fn flow_key(flow_id: &str) -> String {
    Sha256::digest(flow_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn millis(time: Duration) -> i64 {
    i64::try_from(time.as_millis()).unwrap_or(i64::MAX)
}

/// A row, its sealed part still sealed.
struct Stored {
    key: String,
    user_id: String,
    tool_name: String,
    expires_at: i64,
    state: String,
    reason: Option<String>,
    key_id: String,
    sealed: String,
}

/// The sealed part of a row.
#[derive(Serialize, Deserialize)]
struct Sealed {
    flow_id: String,
    authorization_url: String,
    scopes: Vec<String>,
    /// Erased once the flow is claimed.
    verifier: Option<String>,
}

impl Stored {
    fn read(row: &AnyRow, key: String) -> Result<Self, AuthError> {
        Self::read_from(row, key, 0)
    }

    /// The row whose [`COLUMNS`] start at column `first`.
    fn read_from(row: &AnyRow, key: String, first: usize) -> Result<Self, AuthError> {
        let bad = |error: sqlx::Error| store_error("bad row in table fact_oauth_flows", &error);
        Ok(Self {
            key,
            user_id: row.try_get(first).map_err(bad)?,
            tool_name: row.try_get(first + 1).map_err(bad)?,
            expires_at: row.try_get(first + 2).map_err(bad)?,
            state: row.try_get(first + 3).map_err(bad)?,
            reason: row.try_get(first + 4).map_err(bad)?,
            key_id: row.try_get(first + 5).map_err(bad)?,
            sealed: row.try_get(first + 6).map_err(bad)?,
        })
    }

    fn expires_at(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.expires_at).unwrap_or(0))
    }

    /// Whether the flow may be claimed at `now`, or why not.
    fn claimable(&self, now: Duration) -> Result<(), AuthError> {
        if self.state != "pending" {
            Err(AuthError::FlowUsed)
        } else if now >= self.expires_at() {
            Err(AuthError::FlowExpired {
                user_id: self.user_id.clone(),
                tool_name: self.tool_name.clone(),
            })
        } else {
            Ok(())
        }
    }

    fn status(&self) -> Result<FlowStatus, AuthError> {
        Ok(match self.state.as_str() {
            "pending" => FlowStatus::Pending,
            "exchanging" => FlowStatus::Exchanging,
            "completed" => FlowStatus::Completed,
            "failed" => FlowStatus::Failed(self.reason.clone().unwrap_or_default()),
            other => {
                return Err(AuthError::Store(format!(
                    "an authorization flow in table {FLOWS_TABLE} has the state '{other}'; expected pending, exchanging, completed or failed"
                )));
            }
        })
    }

    /// The associated data that binds the sealed part to this row.
    fn aad(&self) -> Vec<u8> {
        let mut aad = AAD_PREFIX.to_vec();
        for part in [
            self.key.as_bytes(),
            self.user_id.as_bytes(),
            self.tool_name.as_bytes(),
            self.expires_at.to_string().as_bytes(),
        ] {
            aad.extend_from_slice(part);
            aad.push(0);
        }
        aad
    }

    fn seal(&self, sealer: &Sealer, sealed: &Sealed) -> Result<String, AuthError> {
        let plaintext = serde_json::to_vec(sealed).map_err(|error| {
            AuthError::Store(format!("cannot encode an authorization flow: {error}"))
        })?;
        sealer.seal(&self.aad(), &plaintext)
    }

    fn open(&self, sealer: &Sealer) -> Result<Sealed, AuthError> {
        let fail = |reason: &str| {
            AuthError::Store(format!(
                "cannot read the authorization flow of user '{}' for tool '{}': {reason}",
                self.user_id, self.tool_name
            ))
        };
        let plaintext = sealer
            .open(&self.aad(), &self.key_id, &self.sealed)
            .map_err(|error| match error {
                OpenError::OtherKey => fail(
                    "it was stored under a different SECRET_KEY (every replica must have the same); start a new one",
                ),
                OpenError::Altered => fail("the row was altered; start a new one"),
            })?;
        serde_json::from_slice(&plaintext)
            .map_err(|_| fail("it decrypts but is not a flow this version understands"))
    }

    fn flow(&self, sealed: Sealed) -> AuthorizationFlow {
        AuthorizationFlow {
            flow_id: sealed.flow_id,
            authorization_url: sealed.authorization_url,
            expires_at: self.expires_at(),
            user_id: self.user_id.clone(),
            tool_name: self.tool_name.clone(),
            scopes: sealed.scopes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn stored(user: &str) -> Stored {
        Stored {
            key: flow_key("state-1"),
            user_id: user.to_owned(),
            tool_name: "Docs.Read".to_owned(),
            expires_at: 1_700_000_600_000,
            state: "pending".to_owned(),
            reason: None,
            key_id: String::new(),
            sealed: String::new(),
        }
    }

    fn sealed() -> Sealed {
        Sealed {
            flow_id: "state-1".to_owned(),
            authorization_url: "https://idp.test/authorize?state=state-1".to_owned(),
            scopes: vec!["docs.read".to_owned()],
            verifier: Some("verifier-in-the-clear".to_owned()),
        }
    }

    #[test]
    fn the_row_holds_neither_the_flow_id_nor_the_verifier_in_the_clear() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut row = stored("ada");
        row.sealed = row.seal(&sealer, &sealed()).expect("seal");
        row.key_id = sealer.key_id().to_owned();
        assert_eq!(row.key.len(), 64);
        for column in [&row.key, &row.sealed] {
            assert!(!column.contains("state-1"), "{column}");
            assert!(!column.contains("verifier"), "{column}");
        }
        let opened = row.open(&sealer).expect("opens");
        assert_eq!(opened.verifier.as_deref(), Some("verifier-in-the-clear"));
        assert_eq!(row.flow(opened).flow_id, "state-1");
    }

    #[test]
    fn a_flow_moved_to_another_user_or_expiry_does_not_open() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut row = stored("ada");
        row.sealed = row.seal(&sealer, &sealed()).expect("seal");
        row.key_id = sealer.key_id().to_owned();
        let mut moved = stored("mallory");
        moved.sealed.clone_from(&row.sealed);
        moved.key_id.clone_from(&row.key_id);
        let error = moved.open(&sealer).err().expect("bound to the user");
        assert!(error.to_string().contains("the row was altered"), "{error}");
        row.expires_at += 3_600_000;
        assert!(row.open(&sealer).is_err(), "bound to the expiry");
    }

    #[test]
    fn an_unknown_state_is_a_store_error_naming_the_expected_ones() {
        let mut row = stored("ada");
        row.state = "weird".to_owned();
        let error = row.status().expect_err("unknown state");
        assert!(
            error.to_string().contains("expected pending, exchanging"),
            "{error}"
        );
    }
}
