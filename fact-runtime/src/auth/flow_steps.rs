//! The steps of an authorization flow at the [`AuthorizationManager`]: start it, complete or
//! abandon it when the provider sends the user back, and tell a waiting client where it stands.
//! The flow itself waits in the manager's [`FlowStore`](crate::auth::FlowStore), so that any
//! replica sharing the store may take any step.

use std::time::Duration;

use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope};

use crate::auth::flows::{AuthorizationFlow, FLOW_LIFETIME, FlowStatus, PendingFlow};
use crate::auth::manager::{GrantChange, grant_from, token_error};
use crate::auth::{AuthError, AuthorizationManager, FLOW_POLL_INTERVAL, GrantInfo, PkceVerifier};

impl AuthorizationManager {
    /// Starts a flow in which `user_id` grants `scopes` for `tool_name`. Send the user to the
    /// flow's `authorization_url`; finish with [`complete_authorization`](Self::complete_authorization).
    ///
    /// # Errors
    ///
    /// [`AuthError::Store`] when the flow store cannot keep the flow.
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
            expires_at: whole_millis(now + FLOW_LIFETIME),
            user_id: user_id.to_owned(),
            tool_name: tool_name.to_owned(),
            scopes,
        };
        let pending = PendingFlow::new(flow.clone(), PkceVerifier::new(verifier.secret().clone()));
        self.inner.flows.insert(pending, now).await?;
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
    /// Of concurrent completions of one flow, on any replicas sharing the flow store, exactly
    /// one reaches the provider.
    ///
    /// # Errors
    ///
    /// [`AuthError::UnknownFlow`], [`FlowUsed`](AuthError::FlowUsed) or
    /// [`FlowExpired`](AuthError::FlowExpired) for a flow that cannot be completed;
    /// [`Exchange`](AuthError::Exchange) when the provider refuses the code;
    /// [`Provider`](AuthError::Provider) when it cannot be reached; [`Store`](AuthError::Store)
    /// when the flow cannot be read or the grant saved.
    pub async fn complete_authorization(
        &self,
        flow_id: &str,
        code: &str,
    ) -> Result<GrantInfo, AuthError> {
        let now = self.inner.clock.now();
        let pending = self.inner.flows.claim(flow_id, now).await?;
        self.inner.flow_changed.notify_waiters();
        let outcome = self.exchange(pending, code, now).await;
        let status = match &outcome {
            Ok(_) => FlowStatus::Completed,
            Err(error) => FlowStatus::Failed(error.to_string()),
        };
        self.settle(flow_id, status).await;
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
    pub async fn abandon_authorization(
        &self,
        flow_id: &str,
        reason: &str,
    ) -> Result<(), AuthError> {
        let pending = self
            .inner
            .flows
            .claim(flow_id, self.inner.clock.now())
            .await?;
        tracing::info!(user = %pending.flow.user_id, tool = %pending.flow.tool_name, reason, "authorization refused at the provider");
        self.settle(flow_id, FlowStatus::Failed(reason.to_owned()))
            .await;
        Ok(())
    }

    /// Records how flow `flow_id` ended and wakes the clients waiting on it here (those on
    /// other replicas see it at their next read of the store). A store that fails to record
    /// it leaves the flow exchanging until it reads as expired; the grant, if any, stands.
    async fn settle(&self, flow_id: &str, status: FlowStatus) {
        if let Err(error) = self.inner.flows.settle(flow_id, status).await {
            tracing::error!(%error, "cannot record how an authorization flow ended");
        }
        self.inner.flow_changed.notify_waiters();
    }

    /// Exchanges `code` for the tokens of `pending` and stores the grant.
    async fn exchange(
        &self,
        pending: PendingFlow,
        code: &str,
        now: Duration,
    ) -> Result<GrantInfo, AuthError> {
        let AuthorizationFlow {
            user_id, tool_name, ..
        } = &pending.flow;
        let verifier = PkceCodeVerifier::new(pending.verifier.secret().to_owned());
        let response = self
            .inner
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
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
        let grant = grant_from(user_id, &response, &pending.flow.scopes, None, now);
        let change = GrantChange::begin(&self.inner, user_id).await?;
        let stored = self.inner.store.put(grant.clone()).await;
        change.end().await;
        stored?;
        tracing::info!(user = %user_id, tool = %tool_name, scopes = ?grant.scopes, "authorization completed");
        Ok(GrantInfo::from(&grant))
    }

    /// Flow `flow_id` and where it stands, while the flow store holds it (a flow is forgotten
    /// a lifetime after it expired or was used). Any replica sharing the store answers alike.
    ///
    /// # Errors
    ///
    /// [`AuthError::Store`] when the flow store cannot be read.
    pub async fn flow_status(
        &self,
        flow_id: &str,
    ) -> Result<Option<(AuthorizationFlow, FlowStatus)>, AuthError> {
        self.inner
            .flows
            .status(flow_id, self.inner.clock.now())
            .await
    }

    /// Flow `flow_id` and where it stands once it settles (completed, failed or expired), or
    /// after `wait`, whichever comes first: for a client that long-polls the flow it started.
    /// A flow settled by this manager wakes the wait at once; one settled by another replica
    /// is seen at the next read of the store, every [`FLOW_POLL_INTERVAL`].
    ///
    /// # Errors
    ///
    /// [`AuthError::Store`] when the flow store cannot be read.
    pub async fn wait_for_flow(
        &self,
        flow_id: &str,
        wait: Duration,
    ) -> Result<Option<(AuthorizationFlow, FlowStatus)>, AuthError> {
        let end = tokio::time::Instant::now() + wait;
        loop {
            let changed = self.inner.flow_changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let Some(status) = self.flow_status(flow_id).await? else {
                return Ok(None);
            };
            if status.1.is_settled() {
                return Ok(Some(status));
            }
            let now = tokio::time::Instant::now();
            if now >= end {
                return Ok(Some(status));
            }
            // Expiry is not an event: wake at the flow's expiry too.
            let expires_in = status.0.expires_at.saturating_sub(self.inner.clock.now());
            let until = end.min(now + expires_in).min(now + FLOW_POLL_INTERVAL);
            // Either way, read the store again.
            let _ = tokio::time::timeout_at(until, changed).await;
        }
    }
}

