//! [`AuthorizationManager`]: runs the OAuth2 authorization-code flow with PKCE and keeps users'
//! grants. The per-call check that uses them is in `check.rs`; the flow table in `flows.rs`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    HttpClientError, PkceCodeChallenge, RedirectUrl, RequestTokenError, Scope, TokenResponse as _,
    TokenUrl,
};
use serde::{Serialize, Serializer};

use crate::auth::flows::{AuthorizationFlow, FLOW_LIFETIME, FlowStatus, FlowTable, PendingFlow};
use crate::auth::store::{Grant, GrantStore, MemoryGrantStore};
use crate::auth::{AccessToken, AuthError, OAuthConfig, RefreshToken};
use crate::clock::{SharedClock, SystemClock};

/// A grant is refreshed when it has less than this left, so that a token does not expire
/// between the check and the tool's use of it.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);

/// Time limit of one request to the token endpoint.
const TOKEN_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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
/// Flows live in this process's memory for [`FLOW_LIFETIME`] by the manager's clock, and are
/// single-use: the first [`complete_authorization`](Self::complete_authorization) consumes the
/// flow whether or not the provider accepts the code, since the code and the PKCE verifier
/// may not be replayed; a failed exchange needs a new flow.
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
    pub(super) flows: FlowTable,
    /// One lock per user whose grant is changing: see [`GrantChange`].
    grant_changes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationManager")
            .field("config", &self.config)
            .field("store", &self.store)
            .field("clock", &self.clock)
            .field("flows", &self.flows.len())
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
    clock: Option<SharedClock>,
}

