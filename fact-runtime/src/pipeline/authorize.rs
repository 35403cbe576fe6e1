//! The authorize stage: may this caller run this tool, and with which token?

use crate::auth::{AccessToken, AuthorizationManager};
use crate::call::ToolCall;
use crate::error::{ErrorKind, ToolError};
use crate::registry::RegisteredTool;

/// What the caller brought to authorize a call with.
#[derive(Debug, Default)]
pub(crate) struct Given {
    /// The user's token, obtained by the caller.
    pub(crate) token: Option<AccessToken>,
    /// Whether the caller alone authorizes (the executor's grants are not to be used).
    pub(crate) only: bool,
}

/// Decides whether a call may run. Tools that declare neither `requires_auth` nor `scopes` are
/// open. The others need the calling user's grant, checked (and refreshed) by the
/// [`AuthorizationManager`]. Deny by default: with no manager configured, a tool that requires
/// authorization is refused with 401 rather than run.
#[derive(Debug, Default)]
pub(crate) struct Authorizer {
    manager: Option<AuthorizationManager>,
}

impl Authorizer {
    pub(crate) fn new(manager: Option<AuthorizationManager>) -> Self {
        Self { manager }
    }

    pub(crate) fn manager(&self) -> Option<&AuthorizationManager> {
        self.manager.as_ref()
    }

    /// The caller's access token for `tool`, `None` for an open tool, or the refusal. A token
    /// the caller `given` ([`CallOptions::access_token`](crate::CallOptions::access_token):
    /// the Engine authorized its user) is the tool's, and the manager is not asked; nor is it
    /// when the caller authorizes alone and brought none.
    pub(crate) async fn authorize(
        &self,
        tool: &RegisteredTool,
        call: &ToolCall,
        given: Given,
    ) -> Result<Option<AccessToken>, ToolError> {
        if !tool.info.requires_auth && tool.info.scopes.is_empty() {
            return Ok(None);
        }
        // A call the Arcade Engine runs first is authorized there: the Engine answers with the
        // authorization URL its user must visit. Should it fall back here, the local tool's
        // own check runs then.
        #[cfg(feature = "arcade")]
        if matches!(
            tool.runs,
            crate::registry::Runs::Remote(_)
                | crate::registry::Runs::Both {
                    remote_first: true,
                    ..
                }
        ) {
            return Ok(None);
        }
        if given.token.is_some() {
            return Ok(given.token);
        }
        if given.only {
            return Err(ToolError::new(
                ErrorKind::Unauthorized,
                format!(
                    "Tool '{}' requires authorization, and the caller brought no token for it{}",
                    tool.info.name,
                    tool.info
                        .auth_provider
                        .as_deref()
                        .map_or_else(String::new, |provider| format!(" (provider '{provider}')"))
                ),
            ));
        }
        let Some(manager) = &self.manager else {
            let who = call.user_id.as_deref().map_or_else(
                || "an anonymous caller".to_owned(),
                |user| format!("user '{user}'"),
            );
            return Err(ToolError::new(
                ErrorKind::Unauthorized,
                format!(
                    "Tool '{}' requires authorization, and no authorization provider is configured to grant it to {who}",
                    tool.info.name
                ),
            ));
        };
        // Boxed: the grant store's future is large, and most calls never make it; inline, every
        // call's future would carry its size.
        Box::pin(manager.authorize(call.user_id.as_deref(), &tool.info.name, &tool.info.scopes))
            .await
            .map(Some)
    }
}
