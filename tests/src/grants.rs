//! Authorization without a provider: a manager whose grant store already holds a grant, for
//! tests and benches of the authorize stage that never exchange a code.

use std::sync::Arc;

use fact_runtime::auth::{Grant, GrantStore as _, MemoryGrantStore, OAuthConfig};
use fact_runtime::{AuthorizationManager, SharedClock};

/// A manager on `clock` whose in-memory store holds `grant`. Its provider's endpoints are on
/// loopback ports nobody listens on: a refused call still gets its authorization URL, and an
/// attempt to exchange or refresh fails at once without leaving the machine.
///
/// # Panics
///
/// Never for a valid grant: the configuration and the memory store cannot fail.
pub async fn manager_granting(grant: Grant, clock: SharedClock) -> AuthorizationManager {
    let store = Arc::new(MemoryGrantStore::default());
    store.put(grant).await.expect("a memory store keeps grants");
    let config = OAuthConfig::new(
        "fact-tests",
        "http://127.0.0.1:1/callback",
        "http://127.0.0.1:1/authorize",
        "http://127.0.0.1:1/token",
    )
    .expect("valid loopback URLs");
    AuthorizationManager::builder(config)
        .grant_store(store)
        .clock(clock)
        .build()
        .expect("an HTTP client builds")
}
