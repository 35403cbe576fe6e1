//! [`AuthorizationFlow`] and the table of pending flows: single-use, expiring, bounded.

use std::collections::{HashMap, VecDeque};
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
}

/// A pending flow, or the tombstone of a used one, with how its use ended (kept so that a
/// second use is reported as such, and a waiting client told the outcome).
enum FlowSlot {
    Pending(PendingFlow),
    Used {
        flow: AuthorizationFlow,
        outcome: FlowStatus,
    },
}

impl FlowSlot {
    fn expires_at(&self) -> Duration {
        match self {
            Self::Pending(flow) => flow.public.expires_at,
            Self::Used { flow, .. } => flow.expires_at,
        }
    }
}

/// The flows of one manager, by id, in memory. Every operation is O(1) (amortized), so that a
/// flood of unauthorized calls costs each call the same.
#[derive(Default)]
pub(crate) struct FlowTable {
    flows: Mutex<Flows>,
    /// Woken whenever a flow is used or settles, for clients waiting on one.
    changed: tokio::sync::Notify,
}

#[derive(Default)]
struct Flows {
    by_id: HashMap<String, FlowSlot>,
    /// Flow ids in the order they started, which is the order they expire in: every flow lives
    /// [`FLOW_LIFETIME`] from its start.
    order: VecDeque<String>,
    /// The pending flow started last for each (user, tool): the one a refused call may reuse.
    latest: HashMap<(String, String), String>,
}

impl Flows {
    /// Removes the oldest flow.
    fn pop_oldest(&mut self) {
        let Some(id) = self.order.pop_front() else {
            return;
        };
        if let Some(FlowSlot::Pending(flow)) = self.by_id.remove(&id) {
            self.forget_latest(&flow.public);
        }
    }

    fn forget_latest(&mut self, flow: &AuthorizationFlow) {
        let key = (flow.user_id.clone(), flow.tool_name.clone());
        if self.latest.get(&key) == Some(&flow.flow_id) {
            self.latest.remove(&key);
        }
    }

    fn oldest_expiry(&self) -> Option<Duration> {
        let id = self.order.front()?;
        // An id no longer held counts as long gone, so that it is popped.
        Some(
            self.by_id
                .get(id)
                .map_or(Duration::ZERO, FlowSlot::expires_at),
        )
    }
}

impl FlowTable {
    /// Adds `flow`, first dropping flows gone for a whole lifetime (expired and used ones stay
    /// one more lifetime, to tell a late caller why) and, when full, the oldest.
    pub(crate) fn insert(&self, flow: PendingFlow, now: Duration) {
        let mut flows = self.flows();
        while flows
            .oldest_expiry()
            .is_some_and(|expires_at| expires_at + FLOW_LIFETIME <= now)
        {
            flows.pop_oldest();
        }
        if flows.by_id.len() >= MAX_FLOWS {
            flows.pop_oldest();
        }
        let id = flow.public.flow_id.clone();
        let key = (flow.public.user_id.clone(), flow.public.tool_name.clone());
        flows.order.push_back(id.clone());
        flows.latest.insert(key, id.clone());
        flows.by_id.insert(id, FlowSlot::Pending(flow));
    }

    /// Takes the flow and leaves a tombstone, so that it is used at most once.
    pub(crate) fn take(&self, flow_id: &str, now: Duration) -> Result<PendingFlow, AuthError> {
        let mut flows = self.flows();
        let slot = flows.by_id.get_mut(flow_id).ok_or(AuthError::UnknownFlow)?;
        let expires_at = slot.expires_at();
        let flow = match slot {
            FlowSlot::Used { .. } => return Err(AuthError::FlowUsed),
            FlowSlot::Pending(flow) if now >= expires_at => {
                return Err(AuthError::FlowExpired {
                    user_id: flow.public.user_id.clone(),
                    tool_name: flow.public.tool_name.clone(),
                });
            }
            FlowSlot::Pending(flow) => {
                let used = FlowSlot::Used {
                    flow: flow.public.clone(),
                    outcome: FlowStatus::Exchanging,
                };
                match std::mem::replace(slot, used) {
                    FlowSlot::Pending(flow) => flow,
                    FlowSlot::Used { .. } => return Err(AuthError::FlowUsed),
                }
            }
        };
        flows.forget_latest(&flow.public);
        drop(flows);
        self.changed.notify_waiters();
        Ok(flow)
    }

    /// Records how the use of flow `flow_id` ended, and wakes the clients waiting on it.
    pub(crate) fn settle(&self, flow_id: &str, status: FlowStatus) {
        let mut flows = self.flows();
        if let Some(FlowSlot::Used { outcome, .. }) = flows.by_id.get_mut(flow_id) {
            *outcome = status;
        }
        drop(flows);
        self.changed.notify_waiters();
    }

