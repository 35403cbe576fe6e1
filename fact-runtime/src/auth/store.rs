//! [`GrantStore`]: where users' grants live. [`MemoryGrantStore`] is the default;
//! [`SqlGrantStore`](crate::auth::SqlGrantStore) persists them encrypted. [`GrantLock`]: how a
//! store makes the changes of one user's grant happen one at a time across processes.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::auth::{AccessToken, AuthError, FlowStore, RefreshToken};

/// What a user has granted this application: the tokens the provider issued and the scopes they
/// cover. One grant per user. `Debug` shows neither token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Grant {
    /// The user who granted access.
    pub user_id: String,
    /// The bearer token handed to tools.
    pub access_token: AccessToken,
    /// The token that renews `access_token` when it expires, when the provider issued one.
    pub refresh_token: Option<RefreshToken>,
    /// The scopes the provider granted.
    pub scopes: Vec<String>,
    /// When `access_token` expires (since the Unix epoch); `None` when the provider did not say.
    pub expires_at: Option<Duration>,
}

impl Grant {
    /// A grant of `scopes` to `user_id`, with no refresh token and no known expiry.
    pub fn new(
        user_id: impl Into<String>,
        access_token: AccessToken,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            access_token,
            refresh_token: None,
            scopes: scopes.into_iter().map(Into::into).collect(),
            expires_at: None,
        }
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, token: RefreshToken) -> Self {
        self.refresh_token = Some(token);
        self
    }

    /// Sets when the access token expires (since the Unix epoch).
    #[must_use]
    pub fn with_expires_at(mut self, expires_at: Duration) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The `required` scopes this grant does not cover, in the order given.
    pub fn missing_scopes<'a>(&self, required: &'a [String]) -> Vec<&'a str> {
        required
            .iter()
            .filter(|scope| !self.scopes.contains(scope))
            .map(String::as_str)
            .collect()
    }
}

/// The future a [`GrantStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, AuthError>> + Send + 'a>>;

/// Keeps one [`Grant`] per user. Implement it to keep grants elsewhere (Redis, a secrets
/// manager); an implementation that writes grants outside the process should encrypt the
/// tokens, as [`SqlGrantStore`](crate::auth::SqlGrantStore) does.
///
/// ```
/// use fact_runtime::auth::{Grant, GrantStore, MemoryGrantStore};
/// use fact_runtime::AccessToken;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), fact_runtime::auth::AuthError> {
/// let store = MemoryGrantStore::default();
/// store.put(Grant::new("ada", AccessToken::new("t"), ["docs.read"])).await?;
/// assert_eq!(store.get("ada").await?.map(|g| g.scopes), Some(vec!["docs.read".to_owned()]));
/// assert!(store.remove("ada").await?);
/// assert!(store.get("ada").await?.is_none());
/// # Ok(())
/// # }
/// ```
pub trait GrantStore: Send + Sync + fmt::Debug {
    /// The grant of `user_id`, if any.
    fn get<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Grant>>;

    /// Stores `grant`, replacing the user's previous one.
    fn put(&self, grant: Grant) -> StoreFuture<'_, ()>;

    /// Deletes the grant of `user_id`; whether there was one.
    fn remove<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, bool>;

    /// Waits until no other process sharing this store is changing the grant of `user_id`,
    /// and keeps it so until the returned lock is released or dropped: so that replicas that
    /// find one grant expiring refresh it once, the others reading the refreshed grant after
    /// the lock. The wait must be bounded; a lock whose holder died must free itself.
    ///
    /// Within one process the manager already makes the changes of a grant one at a time;
    /// the default, for a store private to its process, is [`GrantLock::unshared`].
    ///
    /// # Errors
    ///
    /// [`AuthError::GrantBusy`] when the wait ran out, [`AuthError::Store`] when the store
    /// cannot lock.
    fn lock_grant<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, GrantLock> {
        let _ = user_id;
        Box::pin(async { Ok(GrantLock::unshared()) })
    }

    /// The [`FlowStore`] that keeps pending flows beside these grants, shared as they are:
    /// what a manager uses when no flow store is set. `None` (the default): flows in the
    /// manager's memory.
    fn flow_store(&self) -> Option<Arc<dyn FlowStore>> {
        None
    }
}

/// A lock on the changes of one user's grant, held across processes by a [`GrantStore`]
/// ([`GrantStore::lock_grant`]); [`release`](Self::release) it when the change is stored.
/// Dropping it releases it too, less promptly (a PostgreSQL lock then ends when its connection
/// is next used or closed).
///
/// ```
/// use fact_runtime::auth::GrantLock;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (released, was_released) = tokio::sync::oneshot::channel();
/// let lock = GrantLock::held_until(async move { let _ = released.send(()); });
/// // ... read the grant again, refresh it, store it ...
/// lock.release().await;
/// assert!(was_released.await.is_ok());
/// # }
/// ```
#[must_use = "the lock is released when dropped"]
pub struct GrantLock {
    release: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

impl GrantLock {
    /// A lock that holds nothing beyond the manager's own, for a store private to its process.
    pub fn unshared() -> Self {
        Self { release: None }
    }

    /// A lock held until `release` runs: the future owns whatever holds the lock (a
    /// transaction, a connection) and gives it up when awaited, or when dropped unawaited.
    pub fn held_until(release: impl Future<Output = ()> + Send + 'static) -> Self {
        Self {
            release: Some(Box::pin(release)),
        }
    }

    /// Releases the lock.
    pub async fn release(mut self) {
        if let Some(release) = self.release.take() {
            release.await;
        }
    }
}

impl fmt::Debug for GrantLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantLock")
            .field("shared", &self.release.is_some())
            .finish()
    }
}

/// Grants in this process's memory: the default store. Grants are lost on restart, and each
/// replica has its own.
#[derive(Default)]
pub struct MemoryGrantStore {
    grants: Mutex<HashMap<String, Grant>>,
}

impl MemoryGrantStore {
    fn grants(&self) -> std::sync::MutexGuard<'_, HashMap<String, Grant>> {
        // A panic while holding this lock cannot leave a map half-updated.
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryGrantStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryGrantStore")
            .field("grants", &self.grants().len())
            .finish()
    }
}

impl GrantStore for MemoryGrantStore {
    fn get<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, Option<Grant>> {
        let grant = self.grants().get(user_id).cloned();
        Box::pin(async move { Ok(grant) })
    }

    fn put(&self, grant: Grant) -> StoreFuture<'_, ()> {
        self.grants().insert(grant.user_id.clone(), grant);
        Box::pin(async { Ok(()) })
    }

    fn remove<'a>(&'a self, user_id: &'a str) -> StoreFuture<'a, bool> {
        let removed = self.grants().remove(user_id).is_some();
        Box::pin(async move { Ok(removed) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn missing_scopes_lists_what_the_grant_lacks_in_required_order() {
        let grant = Grant::new("u", AccessToken::new("t"), ["a", "c"]);
        assert_eq!(
            grant.missing_scopes(&scopes(&["c", "b", "a", "d"])),
            ["b", "d"]
        );
        assert!(grant.missing_scopes(&scopes(&["a"])).is_empty());
        assert!(grant.missing_scopes(&[]).is_empty());
    }

    #[test]
    fn grant_debug_shows_no_token() {
        let grant = Grant::new("u", AccessToken::new("access-secret"), ["a"])
            .with_refresh_token(RefreshToken::new("refresh-secret"));
        let debug = format!("{grant:?}");
        assert!(
            !debug.contains("access-secret") && !debug.contains("refresh-secret"),
            "{debug}"
        );
    }
}
