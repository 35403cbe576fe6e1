//! Replicas for the tests: N `AuthorizationManager`s, each with its own `SqlGrantStore` (its
//! own connection pool, as a process of its own would have) on one database, each behind an
//! executor serving `Docs.Read`, against one loopback provider; time moves only by the
//! `ManualClock` they share with the provider.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fact_runtime::auth::{AuthorizationFlow, AuthorizationManager, OAuthConfig, SqlGrantStore};
use fact_runtime::{ManualClock, ToolCall, ToolDefinition, ToolExecutor, ToolResult};
use fact_tests::oauth_provider::{OAuthProvider, ProviderSettings};
use fact_tests::scratch::{TempDb, unique};
use serde_json::json;
use sqlx::Connection as _;

pub(crate) const START: Duration = Duration::from_secs(1_700_000_000);
pub(crate) const SECRET_KEY: &str = "replicas-test-key-with-at-least-32-bytes";
pub(crate) const TOOL: &str = "Docs.Read";

/// Where the replicas keep their state: a SQLite file, or a schema of its own in the test
/// PostgreSQL database (so that no other test's flows meet these, nor are pruned by this
/// test's clock); removed on drop.
pub(crate) enum Database {
    Sqlite(TempDb),
    Postgres(PostgresSchema),
}

impl Database {
    pub(crate) fn sqlite() -> Self {
        Self::Sqlite(TempDb::new("fact-oauth-replicas"))
    }

    /// `None` after saying that `test` is skipped, when no PostgreSQL is configured.
    pub(crate) async fn postgres(test: &str) -> Option<Self> {
        let url = fact_tests::services::postgres_url(test)?;
        Some(Self::Postgres(PostgresSchema::create(&url).await))
    }

    /// The PostgreSQL server the schema is in.
    pub(crate) fn postgres_server(&self) -> Option<&str> {
        match self {
            Self::Sqlite(_) => None,
            Self::Postgres(schema) => Some(&schema.server),
        }
    }

    /// The URL a replica connects with, naming it `application` where the database can say
    /// (PostgreSQL's `application_name`).
    pub(crate) fn url(&self, application: &str) -> String {
        match self {
            Self::Sqlite(file) => file.url(),
            Self::Postgres(schema) => schema.url(application),
        }
    }
}

/// A PostgreSQL schema first on the search path of whoever connects with [`url`](Self::url);
/// dropped with everything in it on drop.
pub(crate) struct PostgresSchema {
    server: String,
    name: String,
}

impl PostgresSchema {
    async fn create(server: &str) -> Self {
        let name = unique("oauth_replicas").replace('-', "_");
        let mut admin = sqlx::PgConnection::connect(server)
            .await
            .expect("PostgreSQL reachable");
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut admin)
            .await
            .expect("a schema of the test's own");
        Self {
            server: server.to_owned(),
            name,
        }
    }

    fn url(&self, application: &str) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-c%20search_path%3D{}&application_name={application}",
            self.server, self.name
        )
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop may run on a runtime's thread, where no runtime may be blocked on: the schema
        // is dropped from a thread and runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&server).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut admin)
                    .await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

/// One replica: its manager and the executor it authorizes for.
pub(crate) struct Replica {
    pub(crate) manager: AuthorizationManager,
    pub(crate) executor: ToolExecutor,
}

/// The replicas, the provider and the clock they share, and the tokens `Docs.Read` was handed
/// on any replica, in order.
pub(crate) struct Replicas {
    pub(crate) clock: ManualClock,
    pub(crate) provider: OAuthProvider,
    pub(crate) replicas: Vec<Replica>,
    pub(crate) seen: Arc<Mutex<Vec<String>>>,
    pub(crate) user: String,
    /// The PostgreSQL `application_name` of replica `i` is `{application}-{i}`.
    pub(crate) application: String,
    // Last, so that it is removed after every pool on it is dropped.
    pub(crate) db: Database,
}

impl Replicas {
    /// `n` replicas on `db`.
    pub(crate) async fn start(db: Database, n: usize) -> Self {
        Self::start_with(db, n, |_, store| store).await
    }

