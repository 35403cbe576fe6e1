//! The rate-limit stage: is this caller within its quota?

use crate::call::ToolCall;
use crate::error::ToolError;
use crate::registry::RegisteredTool;

/// Admits or refuses calls by quota. No quotas are configured yet, so every call is admitted;
/// GCRA quotas per user and per tool fill this in without changing its place in the pipeline.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {}

impl RateLimiter {
    pub(crate) fn check(&self, _tool: &RegisteredTool, _call: &ToolCall) -> Result<(), ToolError> {
        Ok(())
    }
}
