//! The check before each call of a tool that requires auth: find the caller's grant, refresh
//! it when it is about to expire (once for all concurrent calls), check its scopes, and refuse
//! with the 401 or 403 that tells the caller how to authorize.

use std::time::Duration;

use crate::auth::manager::{GrantChange, grant_from, token_error};
use crate::auth::store::Grant;
use crate::auth::{AccessToken, AuthError, AuthorizationManager, REFRESH_MARGIN, RefreshToken};
use crate::error::{ErrorKind, ToolError};

/// When a call refused because another replica held the caller's grant too long may retry.
const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

fn store_failed(tool_name: &str) -> ToolError {
    ToolError::fatal(format!(
        "Tool '{tool_name}' cannot be authorized: the grant store failed (see the server log)"
    ))
}

impl AuthorizationManager {
    /// The check before each call of a tool that requires auth: the caller's access token when
    /// a live grant covers `required_scopes`, refreshing an expiring grant first; else the 401
    /// or 403 that tells the caller how to authorize.
    pub(crate) async fn authorize(
        &self,
        user_id: Option<&str>,
        tool_name: &str,
        required_scopes: &[String],
    ) -> Result<AccessToken, ToolError> {
        let Some(user_id) = user_id else {
            return Err(ToolError::new(
                ErrorKind::Unauthorized,
                format!(
                    "Tool '{tool_name}' requires authorization: an authenticated user is required, and the call names none"
                ),
            ));
        };
        let mut grant = match self.stored_grant(user_id, tool_name).await? {
            Some(grant) => grant,
            None => {
                let reason = format!("user '{user_id}' has not granted access");
                return Err(self
                    .needs_authorization(user_id, tool_name, required_scopes, &reason)
                    .await);
            }
        };
        if self.is_expiring(&grant) {
            grant = self.refresh(user_id, tool_name, required_scopes).await?;
        }
        let missing = grant.missing_scopes(required_scopes);
        if !missing.is_empty() {
            return Err(self
                .insufficient_scopes(&grant, tool_name, required_scopes, &missing)
                .await);
        }
        Ok(grant.access_token)
    }

    fn is_expiring(&self, grant: &Grant) -> bool {
        grant
            .expires_at
            .is_some_and(|expires_at| self.inner.clock.now() + REFRESH_MARGIN >= expires_at)
    }

    async fn stored_grant(
        &self,
        user_id: &str,
        tool_name: &str,
    ) -> Result<Option<Grant>, ToolError> {
        self.inner.store.get(user_id).await.map_err(|error| {
            tracing::error!(user = user_id, tool = tool_name, %error, "grant store failed");
            store_failed(tool_name)
        })
    }

    /// Refreshes the grant of `user_id`, once for all the calls that find it expiring at the
    /// same time, in this process and in every other sharing the grant store. A grant the
    /// provider refuses to refresh, or that has no refresh token, is removed; one that failed
    /// for want of a connection is kept for the next call.
    async fn refresh(
        &self,
        user_id: &str,
        tool_name: &str,
        required_scopes: &[String],
    ) -> Result<Grant, ToolError> {
        let change = GrantChange::begin(&self.inner, user_id)
            .await
            .map_err(|error| {
                tracing::error!(user = user_id, tool = tool_name, %error, "cannot lock a grant to refresh it");
                match error {
                    AuthError::GrantBusy { .. } => ToolError::unavailable(
                        format!("Tool '{tool_name}' cannot be authorized now: {error}"),
                        BUSY_RETRY_AFTER,
                    ),
                    _ => store_failed(tool_name),
                }
            })?;
        let refreshed = self.refresh_locked(user_id, tool_name).await;
        change.end().await;
        match refreshed? {
            Ok(grant) => Ok(grant),
            // A new flow is started outside the lock: the grant is not changed by it.
            Err(reason) => Err(self
                .needs_authorization(user_id, tool_name, required_scopes, &reason)
                .await),
        }
    }

