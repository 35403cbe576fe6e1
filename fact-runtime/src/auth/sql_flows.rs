//! [`SqlFlowStore`]: pending authorization flows in SQL (SQLite or PostgreSQL), shared by every
//! replica on the database, with nothing in the table that would let a reader finish a flow.
//!
//! A row (`flow_row.rs`) is found by the SHA-256 of the flow id (the OAuth2 `state`), never
//! the id itself; the id, the authorization URL (which carries it), the scopes and the PKCE
//! verifier are sealed, bound to the row's hash, user, tool and expiry. The verifier is erased
//! when the flow is claimed. A claim is one conditional `UPDATE ... WHERE state = 'pending' AND
//! expires_at > now`: of racing claims on any number of replicas, the database lets one change
//! the row, and the others find it used (docs/ARCHITECTURE.md, "Shared OAuth state").

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AnyPool, Row as _};

use crate::auth::flow_row::{COLUMNS, Sealed, Stored, flow_key, millis};
use crate::auth::flows::{FLOW_LIFETIME, FlowStore, MAX_FLOWS, PendingFlow, reusable_at};
use crate::auth::seal::Sealer;
use crate::auth::store::StoreFuture;
use crate::auth::{AuthError, AuthorizationFlow, FlowStatus, PkceVerifier};
use crate::db;

/// The table pending flows are kept in; created when missing.
pub const FLOWS_TABLE: &str = "fact_oauth_flows";

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
