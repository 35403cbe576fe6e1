//! [`MemoryFlowStore`]: pending flows in this process's memory, single-use, expiring, bounded.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::auth::flows::{FLOW_LIFETIME, FlowStore, MAX_FLOWS, PendingFlow, reusable_at};
use crate::auth::store::StoreFuture;
use crate::auth::{AuthError, AuthorizationFlow, FlowStatus};

/// Pending flows in this process's memory: the default [`FlowStore`] when grants are not kept
/// in a database. A callback must reach the process that started its flow. Every operation is
/// O(1) (amortized), so a flood of refused calls costs each call the same.
///
/// ```
/// use std::sync::Arc;
/// use fact_runtime::auth::{AuthError, AuthorizationManager, MemoryFlowStore, OAuthConfig};
///
/// # fn main() -> Result<(), AuthError> {
/// let config = OAuthConfig::new("c", "https://app.example/cb", "https://p.example/a", "https://p.example/t")?;
/// let manager = AuthorizationManager::builder(config)
///     .flow_store(Arc::new(MemoryFlowStore::default().with_max_flows(1_000)))
///     .build()?;
/// # Ok(())
/// # }
/// ```
pub struct MemoryFlowStore {
    flows: Mutex<Flows>,
    max_flows: usize,
}

impl Default for MemoryFlowStore {
    fn default() -> Self {
        Self {
            flows: Mutex::default(),
            max_flows: MAX_FLOWS,
        }
    }
}