    /// The refresh, under the grant's lock: the grant, fresh; or why the user must authorize
    /// again.
    async fn refresh_locked(
        &self,
        user_id: &str,
        tool_name: &str,
    ) -> Result<Result<Grant, String>, ToolError> {
        // Another call, here or on another replica, may have refreshed (or dropped) the grant
        // while this one waited for the lock.
        let Some(grant) = self.stored_grant(user_id, tool_name).await? else {
            return Ok(Err(format!("user '{user_id}' has not granted access")));
        };
        if !self.is_expiring(&grant) {
            return Ok(Ok(grant));
        }
        let failure = match grant.refresh_token.clone() {
            None => AuthError::Refresh {
                user_id: user_id.to_owned(),
                error: "expired".to_owned(),
                description: Some("the provider issued no refresh token".to_owned()),
            },
            Some(refresh_token) => match self.refresh_grant(&grant, refresh_token).await {
                Ok(renewed) => {
                    self.inner.store.put(renewed.clone()).await.map_err(|error| {
                        tracing::error!(user = user_id, %error, "cannot store a refreshed grant");
                        store_failed(tool_name)
                    })?;
                    tracing::info!(user = user_id, tool = tool_name, "grant refreshed");
                    return Ok(Ok(renewed));
                }
                Err(error) => error,
            },
        };
        tracing::warn!(user = user_id, tool = tool_name, error = %failure, "grant refresh failed");
        if matches!(failure, AuthError::Refresh { .. })
            && let Err(error) = self.inner.store.remove(user_id).await
        {
            tracing::error!(user = user_id, %error, "cannot remove a dead grant");
        }
        Ok(Err(format!(
            "the grant of user '{user_id}' expired and could not be refreshed ({failure})"
        )))
    }

    async fn refresh_grant(
        &self,
        grant: &Grant,
        refresh_token: RefreshToken,
    ) -> Result<Grant, AuthError> {
        let now = self.inner.clock.now();
        let token = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
        let response = self
            .inner
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.inner.http)
            .await
            .map_err(|error| {
                token_error(error, |error, description| AuthError::Refresh {
                    user_id: grant.user_id.clone(),
                    error,
                    description,
                })
            })?;
        // RFC 6749 section 6: omitted scopes are those of the original grant.
        Ok(grant_from(
            &grant.user_id,
            &response,
            &grant.scopes,
            Some(refresh_token),
            now,
        ))
    }

    /// 401 with a flow for exactly the tool's scopes in the metadata.
    async fn needs_authorization(
        &self,
        user_id: &str,
        tool_name: &str,
        scopes: &[String],
        reason: &str,
    ) -> ToolError {
        let error = ToolError::new(
            ErrorKind::Unauthorized,
            format!(
                "Tool '{tool_name}' requires authorization: {reason}. Open authorization_url to authorize."
            ),
        );
        self.with_flow(error, user_id, tool_name, scopes).await
    }

    /// 403 naming the missing scopes, with a flow that asks for them together with those
    /// already granted: a new grant replaces the old one, so asking for the missing scopes
    /// alone would take away what the user granted before.
    async fn insufficient_scopes(
        &self,
        grant: &Grant,
        tool_name: &str,
        required: &[String],
        missing: &[&str],
    ) -> ToolError {
        let listed = missing
            .iter()
            .map(|scope| format!("'{scope}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let error = ToolError::new(
            ErrorKind::Security,
            format!(
                "Tool '{tool_name}' requires scopes that the grant of user '{}' does not cover: missing scopes [{listed}]. Open authorization_url to grant them.",
                grant.user_id
            ),
        )
        .with_metadata("missing_scopes", missing.to_vec());
        let mut wanted = grant.scopes.clone();
        wanted.extend(
            required
                .iter()
                .filter(|s| !grant.scopes.contains(s))
                .cloned(),
        );
        self.with_flow(error, &grant.user_id, tool_name, &wanted)
            .await
    }

    async fn with_flow(
        &self,
        error: ToolError,
        user_id: &str,
        tool_name: &str,
        scopes: &[String],
    ) -> ToolError {
        let reusable = self
            .inner
            .flows
            .reusable(user_id, tool_name, scopes, self.inner.clock.now())
            .await
            .unwrap_or_else(|error| {
                tracing::error!(user = user_id, tool = tool_name, %error, "cannot read the flow store");
                None
            });
        let flow = match reusable {
            Some(flow) => flow,
            None => match self
                .initiate_authorization(user_id, tool_name, scopes)
                .await
            {
                Ok(flow) => flow,
                Err(failure) => {
                    tracing::error!(user = user_id, tool = tool_name, error = %failure, "cannot start an authorization flow");
                    return error;
                }
            },
        };
        error
            .with_metadata("authorization_url", flow.authorization_url)
            .with_metadata("flow_id", flow.flow_id)
            .with_metadata("flow_expires_at", flow.expires_at.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::GrantStore as _;
    use crate::auth::manager::lock;
    use crate::auth::test_support::{
        DEAD_TOKEN_URL, START, manager, manager_with_flows, query, scopes,
    };
    use oauth2::basic::BasicTokenResponse;

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
        let (manager, _, flows) = manager_with_flows(DEAD_TOKEN_URL);
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
        assert_eq!(flows.len(), 1);
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