    /// `n` replicas on `db`, replica `i`'s grant store made by `store(i, connected)`.
    pub(crate) async fn start_with(
        db: Database,
        n: usize,
        store: impl Fn(usize, SqlGrantStore) -> SqlGrantStore,
    ) -> Self {
        let clock = ManualClock::new(START);
        let provider = OAuthProvider::start(ProviderSettings::default(), clock.clone()).await;
        let seen = Arc::new(Mutex::new(Vec::new()));
        let application = unique("fact").replace('-', "_");
        let mut replicas = Vec::with_capacity(n);
        for i in 0..n {
            let url = db.url(&format!("{application}-{i}"));
            let connected = SqlGrantStore::connect(&url, SECRET_KEY)
                .await
                .expect("the grant store opens");
            let manager = AuthorizationManager::builder(config(&provider))
                .grant_store(Arc::new(store(i, connected)))
                .clock(Arc::new(clock.clone()))
                .build()
                .expect("manager");
            let executor = ToolExecutor::builder()
                .discover_linked_tools(false)
                .register(docs_read(&seen))
                .authorization(manager.clone())
                .build()
                .expect("executor");
            replicas.push(Replica { manager, executor });
        }
        Self {
            clock,
            provider,
            replicas,
            seen,
            user: unique("user"),
            application,
            db,
        }
    }

    pub(crate) fn manager(&self, i: usize) -> &AuthorizationManager {
        &self.replicas[i].manager
    }

    /// Starts a flow for this test's user on replica `i`.
    pub(crate) async fn initiate(&self, i: usize) -> AuthorizationFlow {
        self.manager(i)
            .initiate_authorization(&self.user, TOOL, ["docs.read"])
            .await
            .expect("flow")
    }

    /// Follows `authorization_url` as the user's browser would, up to the provider's
    /// redirect, and returns the `code` and `state` it carries.
    pub(crate) async fn approve(&self, authorization_url: &str) -> (String, String) {
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let response = browser
            .get(authorization_url)
            .send()
            .await
            .expect("GET /authorize");
        assert_eq!(response.status(), 302, "{:?}", response.text().await);
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let query: HashMap<String, String> = reqwest::Url::parse(&location)
            .expect("location")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        (query["code"].clone(), query["state"].clone())
    }

    /// A flow started on replica `started` and completed on replica `completed`.
    pub(crate) async fn authorize(&self, started: usize, completed: usize) {
        let flow = self.initiate(started).await;
        let (code, state) = self.approve(&flow.authorization_url).await;
        self.manager(completed)
            .complete_authorization(&state, &code)
            .await
            .expect("grant");
    }

    /// `Docs.Read` called by this test's user on replica `i`.
    pub(crate) async fn call(&self, i: usize) -> ToolResult {
        let call = ToolCall::new(TOOL, json!({})).user(self.user.clone());
        self.replicas[i].executor.execute_tool_call(call).await
    }

    pub(crate) fn tokens_seen(&self) -> Vec<String> {
        self.seen.lock().expect("seen").clone()
    }
}

fn config(provider: &OAuthProvider) -> OAuthConfig {
    let s = provider.settings();
    OAuthConfig::new(
        s.client_id.clone(),
        &s.redirect_uri,
        &provider.authorization_url(),
        &provider.token_url(),
    )
    .expect("config")
    .with_client_secret(s.client_secret.clone())
}

/// `Docs.Read` (scope `docs.read`): records the token it is handed in `seen`.
fn docs_read(seen: &Arc<Mutex<Vec<String>>>) -> ToolDefinition {
    let seen = Arc::clone(seen);
    ToolDefinition::new(
        TOOL,
        "reads docs",
        json!({"type": "object"}),
        move |ctx, _args| {
            let seen = Arc::clone(&seen);
            async move {
                let token = ctx.access_token().map(|t| t.secret().to_owned());
                let Some(token) = token else {
                    return Err(fact_runtime::ToolError::fatal("no token in the context"));
                };
                seen.lock().expect("seen").push(token);
                Ok(json!({"read": true}))
            }
        },
    )
    .requires_auth(["docs.read"])
}
