//! [`AuthorizationManager`]: runs the OAuth2 authorization-code flow with PKCE and keeps users'
//! grants. The steps of a flow are in `flow_steps.rs`, the per-call check that uses the grants
//! in `check.rs`, the stores of flows in `memory_flows.rs` and `sql_flows.rs`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpClientError, RedirectUrl,
    RequestTokenError, TokenResponse as _, TokenUrl,
};
use serde::{Serialize, Serializer};

use crate::auth::store::{Grant, GrantLock, GrantStore, MemoryGrantStore};
use crate::auth::{
    AccessToken, AuthError, FlowStore, MemoryFlowStore, OAuthConfig, RefreshToken, SqlGrantStore,
};
use crate::clock::{SharedClock, SystemClock};

/// A grant is refreshed when it has less than this left, so that a token does not expire
/// between the check and the tool's use of it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// How often [`AuthorizationManager::wait_for_flow`] reads the flow store while it waits, to
/// see a flow settled by another replica (one settled by this one wakes it at once).
pub const FLOW_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Time limit of one request to the token endpoint.
pub(super) const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub(super) type TokenError =
    RequestTokenError<HttpClientError<oauth2::reqwest::Error>, BasicErrorResponse>;

/// Runs OAuth2 authorization-code flows with PKCE (S256) and a random `state`, and keeps the
/// resulting grants in a [`GrantStore`]. Cheap to clone; clones share flows and grants.
///
/// The flow id is the OAuth2 `state`, so the handler of the redirect URI can finish a flow with
/// the two query parameters the provider sends back: `complete_authorization(state, code)`.
///
/// Whoever completes a flow decides whose account the flow's user is bound to: the code's.
/// The flow id travels in a refused call's metadata (`flow_id`, and as `state` in
/// `authorization_url`), so treat it as the user's: hand the URL to that user only, and
/// complete flows only from the redirect handler of that user's own browser session, never
/// with a code and state that came from elsewhere (an LLM's output, another user).
///
/// Flows wait in a [`FlowStore`] for [`FLOW_LIFETIME`](crate::auth::FLOW_LIFETIME) by the
/// manager's clock: in memory, or beside the grants in SQL, where every replica sharing the
/// database finds them. They are single-use: the first
/// [`complete_authorization`](Self::complete_authorization), on any replica, consumes the flow
/// whether or not the provider accepts the code, since the code and the PKCE verifier may not
/// be replayed; a failed exchange needs a new flow.
///
/// ```no_run
/// use fact_runtime::auth::{AuthorizationManager, OAuthConfig};
///
/// # async fn run() -> Result<(), fact_runtime::auth::AuthError> {
/// let config = OAuthConfig::new(
///     "my-client",
///     "https://app.example/oauth/callback",
///     "https://provider.example/authorize",
///     "https://provider.example/token",
/// )?
/// .with_client_secret("s3cr3t");
/// let manager = AuthorizationManager::new(config)?;
///
/// let flow = manager.initiate_authorization("ada", "Docs.Read", ["docs.read"]).await?;
/// println!("open {}", flow.authorization_url);
/// // ... the provider redirects to the callback with ?code=...&state=<flow.flow_id>
/// # let code = "from the redirect";
/// let grant = manager.complete_authorization(&flow.flow_id, code).await?;
/// assert_eq!(grant.scopes, ["docs.read"]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct AuthorizationManager {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    config: OAuthConfig,
    pub(super) client: OAuthClient,
    pub(super) http: oauth2::reqwest::Client,
    pub(super) store: Arc<dyn GrantStore>,
    pub(super) clock: SharedClock,
    pub(super) flows: Arc<dyn FlowStore>,
    /// Woken whenever this manager claims or settles a flow, for clients waiting on one.
    pub(super) flow_changed: tokio::sync::Notify,
    /// One lock per user whose grant is changing: see [`GrantChange`].
    pub(super) grant_changes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationManager")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("flows", &self.flows)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// What a grant covers, without its tokens: the answer to a completed flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GrantInfo {
    /// The user who granted access.
    pub user_id: String,
    /// The scopes granted.
    pub scopes: Vec<String>,
    /// When the access token expires, since the Unix epoch (seconds in JSON), when known.
    #[serde(serialize_with = "optional_seconds")]
    pub expires_at: Option<Duration>,
}

impl From<&Grant> for GrantInfo {
    fn from(grant: &Grant) -> Self {
        Self {
            user_id: grant.user_id.clone(),
            scopes: grant.scopes.clone(),
            expires_at: grant.expires_at,
        }
    }
}