    /// Flow `flow_id` and where it stands at `now`, while it is held.
    pub(crate) fn status(
        &self,
        flow_id: &str,
        now: Duration,
    ) -> Option<(AuthorizationFlow, FlowStatus)> {
        let flows = self.flows();
        match flows.by_id.get(flow_id)? {
            FlowSlot::Pending(flow) if now >= flow.public.expires_at => {
                Some((flow.public.clone(), FlowStatus::Expired))
            }
            FlowSlot::Pending(flow) => Some((flow.public.clone(), FlowStatus::Pending)),
            FlowSlot::Used { flow, outcome } => Some((flow.clone(), outcome.clone())),
        }
    }

    /// Completes when a flow is used or settles; make it (and `enable` it) before reading a
    /// status, so that no change between the two is missed.
    pub(crate) fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// The pending flow for exactly this request, when it is the user's latest for the tool and
    /// has at least half its life left, so repeated refused calls hand out one URL rather than
    /// a flow each.
    pub(crate) fn reusable(
        &self,
        user_id: &str,
        tool_name: &str,
        scopes: &[String],
        now: Duration,
    ) -> Option<AuthorizationFlow> {
        let flows = self.flows();
        let id = flows
            .latest
            .get(&(user_id.to_owned(), tool_name.to_owned()))?;
        match flows.by_id.get(id)? {
            FlowSlot::Pending(PendingFlow { public, .. })
                if public.expires_at > now + FLOW_LIFETIME / 2 && public.scopes == scopes =>
            {
                Some(public.clone())
            }
            _ => None,
        }
    }

    /// Flows held, pending or used.
    pub(crate) fn len(&self) -> usize {
        self.flows().by_id.len()
    }

    fn flows(&self) -> MutexGuard<'_, Flows> {
        // Every critical section leaves the table consistent, so a panic elsewhere poisons
        // nothing.
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Duration = Duration::from_secs(1_700_000_000);

    fn flow(id: &str, user: &str, now: Duration) -> PendingFlow {
        PendingFlow {
            public: AuthorizationFlow {
                flow_id: id.to_owned(),
                authorization_url: format!("https://idp.test/authorize?state={id}"),
                expires_at: now + FLOW_LIFETIME,
                user_id: user.to_owned(),
                tool_name: "Docs.Read".to_owned(),
                scopes: vec!["docs.read".to_owned()],
            },
            verifier: PkceCodeVerifier::new(format!("verifier-{id}")),
        }
    }

    fn reusable_id(table: &FlowTable, user: &str, now: Duration) -> Option<String> {
        table
            .reusable(user, "Docs.Read", &["docs.read".to_owned()], now)
            .map(|flow| flow.flow_id)
    }

    #[test]
    fn a_full_table_drops_its_oldest_flow_first() {
        let table = FlowTable::default();
        for n in 0..MAX_FLOWS {
            table.insert(flow(&format!("f{n}"), &format!("u{n}"), START), START);
        }
        table.insert(flow("newest", "someone", START), START);
        assert_eq!(table.len(), MAX_FLOWS);
        assert!(matches!(
            table.take("f0", START),
            Err(AuthError::UnknownFlow)
        ));
        assert_eq!(reusable_id(&table, "u0", START), None);
        assert!(table.take("f1", START).is_ok());
        assert!(table.take("newest", START).is_ok());
    }

    #[test]
    fn only_the_latest_pending_flow_of_a_user_and_tool_is_reused() {
        let table = FlowTable::default();
        table.insert(flow("first", "ada", START), START);
        table.insert(flow("second", "ada", START), START);
        assert_eq!(reusable_id(&table, "ada", START).as_deref(), Some("second"));
        assert!(table.take("second", START).is_ok());
        assert_eq!(
            reusable_id(&table, "ada", START),
            None,
            "a used flow is not reused"
        );
        assert_eq!(reusable_id(&table, "bob", START), None);
    }

    #[test]
    fn a_flow_past_half_its_life_is_not_handed_out_again() {
        let table = FlowTable::default();
        table.insert(flow("f", "ada", START), START);
        assert!(
            reusable_id(
                &table,
                "ada",
                START + FLOW_LIFETIME / 2 - Duration::from_secs(1)
            )
            .is_some()
        );
        assert_eq!(reusable_id(&table, "ada", START + FLOW_LIFETIME / 2), None);
    }

    #[test]
    fn flows_gone_for_a_whole_lifetime_are_pruned_on_the_next_insert() {
        let table = FlowTable::default();
        table.insert(flow("old", "ada", START), START);
        let later = START + FLOW_LIFETIME * 2;
        table.insert(flow("new", "bob", later), later);
        assert_eq!(table.len(), 1);
        assert!(matches!(
            table.take("old", later),
            Err(AuthError::UnknownFlow)
        ));
        assert_eq!(reusable_id(&table, "ada", later), None);
    }
}
