//! [`AuthorizationFlow`] and [`FlowStore`], where pending flows wait for the provider to send
//! their user back: [`MemoryFlowStore`](crate::auth::MemoryFlowStore) in one process, or
//! [`SqlFlowStore`](crate::auth::SqlFlowStore), shared by every replica on one database.

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::auth::PkceVerifier;
use crate::auth::store::StoreFuture;

/// How long a user has to finish an authorization flow.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Flows a store keeps at most by default, pending and used ones together; past it the oldest
/// is dropped, so a flood of refused calls cannot grow memory or a table without bound.
pub const MAX_FLOWS: usize = 10_000;

/// How long after its expiry a flow claimed for its exchange but never settled (the process
/// exchanging it died, or dropped the exchange) is reported expired: well past the token
/// request's own time limit, so a live exchange always settles first.
const UNSETTLED_GRACE: Duration = Duration::from_secs(120);

/// A started authorization: send the user to `authorization_url` before `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AuthorizationFlow {
    /// The flow's id, which is also the OAuth2 `state` the provider sends back.
    pub flow_id: String,
    /// Where the user approves the request, at the provider.
    pub authorization_url: String,
    /// When the flow expires, since the Unix epoch (seconds in JSON), in whole milliseconds.
    #[serde(serialize_with = "seconds")]
    pub expires_at: Duration,
    /// The user being authorized.
    pub user_id: String,
    /// The tool that asked for the authorization.
    pub tool_name: String,
    /// The scopes requested.
    pub scopes: Vec<String>,
}

/// A flow waiting for its code, with the PKCE verifier that only the token request may see.
/// `Debug` does not show the verifier.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingFlow {
    /// The flow, as its user and client see it.
    pub flow: AuthorizationFlow,
    /// The secret half of the flow's PKCE challenge (RFC 7636).
    pub verifier: PkceVerifier,
}

impl PendingFlow {
    /// `flow` with its PKCE `verifier`.
    pub fn new(flow: AuthorizationFlow, verifier: PkceVerifier) -> Self {
        Self { flow, verifier }
    }
}

/// Where a flow stands, for a client waiting on it (`GET /arcade/v1/auth/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlowStatus {
    /// The user has not come back from the provider yet.
    Pending,
    /// The provider sent the user back and the code is being exchanged.
    Exchanging,
    /// The grant is stored: calls of the tool by this user now pass.
    Completed,
    /// The flow ended without a grant; the reason says why.
    Failed(String),
    /// The user did not come back within the flow's lifetime.
    Expired,
}

impl FlowStatus {
    /// Whether the flow can still change.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed(_) | Self::Expired)
    }

    /// What a flow stored with this status reads as at `now`, the flow expiring at
    /// `expires_at`: a pending flow past its expiry is expired, and so is one claimed for its
    /// exchange that never settled, two minutes after its expiry (the process exchanging it
    /// died). A [`FlowStore`] reports statuses through this.
    ///
    /// ```
    /// use std::time::Duration;
    /// use fact_runtime::auth::FlowStatus;
    ///
    /// let expires_at = Duration::from_secs(600);
    /// assert_eq!(FlowStatus::Pending.as_of(expires_at, Duration::from_secs(599)), FlowStatus::Pending);
    /// assert_eq!(FlowStatus::Pending.as_of(expires_at, expires_at), FlowStatus::Expired);
    /// assert_eq!(FlowStatus::Completed.as_of(expires_at, expires_at * 2), FlowStatus::Completed);
    /// ```
    #[must_use]
    pub fn as_of(self, expires_at: Duration, now: Duration) -> Self {
        match self {
            Self::Pending if now >= expires_at => Self::Expired,
            Self::Exchanging if now >= expires_at.saturating_add(UNSETTLED_GRACE) => Self::Expired,
            status => status,
        }
    }
}

/// Where pending authorization flows wait for the provider to send their user back, so that
/// the replica the callback reaches finds the flow another one started. Every time is the
/// manager's clock's, passed in as `now`.
///
/// A store keeps each flow from [`insert`](Self::insert) until a whole [`FLOW_LIFETIME`] after
/// it expired (a used or expired flow is remembered that long, to tell a late caller why it
/// cannot be used), and keeps a bounded number of flows, dropping the oldest first.
///
/// Its contract: [`claim`](Self::claim) hands a flow's verifier out at most once, however many
/// callers, threads or processes race for it; a store that cannot answer returns
/// [`AuthError::Store`](crate::auth::AuthError::Store), never panics. A store that keeps flows
/// outside the process should encrypt the verifier, as
/// [`SqlFlowStore`](crate::auth::SqlFlowStore) does.
pub trait FlowStore: Send + Sync + fmt::Debug {
    /// Keeps `flow`, pending, after dropping the flows gone for a whole lifetime and, when
    /// the store is full, the oldest.
    fn insert(&self, flow: PendingFlow, now: Duration) -> StoreFuture<'_, ()>;

    /// Takes flow `flow_id` for its one exchange: a pending, unexpired flow becomes
    /// [`FlowStatus::Exchanging`] and is returned with its verifier, atomically, so that of
    /// racing claims exactly one succeeds.
    ///
    /// # Errors
    ///
    /// [`AuthError::UnknownFlow`](crate::auth::AuthError::UnknownFlow),
    /// [`FlowUsed`](crate::auth::AuthError::FlowUsed) for a flow claimed before,
    /// [`FlowExpired`](crate::auth::AuthError::FlowExpired), or
    /// [`Store`](crate::auth::AuthError::Store).
    fn claim<'a>(&'a self, flow_id: &'a str, now: Duration) -> StoreFuture<'a, PendingFlow>;

    /// Records how the exchange of claimed flow `flow_id` ended: [`FlowStatus::Completed`] or
    /// [`FlowStatus::Failed`]. A flow that is not being exchanged is left as it is.
    fn settle<'a>(&'a self, flow_id: &'a str, outcome: FlowStatus) -> StoreFuture<'a, ()>;

    /// Flow `flow_id` and where it stands at `now` ([`FlowStatus::as_of`]), while it is kept.
    fn status<'a>(
        &'a self,
        flow_id: &'a str,
        now: Duration,
    ) -> StoreFuture<'a, Option<(AuthorizationFlow, FlowStatus)>>;

    /// The flow to hand out again to a refused call of `tool_name` by `user_id`: the flow
    /// started last for that user and tool, when it is still pending, asks for exactly
    /// `scopes` and has at least half its lifetime left; so that repeated refused calls give
    /// one URL rather than a flow each.
    fn reusable<'a>(
        &'a self,
        user_id: &'a str,
        tool_name: &'a str,
        scopes: &'a [String],
        now: Duration,
    ) -> StoreFuture<'a, Option<AuthorizationFlow>>;
}

/// Whether `flow` may be handed out again for `scopes` at `now` (see [`FlowStore::reusable`]).
pub(crate) fn reusable_at(flow: &AuthorizationFlow, scopes: &[String], now: Duration) -> bool {
    flow.expires_at > now + FLOW_LIFETIME / 2 && flow.scopes == scopes
}

pub(crate) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