/// Configures an [`AuthorizationManager`].
#[derive(Debug)]
pub struct AuthorizationManagerBuilder {
    config: OAuthConfig,
    store: Option<Arc<dyn GrantStore>>,
    flows: Option<Arc<dyn FlowStore>>,
    clock: Option<SharedClock>,
}

impl AuthorizationManagerBuilder {
    /// Where grants are kept (default: a [`MemoryGrantStore`]).
    #[must_use]
    pub fn grant_store(mut self, store: Arc<dyn GrantStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Where pending flows wait (default: the grant store's own,
    /// [`GrantStore::flow_store`], which for a [`SqlGrantStore`] is a
    /// [`SqlFlowStore`](crate::auth::SqlFlowStore) in the same database; else a
    /// [`MemoryFlowStore`]).
    #[must_use]
    pub fn flow_store(mut self, flows: Arc<dyn FlowStore>) -> Self {
        self.flows = Some(flows);
        self
    }

    /// The clock for flow and token expiry (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Builds the manager and its HTTP client (which never follows redirects, as the `oauth2`
    /// crate advises against SSRF).
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] when the HTTP client cannot be built.
    pub fn build(self) -> Result<AuthorizationManager, AuthError> {
        let (redirect_uri, authorization_url, token_url) = self.config.urls();
        let client = BasicClient::new(ClientId::new(self.config.client_id().to_owned()))
            .set_auth_uri(AuthUrl::from_url(authorization_url.clone()))
            .set_token_uri(TokenUrl::from_url(token_url.clone()))
            .set_redirect_uri(RedirectUrl::from_url(redirect_uri.clone()));
        let client = match self.config.client_secret() {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.to_owned())),
            None => client,
        };
        let http = oauth2::reqwest::Client::builder()
            .redirect(oauth2::reqwest::redirect::Policy::none())
            .timeout(TOKEN_REQUEST_TIMEOUT)
            .build()
            .map_err(|error| AuthError::Config(format!("cannot build the HTTP client: {error}")))?;
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryGrantStore::default()));
        let flows = self
            .flows
            .or_else(|| store.flow_store())
            .unwrap_or_else(|| Arc::new(MemoryFlowStore::default()));
        Ok(AuthorizationManager {
            inner: Arc::new(Inner {
                config: self.config,
                client,
                http,
                store,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                flows,
                flow_changed: tokio::sync::Notify::new(),
                grant_changes: Mutex::default(),
            }),
        })
    }
}

impl AuthorizationManager {
    /// A builder for a manager of `config`.
    pub fn builder(config: OAuthConfig) -> AuthorizationManagerBuilder {
        AuthorizationManagerBuilder {
            config,
            store: None,
            flows: None,
            clock: None,
        }
    }

    /// A manager of `config` with grants and flows in memory and the system clock.
    ///
    /// # Errors
    ///
    /// As [`AuthorizationManagerBuilder::build`].
    pub fn new(config: OAuthConfig) -> Result<Self, AuthError> {
        Self::builder(config).build()
    }

    /// A manager configured by [`OAuthConfig::from_env`]; `None` when `OAUTH_CLIENT_ID` is
    /// unset. With `SECRET_KEY` set, grants and pending flows are kept encrypted in the
    /// database of `DATABASE_URL` ([`SqlGrantStore::from_env`]), which replicas sharing it
    /// share; without it, in this process's memory (said in a warning).
    ///
    /// # Errors
    ///
    /// As [`OAuthConfig::from_env`], [`SqlGrantStore::from_env`] and [`new`](Self::new).
    pub async fn from_env() -> Result<Option<Self>, AuthError> {
        let Some(config) = OAuthConfig::from_env()? else {
            return Ok(None);
        };
        let mut builder = Self::builder(config);
        if std::env::var_os("SECRET_KEY").is_some() {
            builder = builder.grant_store(Arc::new(SqlGrantStore::from_env().await?));
        } else {
            tracing::warn!(
                "SECRET_KEY is not set: OAuth grants and pending flows are kept in this process's memory, lost on restart and not shared with other replicas"
            );
        }
        builder.build().map(Some)
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.inner.config
    }

    /// Deletes the grant of `user_id`; whether there was one. The revocation is local: the
    /// tokens are forgotten here but not revoked at the provider (RFC 7009), where they stay
    /// valid until they expire.
    ///
    /// # Errors
    ///
    /// [`AuthError::Store`] when the store fails; [`AuthError::GrantBusy`] when another
    /// replica holds the grant too long.
    pub async fn revoke_authorization(&self, user_id: &str) -> Result<bool, AuthError> {
        // Waits for a refresh under way, which would otherwise store the grant again after it.
        let change = GrantChange::begin(&self.inner, user_id).await?;
        let removed = self.inner.store.remove(user_id).await;
        change.end().await;
        let removed = removed?;
        tracing::info!(user = user_id, removed, "authorization revoked");
        Ok(removed)
    }

