//! The execute stage: run the tool where the route stage sent it, within its timeout,
//! surviving its panics. The bounds ([`run_bounded`]) are one wrapper every runner shares: the
//! local runner's, and the Arcade runner's ([`run_remote`]).

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt as _;
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::auth::AccessToken;
use crate::call::{CallOptions, ToolCall};
use crate::context::ToolContext;
use crate::definition::Handler;
use crate::error::{ErrorKind, ToolError};
use crate::extensions::Extensions;
use crate::progress::ProgressSink;
use crate::registry::RegisteredTool;
use crate::secrets::Secrets;

/// How a call ran: the `execution_method` of its audit record, and its result.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) method: &'static str,
    pub(crate) result: Result<Value, ToolError>,
}

/// The bounds of one run, made before the runner starts: the deadline, and the token that is
/// cancelled when the call times out or its caller stops waiting.
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    pub(crate) deadline: Instant,
    pub(crate) cancellation: CancellationToken,
    /// Where the tool's progress reports go, when the caller listens.
    pub(crate) progress: Option<ProgressSink>,
    /// What the caller handed the call; the tool sees those it declares.
    pub(crate) secrets: Secrets,
    /// The caller's own cancellation, which cancels every run's token.
    caller: Option<CancellationToken>,
}

impl Bounds {
    /// Whether the caller cancelled the call: then no (further) run may start.
    pub(crate) fn caller_gave_up(&self) -> bool {
        self.caller
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }

    /// What a run that may not start answers: the call is audited as cancelled all the same.
    pub(crate) fn not_started(method: &'static str) -> Ran {
        Ran {
            method,
            result: Err(ToolError::new(
                ErrorKind::Execution,
                "the call was cancelled by its caller before its tool started",
            )),
        }
    }
}

/// A run's token: cancelled with the caller's, when the caller has one.
fn token_under(caller: Option<&CancellationToken>) -> CancellationToken {
    caller.map_or_else(CancellationToken::new, CancellationToken::child_token)
}

impl Bounds {
    pub(crate) fn starting_now(timeout: std::time::Duration, options: CallOptions) -> Self {
        let caller = options.cancellation;
        Self {
            deadline: Instant::now() + timeout,
            cancellation: token_under(caller.as_ref()),
            progress: options.progress,
            secrets: options.secrets,
            caller,
        }
    }

    /// The same deadline with a token of its own, for a second run of the call (a fallback):
    /// the first run's token may have been cancelled as it ended.
    #[cfg(feature = "arcade")]
    pub(crate) fn again(&self) -> Self {
        Self {
            deadline: self.deadline,
            cancellation: token_under(self.caller.as_ref()),
            progress: self.progress.clone(),
            secrets: self.secrets.clone(),
            caller: self.caller.clone(),
        }
    }
}

/// Runs the future `start` makes within `bounds`, for tool `tool` of `timeout`: a panic while
/// making or polling it is a 500, the deadline a 504, and the bounds' token is cancelled when
/// the deadline passes or this future is dropped first. Every runner goes through here.
pub(crate) async fn run_bounded<F>(
    tool: &str,
    timeout: std::time::Duration,
    bounds: Bounds,
    start: impl FnOnce() -> F,
) -> Result<Value, ToolError>
where
    F: Future<Output = Result<Value, ToolError>>,
{
    // Cancels the token if this future is dropped before the run finishes.
    let guard = bounds.cancellation.drop_guard();
    // A handler may panic before it even returns its future.
    let future = match std::panic::catch_unwind(AssertUnwindSafe(start)) {
        Ok(future) => future,
        Err(payload) => return Err(panicked(tool, payload.as_ref())),
    };
    let outcome =
        crate::deadline::within(bounds.deadline, AssertUnwindSafe(future).catch_unwind()).await;
    match outcome {
        Ok(Ok(result)) => {
            guard.disarm();
            result
        }
        Ok(Err(payload)) => Err(panicked(tool, payload.as_ref())),
        // Dropping `guard` cancels the token, which a sync tool may be watching.
        Err(_elapsed) => Err(timed_out(tool, timeout)),
    }
}

/// What a call of `tool` that ran past its `timeout` answers: 504.
pub(crate) fn timed_out(tool: &str, timeout: std::time::Duration) -> ToolError {
    ToolError::new(
        ErrorKind::Timeout,
        format!("Tool '{tool}' timed out after {}", humanize(timeout)),
    )
}

/// Runs local tools. Async tools run on the calling task; sync tools are sent to tokio's
/// blocking pool by their generated code, or run on the calling task when declared `inline`
/// (`sync_tool.rs`). The tool's context is cancelled when the call times out or its caller
/// stops waiting.
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

    /// Runs `tool` for `call` by `handler`: the arguments, validated, are moved into the tool,
    /// with the caller's `access_token` when the authorize stage produced one.
    /// The run ends at `bounds`' deadline, which a call that fell back here from the Engine
    /// shares with its remote attempt.
    pub(crate) async fn run(
        &self,
        tool: &RegisteredTool,
        handler: &Handler,
        call: &mut ToolCall,
        access_token: Option<AccessToken>,
        bounds: Bounds,
    ) -> Ran {
        let ctx = ToolContext::for_call(
            call,
            tool.info.name.clone(),
            bounds.deadline,
            bounds.cancellation.clone(),
            Arc::clone(&self.extensions),
            bounds.progress.clone(),
        );
        let ctx = match access_token {
            Some(token) => ctx.with_access_token(token),
            None => ctx,
        };
        let ctx = ctx.with_secrets(bounds.secrets.only(&tool.info.secrets));
        let arguments = std::mem::take(&mut call.arguments);
        let result = run_bounded(&tool.info.name, tool.timeout, bounds, || {
            handler.call(ctx, arguments)
        })
        .await;
        Ran {
            method: crate::audit::AuditRecord::LOCAL,
            result,
        }
    }
}

/// Runs `tool` for `call` on the Arcade Engine through `remote`, within the same bounds as a
/// local run. The outcome says whether the Engine could not take the call, so that hybrid
/// routing may run it here instead.
#[cfg(feature = "arcade")]
pub(crate) async fn run_remote(
    tool: &RegisteredTool,
    remote: &crate::arcade::RemoteTool,
    call: &ToolCall,
    bounds: Bounds,
) -> (Ran, bool) {
    let deadline = bounds.deadline;
    let mut declined = false;
    let result = run_bounded(&tool.info.name, tool.timeout, bounds, || async {
        let outcome = remote.call(call, deadline).await;
        declined = outcome.declined;
        outcome.result
    })
    .await;
    let ran = Ran {
        method: crate::audit::AuditRecord::ARCADE,
        result,
    };
    (ran, declined)
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
