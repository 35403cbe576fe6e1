//! [`AuthorizationFlow`] and the table of pending flows: single-use, expiring, bounded.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oauth2::PkceCodeVerifier;
use serde::{Serialize, Serializer};

use crate::auth::AuthError;

/// How long a user has to finish an authorization flow.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Pending flows kept at most; past it the flow closest to expiry is dropped, so a flood of
/// unauthorized calls cannot grow memory without bound.
const MAX_FLOWS: usize = 10_000;

/// A started authorization: send the user to `authorization_url` before `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AuthorizationFlow {
    /// The flow's id, which is also the OAuth2 `state` the provider sends back.
    pub flow_id: String,
    /// Where the user approves the request, at the provider.
    pub authorization_url: String,
    /// When the flow expires, since the Unix epoch (seconds in JSON).
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
pub(crate) struct PendingFlow {
    pub(crate) public: AuthorizationFlow,
    pub(crate) verifier: PkceCodeVerifier,
}

/// A pending flow, or the tombstone of a completed one (kept so that a second use is reported
/// as such).
enum FlowSlot {
    Pending(PendingFlow),
    Used { expires_at: Duration },
}

impl FlowSlot {
    fn expires_at(&self) -> Duration {
        match self {
            Self::Pending(flow) => flow.public.expires_at,
            Self::Used { expires_at } => *expires_at,
        }
    }
}

/// The flows of one manager, by id, in memory.
#[derive(Default)]
pub(crate) struct FlowTable {
    flows: Mutex<HashMap<String, FlowSlot>>,
}

impl FlowTable {
    /// Adds `flow`, first dropping flows gone for a whole lifetime (expired and used ones stay
    /// one more lifetime, to tell a late caller why) and, when full, the oldest.
    pub(crate) fn insert(&self, flow: PendingFlow, now: Duration) {
        let mut flows = self.flows();
        flows.retain(|_, slot| slot.expires_at() + FLOW_LIFETIME > now);
        if flows.len() >= MAX_FLOWS {
            let oldest = flows
                .iter()
                .min_by_key(|(_, slot)| slot.expires_at())
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                flows.remove(&oldest);
            }
        }
        flows.insert(flow.public.flow_id.clone(), FlowSlot::Pending(flow));
    }

    /// Takes the flow and leaves a tombstone, so that it is used at most once.
    pub(crate) fn take(&self, flow_id: &str, now: Duration) -> Result<PendingFlow, AuthError> {
        let mut flows = self.flows();
        let slot = flows.get_mut(flow_id).ok_or(AuthError::UnknownFlow)?;
        let expires_at = slot.expires_at();
        match slot {
            FlowSlot::Used { .. } => Err(AuthError::FlowUsed),
            FlowSlot::Pending(flow) if now >= expires_at => Err(AuthError::FlowExpired {
                user_id: flow.public.user_id.clone(),
                tool_name: flow.public.tool_name.clone(),
            }),
            FlowSlot::Pending(_) => match std::mem::replace(slot, FlowSlot::Used { expires_at }) {
                FlowSlot::Pending(flow) => Ok(flow),
                FlowSlot::Used { .. } => Err(AuthError::FlowUsed),
            },
        }
    }

    /// A pending flow for exactly this request with at least half its life left, so repeated
    /// refused calls hand out one URL rather than a flow each.
    pub(crate) fn reusable(
        &self,
        user_id: &str,
        tool_name: &str,
        scopes: &[String],
        now: Duration,
    ) -> Option<AuthorizationFlow> {
        let fresh_after = now + FLOW_LIFETIME / 2;
        self.flows().values().find_map(|slot| match slot {
            FlowSlot::Pending(PendingFlow { public, .. })
                if public.expires_at > fresh_after
                    && public.user_id == user_id
                    && public.tool_name == tool_name
                    && public.scopes == scopes =>
            {
                Some(public.clone())
            }
            _ => None,
        })
    }

    /// Flows held, pending or used.
    pub(crate) fn len(&self) -> usize {
        self.flows().len()
    }

    fn flows(&self) -> MutexGuard<'_, HashMap<String, FlowSlot>> {
        // Every critical section leaves the map consistent, so a panic elsewhere poisons nothing.
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