impl fmt::Debug for MemoryFlowStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFlowStore")
            .field("flows", &self.len())
            .field("max_flows", &self.max_flows)
            .finish()
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
            Self::Pending(pending) => pending.flow.expires_at,
            Self::Used { flow, .. } => flow.expires_at,
        }
    }
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
        if let Some(FlowSlot::Pending(pending)) = self.by_id.remove(&id) {
            self.forget_latest(&pending.flow);
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

impl MemoryFlowStore {
    /// Keeps at most `max_flows` flows (default [`MAX_FLOWS`]), pending and used together;
    /// past it the oldest is dropped.
    #[must_use]
    pub fn with_max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
        self
    }

    /// Flows held, pending or used.
    pub fn len(&self) -> usize {
        self.flows().by_id.len()
    }

    /// Whether no flow is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert_now(&self, pending: PendingFlow, now: Duration) {
        let mut flows = self.flows();
        while flows
            .oldest_expiry()
            .is_some_and(|expires_at| expires_at + FLOW_LIFETIME <= now)
        {
            flows.pop_oldest();
        }
        while flows.by_id.len() >= self.max_flows {
            flows.pop_oldest();
        }
        let id = pending.flow.flow_id.clone();
        let key = (pending.flow.user_id.clone(), pending.flow.tool_name.clone());
        flows.order.push_back(id.clone());
        flows.latest.insert(key, id.clone());
        flows.by_id.insert(id, FlowSlot::Pending(pending));
    }

    fn claim_now(&self, flow_id: &str, now: Duration) -> Result<PendingFlow, AuthError> {
        let mut flows = self.flows();
        let slot = flows.by_id.get_mut(flow_id).ok_or(AuthError::UnknownFlow)?;
        let expires_at = slot.expires_at();
        let pending = match slot {
            FlowSlot::Used { .. } => return Err(AuthError::FlowUsed),
            FlowSlot::Pending(pending) if now >= expires_at => {
                return Err(AuthError::FlowExpired {
                    user_id: pending.flow.user_id.clone(),
                    tool_name: pending.flow.tool_name.clone(),
                });
            }
            FlowSlot::Pending(pending) => {
                let used = FlowSlot::Used {
                    flow: pending.flow.clone(),
                    outcome: FlowStatus::Exchanging,
                };
                match std::mem::replace(slot, used) {
                    FlowSlot::Pending(pending) => pending,
                    FlowSlot::Used { .. } => return Err(AuthError::FlowUsed),
                }
            }
        };
        flows.forget_latest(&pending.flow);
        Ok(pending)
    }

    fn settle_now(&self, flow_id: &str, status: FlowStatus) {
        let mut flows = self.flows();
        if let Some(FlowSlot::Used { outcome, .. }) = flows.by_id.get_mut(flow_id)
            && *outcome == FlowStatus::Exchanging
        {
            *outcome = status;
        }
    }

    fn status_now(&self, flow_id: &str, now: Duration) -> Option<(AuthorizationFlow, FlowStatus)> {
        let flows = self.flows();
        let (flow, status) = match flows.by_id.get(flow_id)? {
            FlowSlot::Pending(pending) => (&pending.flow, FlowStatus::Pending),
            FlowSlot::Used { flow, outcome } => (flow, outcome.clone()),
        };
        Some((flow.clone(), status.as_of(flow.expires_at, now)))
    }

    fn reusable_now(
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
            FlowSlot::Pending(pending) if reusable_at(&pending.flow, scopes, now) => {
                Some(pending.flow.clone())
            }
            _ => None,
        }
    }

    fn flows(&self) -> MutexGuard<'_, Flows> {
        // Every critical section leaves the table consistent, so a panic elsewhere poisons
        // nothing.
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FlowStore for MemoryFlowStore {
    fn insert(&self, flow: PendingFlow, now: Duration) -> StoreFuture<'_, ()> {
        self.insert_now(flow, now);
        Box::pin(async { Ok(()) })
    }

    fn claim<'a>(&'a self, flow_id: &'a str, now: Duration) -> StoreFuture<'a, PendingFlow> {
        let claimed = self.claim_now(flow_id, now);
        Box::pin(async move { claimed })
    }

    fn settle<'a>(&'a self, flow_id: &'a str, outcome: FlowStatus) -> StoreFuture<'a, ()> {
        self.settle_now(flow_id, outcome);
        Box::pin(async { Ok(()) })
    }

    fn status<'a>(
        &'a self,
        flow_id: &'a str,
        now: Duration,
    ) -> StoreFuture<'a, Option<(AuthorizationFlow, FlowStatus)>> {
        let status = self.status_now(flow_id, now);
        Box::pin(async move { Ok(status) })
    }

    fn reusable<'a>(
        &'a self,
        user_id: &'a str,
        tool_name: &'a str,
        scopes: &'a [String],
        now: Duration,
    ) -> StoreFuture<'a, Option<AuthorizationFlow>> {
        let flow = self.reusable_now(user_id, tool_name, scopes, now);
        Box::pin(async move { Ok(flow) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::PkceVerifier;

    const START: Duration = Duration::from_secs(1_700_000_000);

    fn flow(id: &str, user: &str, now: Duration) -> PendingFlow {
        PendingFlow::new(
            AuthorizationFlow {
                flow_id: id.to_owned(),
                authorization_url: format!("https://idp.test/authorize?state={id}"),
                expires_at: now + FLOW_LIFETIME,
                user_id: user.to_owned(),
                tool_name: "Docs.Read".to_owned(),
                scopes: vec!["docs.read".to_owned()],
            },
            PkceVerifier::new(format!("verifier-{id}")),
        )
    }

    fn reusable_id(store: &MemoryFlowStore, user: &str, now: Duration) -> Option<String> {
        store
            .reusable_now(user, "Docs.Read", &["docs.read".to_owned()], now)
            .map(|flow| flow.flow_id)
    }

    #[test]
    fn a_full_store_drops_its_oldest_flow_first() {
        let store = MemoryFlowStore::default().with_max_flows(100);
        for n in 0..100 {
            store.insert_now(flow(&format!("f{n}"), &format!("u{n}"), START), START);
        }
        store.insert_now(flow("newest", "someone", START), START);
        assert_eq!(store.len(), 100);
        assert!(matches!(
            store.claim_now("f0", START),
            Err(AuthError::UnknownFlow)
        ));
        assert_eq!(reusable_id(&store, "u0", START), None);
        assert!(store.claim_now("f1", START).is_ok());
        assert!(store.claim_now("newest", START).is_ok());
    }

    #[test]
    fn the_default_bound_is_max_flows() {
        let store = MemoryFlowStore::default();
        for n in 0..=MAX_FLOWS {
            store.insert_now(flow(&format!("f{n}"), "ada", START), START);
        }
        assert_eq!(store.len(), MAX_FLOWS);
    }

    #[test]
    fn only_the_latest_pending_flow_of_a_user_and_tool_is_reused() {
        let store = MemoryFlowStore::default();
        store.insert_now(flow("first", "ada", START), START);
        store.insert_now(flow("second", "ada", START), START);
        assert_eq!(reusable_id(&store, "ada", START).as_deref(), Some("second"));
        assert!(store.claim_now("second", START).is_ok());
        assert_eq!(
            reusable_id(&store, "ada", START),
            None,
            "a used flow is not reused"
        );
        assert_eq!(reusable_id(&store, "bob", START), None);
    }

    #[test]
    fn a_flow_past_half_its_life_is_not_handed_out_again() {
        let store = MemoryFlowStore::default();
        store.insert_now(flow("f", "ada", START), START);
        let almost_half = START + FLOW_LIFETIME / 2 - Duration::from_secs(1);
        assert!(reusable_id(&store, "ada", almost_half).is_some());
        assert_eq!(reusable_id(&store, "ada", START + FLOW_LIFETIME / 2), None);
    }

    #[test]
    fn flows_gone_for_a_whole_lifetime_are_pruned_on_the_next_insert() {
        let store = MemoryFlowStore::default();
        store.insert_now(flow("old", "ada", START), START);
        let later = START + FLOW_LIFETIME * 2;
        store.insert_now(flow("new", "bob", later), later);
        assert_eq!(store.len(), 1);
        assert!(matches!(
            store.claim_now("old", later),
            Err(AuthError::UnknownFlow)
        ));
        assert_eq!(reusable_id(&store, "ada", later), None);
    }

    #[test]
    fn a_settled_flow_keeps_its_outcome_and_an_unsettled_claim_expires_late() {
        let store = MemoryFlowStore::default();
        store.insert_now(flow("done", "ada", START), START);
        store.insert_now(flow("stuck", "bob", START), START);
        assert!(store.claim_now("done", START).is_ok());
        assert!(store.claim_now("stuck", START).is_ok());
        store.settle_now("done", FlowStatus::Completed);
        // A second settle (a late duplicate) does not overwrite the outcome.
        store.settle_now("done", FlowStatus::Failed("late".to_owned()));
        let status = |id: &str, now| store.status_now(id, now).map(|(_, status)| status);
        assert_eq!(status("done", START), Some(FlowStatus::Completed));
        assert_eq!(status("stuck", START), Some(FlowStatus::Exchanging));
        let past_expiry = START + FLOW_LIFETIME + Duration::from_secs(60);
        assert_eq!(status("stuck", past_expiry), Some(FlowStatus::Exchanging));
        let long_past = START + FLOW_LIFETIME + UNSETTLED;
        assert_eq!(status("stuck", long_past), Some(FlowStatus::Expired));
        assert_eq!(status("done", long_past), Some(FlowStatus::Completed));
    }

    const UNSETTLED: Duration = Duration::from_secs(120);
}
