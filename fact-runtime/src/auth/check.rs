//! The check before each call of a tool that requires auth: find the caller's grant, refresh
//! it when it is about to expire (once for all concurrent calls), check its scopes, and refuse
//! with the 401 or 403 that tells the caller how to authorize.

use crate::auth::manager::{GrantChange, grant_from, token_error};
use crate::auth::store::Grant;
use crate::auth::{AccessToken, AuthError, AuthorizationManager, REFRESH_MARGIN, RefreshToken};
use crate::error::{ErrorKind, ToolError};

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
            ToolError::fatal(format!(
                "Tool '{tool_name}' cannot be authorized: the grant store failed (see the server log)"
            ))
        })
    }

    /// Refreshes the grant of `user_id`, once for all the calls that find it expiring at the
    /// same time. A grant the provider refuses to refresh, or that has no refresh token, is
    /// removed; one that failed for want of a connection is kept for the next call.
    async fn refresh(
        &self,
        user_id: &str,
        tool_name: &str,
        required_scopes: &[String],
    ) -> Result<Grant, ToolError> {
        let change = GrantChange::of(&self.inner, user_id);
        let _one_at_a_time = change.lock().await;
        // Another call may have refreshed (or dropped) the grant while this one waited.
        let Some(grant) = self.stored_grant(user_id, tool_name).await? else {
            let reason = format!("user '{user_id}' has not granted access");
            return Err(self
                .needs_authorization(user_id, tool_name, required_scopes, &reason)
                .await);
        };
        if !self.is_expiring(&grant) {
            return Ok(grant);
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
                        ToolError::fatal(format!(
                            "Tool '{tool_name}' cannot be authorized: the grant store failed (see the server log)"
                        ))
                    })?;
                    tracing::info!(user = user_id, tool = tool_name, "grant refreshed");
                    return Ok(renewed);
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
        let reason =
            format!("the grant of user '{user_id}' expired and could not be refreshed ({failure})");
        Err(self
            .needs_authorization(user_id, tool_name, required_scopes, &reason)
            .await)
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
        let flow = match self.inner.flows.reusable(
            user_id,
            tool_name,
            scopes,
            self.inner.clock.now(),
        ) {
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