    /// What the grant of `user_id` covers, if there is one.
    ///
    /// # Errors
    ///
    /// As the grant store's `get`.
    pub async fn grant_info(&self, user_id: &str) -> Result<Option<GrantInfo>, AuthError> {
        Ok(self
            .inner
            .store
            .get(user_id)
            .await?
            .as_ref()
            .map(GrantInfo::from))
    }
}

/// Held while the grant of one user changes (a refresh, a completed flow, a revocation), so
/// that the changes of one user's grant happen one at a time: concurrent calls that find the
/// grant expiring refresh it once, and a refresh that took its time at the provider cannot
/// bring back a grant revoked meanwhile. In this process by a lock per user (whose map entry
/// goes when its last holder does), then across the processes sharing the grant store by the
/// store's [`GrantLock`].
pub(super) struct GrantChange<'a> {
    inner: &'a Inner,
    user_id: &'a str,
    mutex: Arc<tokio::sync::Mutex<()>>,
    local: Option<tokio::sync::OwnedMutexGuard<()>>,
    shared: Option<GrantLock>,
}

impl<'a> GrantChange<'a> {
    /// Waits for the changes begun before this one, here and in the other processes.
    pub(super) async fn begin(inner: &'a Inner, user_id: &'a str) -> Result<Self, AuthError> {
        let mutex = lock(&inner.grant_changes)
            .entry(user_id.to_owned())
            .or_default()
            .clone();
        // Made before any wait, so that a wait given up on still cleans the map up.
        let mut change = Self {
            inner,
            user_id,
            mutex,
            local: None,
            shared: None,
        };
        change.local = Some(Arc::clone(&change.mutex).lock_owned().await);
        change.shared = Some(inner.store.lock_grant(user_id).await?);
        Ok(change)
    }

    /// Lets the next change of the grant begin.
    pub(super) async fn end(mut self) {
        if let Some(shared) = self.shared.take() {
            shared.release().await;
        }
    }
}

impl Drop for GrantChange<'_> {
    fn drop(&mut self) {
        drop(self.shared.take());
        drop(self.local.take());
        let mut changes = lock(&self.inner.grant_changes);
        // The map holds one reference and this change another: nobody else is waiting.
        if Arc::strong_count(&self.mutex) == 2 {
            changes.remove(self.user_id);
        }
    }
}

/// The grant a token response makes. `requested` stands in for an omitted `scope`, and
/// `previous_refresh` for an omitted refresh token.
pub(super) fn grant_from(
    user_id: &str,
    response: &BasicTokenResponse,
    requested: &[String],
    previous_refresh: Option<RefreshToken>,
    now: Duration,
) -> Grant {
    let scopes = response.scopes().map_or_else(
        || requested.to_vec(),
        |scopes| {
            scopes
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect()
        },
    );
    Grant {
        user_id: user_id.to_owned(),
        access_token: AccessToken::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|token| RefreshToken::new(token.secret().clone()))
            .or(previous_refresh),
        scopes,
        // A lifetime too long to add to the clock (a provider's `expires_in` is not ours to
        // trust) means, for every practical purpose, no expiry.
        expires_at: response
            .expires_in()
            .and_then(|lifetime| now.checked_add(lifetime)),
    }
}

/// Turns a failed token request into an [`AuthError`]: the provider's refusal through
/// `refused`, anything else as [`AuthError::Provider`]. The response body is never quoted, as
/// it may hold tokens.
pub(super) fn token_error(
    error: TokenError,
    refused: impl FnOnce(String, Option<String>) -> AuthError,
) -> AuthError {
    match error {
        RequestTokenError::ServerResponse(response) => refused(
            response.error().as_ref().to_owned(),
            response.error_description().cloned(),
        ),
        RequestTokenError::Request(error) => AuthError::Provider(format!(
            "cannot reach the token endpoint: {}",
            chain(&error)
        )),
        RequestTokenError::Parse(error, _body) => AuthError::Provider(format!(
            "the token endpoint's answer is not an OAuth2 token response (at '{}')",
            error.path()
        )),
        RequestTokenError::Other(message) => AuthError::Provider(message),
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its map consistent, so a panic elsewhere poisons nothing.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn optional_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}
