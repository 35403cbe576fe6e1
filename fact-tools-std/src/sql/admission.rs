//! [`Admission`]: how many statements each user may run at once, so that one caller cannot
//! take every connection of the pool and starve the others.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Per-user turns: at most `per_user` statements of one user run at once; a call past that
/// waits for one of them to finish, for at most `wait`.
///
/// Memory is bounded by the users with a statement running or waiting: a user's entry is
/// removed when its last turn ends.
#[derive(Debug)]
pub(crate) struct Admission {
    per_user: u32,
    wait: Duration,
    users: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// One user's turn to run a statement; it ends when dropped.
#[derive(Debug)]
pub(crate) struct Turn {
    permit: Option<OwnedSemaphorePermit>,
    admission: Arc<Admission>,
    user: String,
}

/// Why a call got no turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NoTurn {
    pub(crate) running: u32,
    pub(crate) waited: Duration,
}

impl Admission {
    pub(crate) fn new(per_user: u32, wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            per_user: per_user.max(1),
            wait,
            users: Mutex::new(HashMap::new()),
        })
    }

    /// Waits for a turn of `user` (anonymous callers share one user, the empty name).
    pub(crate) async fn admit(self: &Arc<Self>, user: &str) -> Result<Turn, NoTurn> {
        let semaphore = {
            let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                users
                    .entry(user.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_user as usize))),
            )
        };
        let mut turn = Turn {
            permit: None,
            admission: Arc::clone(self),
            user: user.to_owned(),
        };
        // The semaphore is never closed, so the only failure is the wait running out; `turn`
        // is dropped then and removes the entry if nobody else holds it.
        match tokio::time::timeout(self.wait, Arc::clone(&semaphore).acquire_owned()).await {
            Ok(Ok(permit)) => {
                turn.permit = Some(permit);
                drop(semaphore);
                Ok(turn)
            }
            _ => {
                drop(semaphore);
                Err(NoTurn {
                    running: self.per_user,
                    waited: self.wait,
                })
            }
        }
    }

    /// How many users have an entry (a statement running or waiting).
    #[cfg(test)]
    pub(crate) fn users(&self) -> usize {
        self.users
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut users = self
            .admission
            .users
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map holds the semaphore: nobody is running or waiting as this user.
        if users
            .get(&self.user)
            .is_some_and(|semaphore| Arc::strong_count(semaphore) == 1)
        {
            users.remove(&self.user);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_user_past_their_share_waits_then_is_told_no() {
        let admission = Admission::new(2, Duration::from_secs(2));
        let first = admission.admit("alice").await.expect("first turn");
        let _second = admission.admit("alice").await.expect("second turn");
        let refused = admission
            .admit("alice")
            .await
            .expect_err("a third waits out");
        assert_eq!(
            refused,
            NoTurn {
                running: 2,
                waited: Duration::from_secs(2)
            }
        );
        // Another user is not held up by alice's share.
        let bob = admission.admit("bob").await.expect("bob's turn");
        drop(bob);
        drop(first);
        let _third = admission.admit("alice").await.expect("a turn freed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_call_gets_the_turn_that_ends() {
        let admission = Admission::new(1, Duration::from_secs(5));
        let first = admission.admit("alice").await.expect("first turn");
        let waiting = tokio::spawn({
            let admission = Arc::clone(&admission);
            async move { admission.admit("alice").await.map(drop) }
        });
        tokio::task::yield_now().await;
        drop(first);
        assert_eq!(waiting.await.expect("joins"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn entries_are_removed_when_their_last_turn_ends() {
        let admission = Admission::new(2, Duration::from_millis(10));
        let a = admission.admit("alice").await.expect("turn");
        let b = admission.admit("alice").await.expect("turn");
        let _ = admission.admit("alice").await.expect_err("waits out");
        assert_eq!(admission.users(), 1);
        drop(a);
        assert_eq!(admission.users(), 1);
        drop(b);
        assert_eq!(admission.users(), 0);
        for user in 0..100 {
            drop(admission.admit(&user.to_string()).await.expect("turn"));
        }
        assert_eq!(admission.users(), 0);
    }
}
