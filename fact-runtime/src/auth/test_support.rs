//! What the unit tests of `auth` share: managers on a manual clock, in memory.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oauth2::url::Url;

use crate::auth::{AuthorizationManager, MemoryFlowStore, MemoryGrantStore, OAuthConfig};
use crate::clock::ManualClock;

pub(super) const START: Duration = Duration::from_secs(1_700_000_000);

/// A token endpoint nobody listens on: exchanges fail without leaving the machine.
pub(super) const DEAD_TOKEN_URL: &str = "http://127.0.0.1:1/token";

fn config(token_url: &str) -> OAuthConfig {
    OAuthConfig::new(
        "client",
        "http://127.0.0.1/callback",
        "http://idp.test/authorize",
        token_url,
    )
    .expect("valid config")
    .with_client_secret("client-secret")
}

/// A manager at [`START`] on a manual clock, with its grant store.
pub(super) fn manager(
    token_url: &str,
) -> (AuthorizationManager, ManualClock, Arc<MemoryGrantStore>) {
    let clock = ManualClock::new(START);
    let store = Arc::new(MemoryGrantStore::default());
    let manager = AuthorizationManager::builder(config(token_url))
        .clock(Arc::new(clock.clone()))
        .grant_store(store.clone())
        .build()
        .expect("manager");
    (manager, clock, store)
}

/// A manager at [`START`] on a manual clock, with its flow store.
pub(super) fn manager_with_flows(
    token_url: &str,
) -> (AuthorizationManager, ManualClock, Arc<MemoryFlowStore>) {
    let clock = ManualClock::new(START);
    let flows = Arc::new(MemoryFlowStore::default());
    let manager = manager_on(token_url, Arc::clone(&flows), &clock);
    (manager, clock, flows)
}

/// Another manager on `clock` sharing `flows`, as a replica would.
pub(super) fn manager_on(
    token_url: &str,
    flows: Arc<MemoryFlowStore>,
    clock: &ManualClock,
) -> AuthorizationManager {
    AuthorizationManager::builder(config(token_url))
        .clock(Arc::new(clock.clone()))
        .flow_store(flows)
        .build()
        .expect("manager")
}

pub(super) fn scopes(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

pub(super) fn query(url: &str) -> HashMap<String, String> {
    Url::parse(url)
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
