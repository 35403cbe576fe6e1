//! The authorize stage: may this caller run this tool?

use crate::call::ToolCall;
use crate::error::{ErrorKind, ToolError};
use crate::registry::RegisteredTool;

/// Decides whether a call may run. Tools that declare neither `requires_auth` nor `scopes` are
/// open. Deny by default: with no authorization provider configured (OAuth2 arrives with the
/// security pipeline), a tool that requires authorization is refused with 401 rather than run.
#[derive(Debug, Default)]
pub(crate) struct Authorizer {}

impl Authorizer {
    pub(crate) fn authorize(
        &self,
        tool: &RegisteredTool,
        call: &ToolCall,
    ) -> Result<(), ToolError> {
        if !tool.info.requires_auth && tool.info.scopes.is_empty() {
            return Ok(());
        }
        let who = call.user_id.as_deref().map_or_else(
            || "an anonymous caller".to_owned(),
            |user| format!("user '{user}'"),
        );
        Err(ToolError::new(
            ErrorKind::Unauthorized,
            format!(
                "Tool '{}' requires authorization, and no authorization provider is configured to grant it to {who}",
                tool.info.name
            ),
        ))
    }
}