impl AuthorizationManagerBuilder {
    /// Where grants are kept (default: a [`MemoryGrantStore`]).
    #[must_use]
    pub fn grant_store(mut self, store: Arc<dyn GrantStore>) -> Self {
        self.store = Some(store);
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
        Ok(AuthorizationManager {
            inner: Arc::new(Inner {
                config: self.config,
                client,
                http,
                store: self
                    .store
                    .unwrap_or_else(|| Arc::new(MemoryGrantStore::default())),
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                flows: FlowTable::default(),
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
            clock: None,
        }
    }

    /// A manager of `config` with grants in memory and the system clock.
    ///
    /// # Errors
    ///
    /// As [`AuthorizationManagerBuilder::build`].
    pub fn new(config: OAuthConfig) -> Result<Self, AuthError> {
        Self::builder(config).build()
    }

    /// A manager configured by [`OAuthConfig::from_env`], with grants in memory; `None` when
    /// `OAUTH_CLIENT_ID` is unset.
    ///
    /// # Errors
    ///
    /// As [`OAuthConfig::from_env`] and [`new`](Self::new).
    pub fn from_env() -> Result<Option<Self>, AuthError> {
        OAuthConfig::from_env()?.map(Self::new).transpose()
    }

    /// The configuration.
    pub fn config(&self) -> &OAuthConfig {
        &self.inner.config
    }

    /// Starts a flow in which `user_id` grants `scopes` for `tool_name`. Send the user to the
    /// flow's `authorization_url`; finish with [`complete_authorization`](Self::complete_authorization).
    ///
    /// # Errors
    ///
    /// None today (flows are kept in memory); the `Result` leaves room for a shared flow store.
    pub async fn initiate_authorization(
        &self,
        user_id: &str,
        tool_name: &str,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Result<AuthorizationFlow, AuthError> {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .inner
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge)
            .url();
        let now = self.inner.clock.now();
        let flow = AuthorizationFlow {
            flow_id: state.secret().clone(),
            authorization_url: url.into(),
            expires_at: now + FLOW_LIFETIME,
            user_id: user_id.to_owned(),
            tool_name: tool_name.to_owned(),
            scopes,
        };
        self.inner.flows.insert(
            PendingFlow {
                public: flow.clone(),
                verifier,
            },
            now,
        );
        tracing::info!(
            user = user_id,
            tool = tool_name,
            "authorization flow started"
        );
        Ok(flow)
    }

    /// Finishes the flow `flow_id` (the `state` the provider sent back) by exchanging `code` at
    /// the token endpoint, and stores the grant. The granted scopes are those of the token
    /// response, or the requested ones when the provider omits them (RFC 6749 section 5.1).
    ///
    /// # Errors
    ///
    /// [`AuthError::UnknownFlow`], [`FlowUsed`](AuthError::FlowUsed) or
    /// [`FlowExpired`](AuthError::FlowExpired) for a flow that cannot be completed;
    /// [`Exchange`](AuthError::Exchange) when the provider refuses the code;
    /// [`Provider`](AuthError::Provider) when it cannot be reached; [`Store`](AuthError::Store)
    /// when the grant cannot be saved.
    pub async fn complete_authorization(
        &self,
        flow_id: &str,
        code: &str,
    ) -> Result<GrantInfo, AuthError> {
        let now = self.inner.clock.now();
        let flow = self.inner.flows.take(flow_id, now)?;
        let outcome = self.exchange(flow, code, now).await;
        self.inner.flows.settle(
            flow_id,
            match &outcome {
                Ok(_) => FlowStatus::Completed,
                Err(error) => FlowStatus::Failed(error.to_string()),
            },
        );
        outcome
    }

    /// Ends flow `flow_id` without a grant, because the provider sent the user back with
    /// `reason` (an OAuth2 error such as `access_denied`) instead of a code. The flow cannot be
    /// used afterwards, and a client waiting on it is told it failed.
    ///
    /// # Errors
    ///
    /// As [`complete_authorization`](Self::complete_authorization) for a flow that cannot be
    /// used.
    pub fn abandon_authorization(&self, flow_id: &str, reason: &str) -> Result<(), AuthError> {
        let flow = self.inner.flows.take(flow_id, self.inner.clock.now())?;
        tracing::info!(user = %flow.public.user_id, tool = %flow.public.tool_name, reason, "authorization refused at the provider");
        self.inner
            .flows
            .settle(flow_id, FlowStatus::Failed(reason.to_owned()));
        Ok(())
    }

    /// Exchanges `code` for the tokens of `flow` and stores the grant.
    async fn exchange(
        &self,
        flow: PendingFlow,
        code: &str,
        now: Duration,
    ) -> Result<GrantInfo, AuthError> {
        let AuthorizationFlow {
            user_id, tool_name, ..
        } = &flow.public;
        let response = self
            .inner
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(flow.verifier)
            .request_async(&self.inner.http)
            .await
            .map_err(|error| {
                let error = token_error(error, |error, description| AuthError::Exchange {
                    error,
                    description,
                });
                tracing::warn!(user = %user_id, tool = %tool_name, %error, "authorization code exchange failed");
                error
            })?;
        let grant = grant_from(user_id, &response, &flow.public.scopes, None, now);
        let change = GrantChange::of(&self.inner, user_id);
        let _one_at_a_time = change.lock().await;
        self.inner.store.put(grant.clone()).await?;
        tracing::info!(user = %user_id, tool = %tool_name, scopes = ?grant.scopes, "authorization completed");
        Ok(GrantInfo::from(&grant))
    }

    /// Flow `flow_id` and where it stands, while the manager holds it (a flow is forgotten a
    /// lifetime after it expired or was used).
    pub fn flow_status(&self, flow_id: &str) -> Option<(AuthorizationFlow, FlowStatus)> {
        self.inner.flows.status(flow_id, self.inner.clock.now())
    }

    /// Flow `flow_id` and where it stands once it settles (completed, failed or expired), or
    /// after `wait`, whichever comes first: for a client that long-polls the flow it started.
    pub async fn wait_for_flow(
        &self,
        flow_id: &str,
        wait: Duration,
    ) -> Option<(AuthorizationFlow, FlowStatus)> {
        let end = tokio::time::Instant::now() + wait;
        loop {
            let changed = self.inner.flows.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let status = self.flow_status(flow_id)?;
            if status.1.is_settled() {
                return Some(status);
            }
            // Expiry is not an event: wake at the flow's expiry too.
            let expires_in = status.0.expires_at.saturating_sub(self.inner.clock.now());
            let until = end.min(tokio::time::Instant::now() + expires_in);
            if tokio::time::timeout_at(until, changed).await.is_err() {
                return self.flow_status(flow_id);
            }
        }
    }

    /// Deletes the grant of `user_id`; whether there was one. The revocation is local: the
    /// tokens are forgotten here but not revoked at the provider (RFC 7009), where they stay
    /// valid until they expire.
    ///
    /// # Errors
    ///
    /// [`AuthError::Store`] when the store fails.
    pub async fn revoke_authorization(&self, user_id: &str) -> Result<bool, AuthError> {
        // Waits for a refresh under way, which would otherwise store the grant again after it.
        let change = GrantChange::of(&self.inner, user_id);
        let _one_at_a_time = change.lock().await;
        let removed = self.inner.store.remove(user_id).await?;
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
/// bring back a grant revoked meanwhile. The map entry goes when its last holder does.
pub(super) struct GrantChange<'a> {
    inner: &'a Inner,
    user_id: &'a str,
    mutex: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> GrantChange<'a> {
    pub(super) fn of(inner: &'a Inner, user_id: &'a str) -> Self {
        let mutex = lock(&inner.grant_changes)
            .entry(user_id.to_owned())
            .or_default()
            .clone();
        Self {
            inner,
            user_id,
            mutex,
        }
    }

    /// Waits for the changes begun before this one.
    pub(super) async fn lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.mutex.lock().await
    }
}

impl Drop for GrantChange<'_> {
    fn drop(&mut self) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::error::ErrorKind;
    use oauth2::url::Url;

    const START: Duration = Duration::from_secs(1_700_000_000);

    fn manager(token_url: &str) -> (AuthorizationManager, ManualClock, Arc<MemoryGrantStore>) {
        let clock = ManualClock::new(START);
        let store = Arc::new(MemoryGrantStore::default());
        let config = OAuthConfig::new(
            "client",
            "http://127.0.0.1/callback",
            "http://idp.test/authorize",
            token_url,
        )
        .expect("valid config")
        .with_client_secret("client-secret");
        let manager = AuthorizationManager::builder(config)
            .clock(Arc::new(clock.clone()))
            .grant_store(store.clone())
            .build()
            .expect("manager");
        (manager, clock, store)
    }

    /// A token endpoint nobody listens on: exchanges fail without leaving the machine.
    const DEAD_TOKEN_URL: &str = "http://127.0.0.1:1/token";

    fn scopes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn query(url: &str) -> HashMap<String, String> {
        Url::parse(url)
            .expect("url")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_on_a_flow_returns_when_it_settles_and_not_before() {
        let (manager, clock, _) = manager(DEAD_TOKEN_URL);
        let flow = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        let wait = manager.wait_for_flow(&flow.flow_id, Duration::from_secs(30));
        tokio::pin!(wait);
        // Pending: the waiter waits (tokio's clock is paused, so only an event ends it).
        assert!(
            futures::FutureExt::now_or_never(wait.as_mut()).is_none(),
            "returned while pending"
        );
        manager
            .abandon_authorization(&flow.flow_id, "access_denied")
            .expect("a pending flow");
        let (_, status) = wait.await.expect("the flow is held");
        assert_eq!(status, FlowStatus::Failed("access_denied".to_owned()));
        // A pending flow's waiter gives up at `wait` with the flow still pending.
        let other = manager
            .initiate_authorization("bob", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        let (_, status) = manager
            .wait_for_flow(&other.flow_id, Duration::from_secs(5))
            .await
            .expect("held");
        assert_eq!(status, FlowStatus::Pending);
        // Past its lifetime (on the manager's clock), it is expired.
        clock.advance(FLOW_LIFETIME);
        assert_eq!(
            manager
                .flow_status(&other.flow_id)
                .map(|(_, status)| status),
            Some(FlowStatus::Expired)
        );
        assert!(manager.flow_status("unknown").is_none());
    }

    #[tokio::test]
    async fn authorization_url_carries_state_pkce_s256_scopes_and_redirect() {
        let (manager, _, _) = manager(DEAD_TOKEN_URL);
        let flow = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read", "docs.write"])
            .await
            .expect("flow");
        let query = query(&flow.authorization_url);
        assert_eq!(query["state"], flow.flow_id);
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "client");
        assert_eq!(query["redirect_uri"], "http://127.0.0.1/callback");
        assert_eq!(query["code_challenge_method"], "S256");
        assert_eq!(query["code_challenge"].len(), 43);
        assert_eq!(query["scope"], "docs.read docs.write");
        assert_eq!(flow.expires_at, START + FLOW_LIFETIME);
        assert!(!flow.authorization_url.contains("client-secret"));
    }

    #[tokio::test]
    async fn flow_expires_after_ten_minutes_by_the_injected_clock() {
        let (manager, clock, _) = manager(DEAD_TOKEN_URL);
        let flow = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        clock.advance(FLOW_LIFETIME);
        let error = manager
            .complete_authorization(&flow.flow_id, "code")
            .await
            .expect_err("expired");
        assert!(matches!(error, AuthError::FlowExpired { .. }), "{error:?}");
        assert!(error.to_string().contains("start a new one"), "{error}");
    }

    #[tokio::test]
    async fn long_gone_flows_are_pruned_and_then_unknown() {
        let (manager, clock, _) = manager(DEAD_TOKEN_URL);
        let old = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        clock.advance(FLOW_LIFETIME * 2);
        manager
            .initiate_authorization("bob", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        assert_eq!(manager.inner.flows.len(), 1);
        let error = manager
            .complete_authorization(&old.flow_id, "code")
            .await
            .expect_err("pruned");
        assert!(matches!(error, AuthError::UnknownFlow), "{error:?}");
    }

    #[tokio::test]
    async fn unknown_flow_is_refused_without_contacting_the_provider() {
        let (manager, _, _) = manager(DEAD_TOKEN_URL);
        let error = manager
            .complete_authorization("no-such-state", "code")
            .await
            .expect_err("unknown");
        assert!(matches!(error, AuthError::UnknownFlow), "{error:?}");
    }

    #[tokio::test]
    async fn flow_is_single_use_even_when_the_exchange_fails() {
        let (manager, _, _) = manager(DEAD_TOKEN_URL);
        let flow = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        let first = manager
            .complete_authorization(&flow.flow_id, "code")
            .await
            .expect_err("nobody listens");
        assert!(matches!(first, AuthError::Provider(_)), "{first:?}");
        let second = manager
            .complete_authorization(&flow.flow_id, "code")
            .await
            .expect_err("used");
        assert!(matches!(second, AuthError::FlowUsed), "{second:?}");
    }

    #[tokio::test]
    async fn anonymous_caller_is_401_asking_for_a_user() {
        let (manager, _, _) = manager(DEAD_TOKEN_URL);
        let error = manager
            .authorize(None, "Docs.Read", &scopes(&["docs.read"]))
            .await
            .expect_err("anonymous");
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert!(
            error
                .message()
                .contains("an authenticated user is required")
        );
    }

    #[tokio::test]
    async fn missing_grant_is_401_with_one_reused_flow_for_the_tools_scopes() {
        let (manager, _, _) = manager(DEAD_TOKEN_URL);
        let required = scopes(&["docs.read"]);
        let first = manager
            .authorize(Some("ada"), "Docs.Read", &required)
            .await
            .expect_err("no grant");
        assert_eq!(first.kind(), ErrorKind::Unauthorized);
        assert_eq!(
            first.message(),
            "Tool 'Docs.Read' requires authorization: user 'ada' has not granted access. Open authorization_url to authorize."
        );
        let metadata = first.metadata().expect("metadata");
        let url = metadata["authorization_url"].as_str().expect("url");
        assert_eq!(query(url)["scope"], "docs.read");
        assert_eq!(query(url)["state"], metadata["flow_id"]);
        assert!(metadata["flow_expires_at"].is_f64());
        let second = manager
            .authorize(Some("ada"), "Docs.Read", &required)
            .await
            .expect_err("still no grant");
        assert_eq!(
            second.metadata().expect("metadata")["flow_id"],
            metadata["flow_id"]
        );
        assert_eq!(manager.inner.flows.len(), 1);
    }

    #[tokio::test]
    async fn live_grant_covering_the_scopes_yields_its_token() {
        let (manager, _, store) = manager(DEAD_TOKEN_URL);
        let grant = Grant::new("ada", AccessToken::new("tok"), ["docs.read", "docs.write"])
            .with_expires_at(START + Duration::from_secs(3600));
        store.put(grant).await.expect("put");
        let token = manager
            .authorize(Some("ada"), "Docs.Read", &scopes(&["docs.read"]))
            .await
            .expect("authorized");
        assert_eq!(token.secret(), "tok");
    }

    #[tokio::test]
    async fn grant_lacking_scopes_is_403_naming_them_and_asking_for_all() {
        let (manager, _, store) = manager(DEAD_TOKEN_URL);
        store
            .put(Grant::new("ada", AccessToken::new("tok"), ["a"]))
            .await
            .expect("put");
        let error = manager
            .authorize(Some("ada"), "Docs.Edit", &scopes(&["a", "b", "c"]))
            .await
            .expect_err("missing scopes");
        assert_eq!(error.kind(), ErrorKind::Security);
        assert!(
            error.message().contains("missing scopes ['b', 'c']"),
            "{}",
            error.message()
        );
        let metadata = error.metadata().expect("metadata");
        assert_eq!(metadata["missing_scopes"], serde_json::json!(["b", "c"]));
        let url = metadata["authorization_url"].as_str().expect("url");
        assert_eq!(query(url)["scope"], "a b c");
    }

    #[tokio::test]
    async fn expired_grant_without_refresh_token_is_401_and_removed() {
        let (manager, clock, store) = manager(DEAD_TOKEN_URL);
        let grant = Grant::new("ada", AccessToken::new("tok"), ["a"])
            .with_expires_at(START + Duration::from_secs(60));
        store.put(grant).await.expect("put");
        // Inside the refresh margin counts as expired.
        clock.advance(Duration::from_secs(60) - REFRESH_MARGIN);
        let error = manager
            .authorize(Some("ada"), "Docs.Read", &scopes(&["a"]))
            .await
            .expect_err("expired");
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert!(
            error.message().contains("no refresh token"),
            "{}",
            error.message()
        );
        assert!(
            error
                .metadata()
                .expect("metadata")
                .contains_key("authorization_url")
        );
        assert!(store.get("ada").await.expect("get").is_none());
    }

    #[test]
    fn a_lifetime_past_the_end_of_time_is_no_expiry_rather_than_a_panic() {
        let mut response = BasicTokenResponse::new(
            oauth2::AccessToken::new("tok".to_owned()),
            oauth2::basic::BasicTokenType::Bearer,
            oauth2::EmptyExtraTokenFields {},
        );
        response.set_expires_in(Some(&Duration::MAX));
        let grant = grant_from("ada", &response, &scopes(&["a"]), None, START);
        assert_eq!(grant.expires_at, None);

        response.set_expires_in(Some(&Duration::from_secs(3600)));
        let grant = grant_from("ada", &response, &scopes(&["a"]), None, START);
        assert_eq!(grant.expires_at, Some(START + Duration::from_secs(3600)));
    }

    #[tokio::test]
    async fn unreachable_provider_during_refresh_keeps_the_grant() {
        let (manager, clock, store) = manager(DEAD_TOKEN_URL);
        let grant = Grant::new("ada", AccessToken::new("tok"), ["a"])
            .with_refresh_token(RefreshToken::new("refresh"))
            .with_expires_at(START + Duration::from_secs(60));
        store.put(grant).await.expect("put");
        clock.advance(Duration::from_secs(120));
        let error = manager
            .authorize(Some("ada"), "Docs.Read", &scopes(&["a"]))
            .await
            .expect_err("cannot refresh");
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
        assert!(store.get("ada").await.expect("get").is_some());
        assert!(lock(&manager.inner.grant_changes).is_empty());
    }
}