/// `time` without its part below a millisecond: what every flow store keeps.
fn whole_millis(time: Duration) -> Duration {
    time - Duration::from_nanos(u64::from(time.subsec_nanos() % 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::test_support::{
        DEAD_TOKEN_URL, START, manager, manager_on, manager_with_flows, query,
    };
    use std::sync::Arc;

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
        let started = tokio::time::Instant::now();
        manager
            .abandon_authorization(&flow.flow_id, "access_denied")
            .await
            .expect("a pending flow");
        let (_, status) = wait.await.expect("store").expect("the flow is held");
        assert_eq!(status, FlowStatus::Failed("access_denied".to_owned()));
        assert_eq!(
            tokio::time::Instant::now(),
            started,
            "woken by this manager at once, not by a poll"
        );
        // A pending flow's waiter gives up at `wait` with the flow still pending.
        let other = manager
            .initiate_authorization("bob", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        let (_, status) = manager
            .wait_for_flow(&other.flow_id, Duration::from_secs(5))
            .await
            .expect("store")
            .expect("held");
        assert_eq!(status, FlowStatus::Pending);
        // Past its lifetime (on the manager's clock), it is expired.
        clock.advance(FLOW_LIFETIME);
        let status = manager.flow_status(&other.flow_id).await.expect("store");
        assert_eq!(status.map(|(_, status)| status), Some(FlowStatus::Expired));
        assert!(
            manager
                .flow_status("unknown")
                .await
                .expect("store")
                .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_sees_a_flow_settled_by_another_manager_of_its_store_at_the_next_poll() {
        let (a, clock, flows) = manager_with_flows(DEAD_TOKEN_URL);
        let b = manager_on(DEAD_TOKEN_URL, Arc::clone(&flows), &clock);
        let flow = a
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        let wait = a.wait_for_flow(&flow.flow_id, Duration::from_secs(30));
        tokio::pin!(wait);
        assert!(futures::FutureExt::now_or_never(wait.as_mut()).is_none());
        let started = tokio::time::Instant::now();
        b.abandon_authorization(&flow.flow_id, "access_denied")
            .await
            .expect("b finds a's flow");
        let (_, status) = wait.await.expect("store").expect("held");
        assert_eq!(status, FlowStatus::Failed("access_denied".to_owned()));
        let waited = tokio::time::Instant::now() - started;
        assert!(
            waited <= FLOW_POLL_INTERVAL,
            "seen within one poll interval, not at the end of the wait: {waited:?}"
        );
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

    #[test]
    fn flow_expiry_is_kept_in_whole_milliseconds() {
        let time = Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(
            whole_millis(time),
            Duration::new(1_700_000_000, 123_000_000)
        );
        assert_eq!(whole_millis(START), START);
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
        let (manager, clock, flows) = manager_with_flows(DEAD_TOKEN_URL);
        let old = manager
            .initiate_authorization("ada", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        clock.advance(FLOW_LIFETIME * 2);
        manager
            .initiate_authorization("bob", "Docs.Read", ["docs.read"])
            .await
            .expect("flow");
        assert_eq!(flows.len(), 1);
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
        let status = manager.flow_status(&flow.flow_id).await.expect("store");
        assert!(
            matches!(status, Some((_, FlowStatus::Failed(ref reason))) if reason.contains("token endpoint")),
            "{status:?}"
        );
    }
}
