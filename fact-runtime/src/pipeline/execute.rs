//! The execute stage: run the tool in this process, within its timeout, surviving its panics.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::AccessToken;
use crate::call::ToolCall;
use crate::context::ToolContext;
use crate::error::{ErrorKind, ToolError};
use crate::extensions::Extensions;
use crate::registry::RegisteredTool;

/// Runs local tools. Async tools run on the calling task; sync tools are sent to tokio's
/// blocking pool by their generated code. The tool's context is cancelled when the call times
/// out or its caller stops waiting.
#[derive(Debug, Default)]
pub(crate) struct LocalRunner {
    /// What the application gave its tools; every call's context shares it.
    extensions: Arc<Extensions>,
}

impl LocalRunner {
    pub(crate) fn new(extensions: Extensions) -> Self {
        Self {
            extensions: Arc::new(extensions),
        }
    }

    /// Runs `tool` for `call`, whose arguments have been validated and are moved into the tool,
    /// with the caller's `access_token` when the authorize stage produced one.
    pub(crate) async fn run(
        &self,
        tool: &RegisteredTool,
        call: &mut ToolCall,
        access_token: Option<AccessToken>,
    ) -> Result<Value, ToolError> {
        let cancellation = CancellationToken::new();
        // Cancels the tool's token if this future is dropped before the tool finishes.
        let guard = cancellation.clone().drop_guard();
        let deadline = Instant::now() + tool.timeout;
        let ctx = ToolContext::for_call(
            call.call_id.clone(),
            tool.info.name.clone(),
            call.user_id.clone(),
            call.session_id.clone(),
            deadline,
            cancellation,
            Arc::clone(&self.extensions),
        );
        let ctx = match access_token {
            Some(token) => ctx.with_access_token(token),
            None => ctx,
        };
        let arguments = std::mem::take(&mut call.arguments);
        // A handler may panic before it even returns its future.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| {
            tool.handler.call(ctx, arguments)
        })) {
            Ok(future) => future,
            Err(payload) => return Err(panicked(&tool.info.name, payload.as_ref())),
        };
        let outcome =
            tokio::time::timeout_at(deadline, AssertUnwindSafe(future).catch_unwind()).await;
        match outcome {
            Ok(Ok(result)) => {
                guard.disarm();
                result
            }
            Ok(Err(payload)) => Err(panicked(&tool.info.name, payload.as_ref())),
            // Dropping `guard` cancels the tool's token, which a sync tool may be watching.
            Err(_elapsed) => Err(ToolError::new(
                ErrorKind::Timeout,
                format!(
                    "Tool '{}' timed out after {}",
                    tool.info.name,
                    humanize(tool.timeout)
                ),
            )),
        }
    }
}

/// A panicking tool is a 500; its message goes to the log, not to the caller, since it may
/// carry internals.
fn panicked(tool: &str, payload: &(dyn Any + Send)) -> ToolError {
    tracing::error!(tool, panic = panic_message(payload), "tool panicked");
    ToolError::fatal(format!(
        "Tool '{tool}' failed: it panicked (see the server log)"
    ))
}

/// A panic in the pipeline around the tool (a validator, a grant or rate-limit store) is a
/// 500 too, never a crash of the caller.
pub(crate) fn stage_panicked(tool: &str, payload: &(dyn Any + Send)) -> ToolError {
    tracing::error!(
        tool,
        panic = panic_message(payload),
        "pipeline stage panicked"
    );
    ToolError::fatal(format!(
        "Call of tool '{tool}' failed: a validator or store of the pipeline panicked (see the server log)"
    ))
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("<non-string panic payload>")
}

fn humanize(duration: std::time::Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{:.3}s", duration.as_secs_f64())
    }
}
