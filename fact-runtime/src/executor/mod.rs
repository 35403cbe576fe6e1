//! [`ToolExecutor`]: runs calls through the pipeline.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use futures::{FutureExt as _, Stream, StreamExt as _};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument as _;

use crate::audit::{AuditError, AuditLog, AuditRecord};
use crate::auth::AccessToken;
use crate::auth::AuthorizationManager;
use crate::call::{CallOptions, ToolCall};
use crate::error::{ErrorKind, ToolError};
use crate::metrics::MetricsCollector;
use crate::pipeline::authorize::{Authorizer, Given};
use crate::pipeline::execute::{Bounds, LocalRunner, Ran, stage_panicked};
use crate::pipeline::rate_limit::RateLimiter;
use crate::pipeline::record::{AuditedCall, Recorder};
use crate::pipeline::route::{Route, Router};
use crate::pipeline::validate::ArgumentValidator;
use crate::registry::{RegisteredTool, Registry, ToolInfo, plausible_tool_name};
use crate::result::ToolResult;
use crate::schema::ToolFormat;

mod builder;

#[cfg(feature = "arcade")]
use builder::serve;

pub use builder::ToolExecutorBuilder;

/// Default bound on the calls of one [`ToolExecutor::execute_tool_calls`] batch that run at once.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;

/// How long [`ToolExecutor::health_check`] waits for the blocking pool.
const HEALTH_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs tool calls through lookup, validation, authorization, rate limiting, routing, execution
/// and recording, and answers each with a [`ToolResult`]. Cheap to clone; clones share state.
///
/// ```
/// use fact_runtime::{tool, ToolCall, ToolExecutor};
/// use serde_json::json;
///
/// /// Adds two numbers.
/// #[tool(name = "Doc.Add")]
/// async fn add(a: f64, b: f64) -> f64 {
///     a + b
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let executor = ToolExecutor::builder().build()?;
/// let result = executor.execute_tool_call(ToolCall::new("Doc.Add", json!({"a": 2, "b": 3}))).await;
/// assert_eq!(result.status_code, 200);
/// assert_eq!(result.data, Some(json!(5.0)));
///
/// let missing = executor.execute_tool_call(ToolCall::new("Doc.Add", json!({"a": 2}))).await;
/// assert_eq!(missing.status_code, 400);
/// assert_eq!(missing.error.as_deref(), Some("Parameter validation failed: missing required parameter 'b'"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ToolExecutor {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The tools served now: swapped whole when the Arcade Engine's catalogue is read again.
    /// Read by every call: an `ArcSwap` load takes no lock and writes nothing that the calls
    /// on other threads share (a lock's reader count, an `Arc`'s count would be written by
    /// every call, on every core).
    registry: ArcSwap<Registry>,
    /// This process's own tools, which every registry starts from.
    #[cfg(feature = "arcade")]
    locals: Vec<Arc<RegisteredTool>>,
    #[cfg(feature = "arcade")]
    gateway: Option<Arc<crate::arcade::GatewayState>>,
    validator: ArgumentValidator,
    authorizer: Authorizer,
    rate_limiter: RateLimiter,
    router: Router,
    local: LocalRunner,
    recorder: Recorder,
    audit: Option<AuditLog>,
    max_concurrency: usize,
    started: Instant,
}

impl ToolExecutor {
    /// A builder with every linked `#[tool]` and default limits.
    pub fn builder() -> ToolExecutorBuilder {
        ToolExecutorBuilder::new()
    }

    /// The registry serving calls now.
    fn registry(&self) -> arc_swap::Guard<Arc<Registry>> {
        self.inner.registry.load()
    }

    /// Runs one call through the pipeline. Never panics and never fails: every outcome,
    /// including a panicking tool, validator or store, is a [`ToolResult`].
    ///
    /// With an audit log configured, the call's record is queued before this returns; when the
    /// log's queue is full, this waits for room rather than drop the record. With `answered`
    /// durability ([`AuditDurability`](crate::audit::AuditDurability)) the record is also
    /// committed before this returns: while the log cannot commit, calls are refused up front
    /// (503 `ServiceUnavailableError`, the tool never runs), and a call whose record is not
    /// committed within the commit timeout is answered 503 `AuditUnavailableError`. A call
    /// whose future is dropped before it is answered is recorded too, as cancelled
    /// ([`AuditRecord::CANCELLED_STATUS`](crate::audit::AuditRecord::CANCELLED_STATUS)).
    pub async fn execute_tool_call(&self, call: ToolCall) -> ToolResult {
        self.execute_tool_call_with(call, CallOptions::default())
            .await
    }

    /// Runs one call as [`execute_tool_call`](Self::execute_tool_call) does, with `options`:
    /// the progress the tool reports through
    /// [`ToolContext::progress`](crate::ToolContext::progress) goes to their sink (a remote
    /// tool reports none), and their cancellation token cancels the call.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use fact_runtime::{CallOptions, ProgressSink, ToolCall, ToolDefinition, ToolExecutor};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let halfway = ToolDefinition::new("Demo.Work", "Works", json!({"type": "object"}), |ctx, _| async move {
    ///     ctx.progress(50.0, Some(100.0), "halfway");
    ///     Ok(json!("done"))
    /// });
    /// let executor = ToolExecutor::builder().register(halfway).build()?;
    /// let heard = Arc::new(Mutex::new(Vec::new()));
    /// let sink = {
    ///     let heard = Arc::clone(&heard);
    ///     ProgressSink::new(move |progress| heard.lock().unwrap().push(progress))
    /// };
    /// let call = ToolCall::new("Demo.Work", json!({}));
    /// let result = executor.execute_tool_call_with(call, CallOptions::default().progress(sink)).await;
    /// assert!(result.success);
    /// assert_eq!(heard.lock().unwrap()[0].message.as_deref(), Some("halfway"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn execute_tool_call_with(&self, call: ToolCall, options: CallOptions) -> ToolResult {
        // One span per call: what it was and how it ended, never its arguments or token. A name
        // no tool could have is the caller's text: it stays out of the log.
        let tool = if plausible_tool_name(&call.tool_name) {
            call.tool_name.as_str()
        } else {
            "(not a tool name)"
        };
        let span = tracing::info_span!(
            "tool_call",
            call_id = %call.call_id,
            tool = %tool,
            status = tracing::field::Empty,
            error_type = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        // Boxed once, here: the pipeline's state then stays where it was made, and what a
        // caller moves about (a batch holds a hundred calls at once) is a pointer and a span.
        Box::pin(self.answer(call, options, span.clone()))
            .instrument(span)
            .await
    }

    async fn answer(
        &self,
        mut call: ToolCall,
        mut options: CallOptions,
        span: tracing::Span,
    ) -> ToolResult {
        let caller_cancelled = options.cancellation.clone();
        let started = Instant::now();
        let mut audited = AuditedCall::open(self.inner.audit.as_ref(), &call, started);
        let registry = self.registry();
        let mut found = None;
        let outcome = AssertUnwindSafe(async {
            audited.admit()?;
            let tool = self.look_up(&registry, &mut call)?;
            found = Some(tool);
            let given = Given {
                token: options.access_token.take(),
                only: options.caller_authorizes,
            };
            let (access_token, route) = self.admit(tool, &mut call, given).await?;
            // Until the runner says how the call ran, the route says how it was meant to:
            // that is what a call whose caller stops waiting is audited with.
            audited.method = route.method();
            let ran = self
                .execute(route, tool, &mut call, access_token, options)
                .await;
            audited.method = ran.method;
            ran.result
        })
        .catch_unwind()
        .await
        .unwrap_or_else(|payload| Err(stage_panicked(&call.tool_name, payload.as_ref())));
        let elapsed = started.elapsed();
        let user = call.user_id.take();
        let result = match outcome {
            Ok(data) => ToolResult::success(call.call_id, call.tool_name, data, elapsed),
            Err(error) => ToolResult::failure(call.call_id, call.tool_name, error, elapsed),
        };
        if caller_cancelled.is_some_and(|token| token.is_cancelled()) {
            // The caller gave up: whatever the tool made of it, the call is audited as
            // cancelled (the record's drop), and counted nowhere else, as a dropped call is.
            drop(audited);
            span.record("status", AuditRecord::CANCELLED_STATUS);
            tracing::debug!("tool call cancelled by its caller");
            return result;
        }
        self.inner.recorder.record(
            &result,
            user.as_deref(),
            audited.method,
            found.as_ref().map(|tool| &*tool.series),
        );
        span.record("status", result.status_code);
        if let Some(error_type) = &result.metadata.error_type {
            span.record("error_type", error_type.as_ref());
        }
        span.record("duration_ms", result.execution_time_ms);
        // The span carries the tool (checked) and the outcome; the result's name may be the
        // caller's raw text.
        tracing::debug!("tool call finished");
        // Boxed, as the remote runs are: the wait for the log's room and commit is large, and
        // inline every call's future would carry it, moved with the future wherever it goes
        // (a batch holds a hundred of them). Without a log there is nothing to wait for.
        if audited.is_open() {
            Box::pin(audited.close(result)).await
        } else {
            result
        }
    }

    /// Stops intake of the audit log, writes every queued record and waits for the writer.
    /// Calls made afterwards still run, but their records are refused (and logged as such).
    /// Without an audit log this does nothing.
    ///
    /// # Errors
    ///
    /// The audit log's, when records could not be written.
    pub async fn shutdown(&self) -> Result<(), AuditError> {
        match &self.inner.audit {
            Some(audit) => audit.shutdown().await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// The lookup stage: the tool `call` names, by its name or its exported one.
    fn look_up<'r>(
        &self,
        registry: &'r Registry,
        call: &mut ToolCall,
    ) -> Result<&'r Arc<RegisteredTool>, ToolError> {
        let tool = registry.get(&call.tool_name).ok_or_else(|| {
            ToolError::new(
                ErrorKind::ToolNotFound,
                format!("Tool '{}' not found", call.tool_name),
            )
        })?;
        if tool.info.name != call.tool_name {
            // Called by its exported name (`MyApp_Calculator`): answer with the real one.
            call.tool_name.clone_from(&tool.info.name);
        }
        Ok(tool)
    }

    /// The stages from validation to route: the caller's token when the tool needs one (the
    /// one the caller `given`, else the user's grant), and where the call runs; or why it was
    /// refused.
    async fn admit(
        &self,
        tool: &RegisteredTool,
        call: &mut ToolCall,
        given: Given,
    ) -> Result<(Option<AccessToken>, Route), ToolError> {
        let inner = &*self.inner;
        inner.validator.validate(tool, call)?;
        let access_token = inner.authorizer.authorize(tool, call, given).await?;
        inner.rate_limiter.check(tool, call).await?;
        Ok((access_token, inner.router.route(tool)))
    }

    /// The execute stage: runs the admitted call on its route, and says how it ran. A call
    /// with a second side runs there only when the first could not take it (the Engine did not
    /// take it; the local tool said 503, not started), never after the first may have run it,
    /// and by the same deadline.
    async fn execute(
        &self,
        route: Route,
        tool: &RegisteredTool,
        call: &mut ToolCall,
        access_token: Option<AccessToken>,
        options: CallOptions,
    ) -> Ran {
        let local = &self.inner.local;
        let bounds = Bounds::starting_now(tool.timeout, options);
        // A caller that gave up while the call was admitted (authorized, rate limited) gets no
        // run: a destructive tool must not start for nobody.
        if bounds.caller_gave_up() {
            return Bounds::not_started(crate::audit::AuditRecord::REFUSED);
        }
        match route {
            Route::Local(handler) => local.run(tool, &handler, call, access_token, bounds).await,
            #[cfg(feature = "arcade")]
            Route::Arcade(remote) => {
                Box::pin(crate::pipeline::execute::run_remote(
                    tool, &remote, call, bounds,
                ))
                .await
                .0
            }
            #[cfg(feature = "arcade")]
            Route::ArcadeThenLocal(remote, local_tool) => {
                let (ran, declined) = Box::pin(crate::pipeline::execute::run_remote(
                    tool,
                    &remote,
                    call,
                    bounds.again(),
                ))
                .await;
                if !declined {
                    return ran;
                }
                if bounds.caller_gave_up() {
                    return ran;
                }
                if let Err(error) = &ran.result {
                    tracing::info!(%error, "the Arcade Engine could not take the call: running it here");
                }
                Box::pin(self.fall_back_here(&local_tool, call, bounds.again())).await
            }
            #[cfg(feature = "arcade")]
            Route::LocalThenArcade(handler, remote) => {
                let arguments = call.arguments.clone();
                let ran = local
                    .run(tool, &handler, call, access_token, bounds.again())
                    .await;
                let not_started =
                    matches!(&ran.result, Err(error) if error.kind() == ErrorKind::Unavailable);
                if !not_started || bounds.caller_gave_up() {
                    return ran;
                }
                tracing::info!(
                    "the local tool could not start the call: running it on the Arcade Engine"
                );
                call.arguments = arguments;
                Box::pin(crate::pipeline::execute::run_remote(
                    tool,
                    &remote,
                    call,
                    bounds.again(),
                ))
                .await
                .0
            }
        }
    }

    /// Runs `call`, which the Engine did not take, as `local_tool`: its own validation and
    /// authorization first, since the call was admitted against the Engine's definition.
    #[cfg(feature = "arcade")]
    async fn fall_back_here(
        &self,
        local_tool: &RegisteredTool,
        call: &mut ToolCall,
        bounds: crate::pipeline::execute::Bounds,
    ) -> Ran {
        let inner = &*self.inner;
        let refused = |error| Ran {
            method: crate::audit::AuditRecord::LOCAL,
            result: Err(error),
        };
        if let Err(error) = inner.validator.validate(local_tool, call) {
            return refused(error);
        }
        // The local side is authorized as a call of its own: by the user's grant.
        let access_token = match inner
            .authorizer
            .authorize(local_tool, call, Given::default())
            .await
        {
            Ok(token) => token,
            Err(error) => return refused(error),
        };
        let Some(handler) = local_tool.local_handler() else {
            return refused(ToolError::fatal(
                "the local side of the tool has no handler",
            ));
        };
        inner
            .local
            .run(local_tool, handler, call, access_token, bounds)
            .await
    }

    /// Runs `calls` with at most the configured number at once and answers in input order.
    /// Each call is independent: one failing or panicking does not affect the others.
    pub async fn execute_tool_calls(&self, calls: Vec<ToolCall>) -> Vec<ToolResult> {
        self.execute_tool_calls_with(calls, |result| result)
            .collect()
            .await
    }

    /// Runs `calls` as [`execute_tool_calls`](Self::execute_tool_calls) does, but hands each
    /// result to `finish` the moment its call completes, and yields what `finish` returns in
    /// input order.
    ///
    /// For a caller that turns results into something smaller (the bytes it will send, a
    /// count): a result that completes before an earlier, slower call waits in the shape
    /// `finish` gave it, not as the tool's whole output, and a caller that consumes the stream
    /// as it goes never holds every result at once. At most the configured concurrency of
    /// calls is in flight, and as many finished values can wait for an earlier one.
    ///
    /// ```
    /// use fact_runtime::{ToolCall, ToolExecutor};
    /// use futures::StreamExt as _;
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let executor = ToolExecutor::builder().build()?;
    /// let calls = vec![ToolCall::new("No.Such", json!({})), ToolCall::new("No.Other", json!({}))];
    /// let sizes: Vec<usize> = executor
    ///     .execute_tool_calls_with(calls, |result| serde_json::to_vec(&result).map_or(0, |b| b.len()))
    ///     .collect()
    ///     .await;
    /// assert_eq!(sizes.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn execute_tool_calls_with<'a, T, F>(
        &'a self,
        calls: Vec<ToolCall>,
        finish: F,
    ) -> impl Stream<Item = T> + Send + 'a
    where
        F: Fn(ToolResult) -> T + Send + Sync + 'a,
        T: Send + 'a,
    {
        let finish = Arc::new(finish);
        futures::stream::iter(calls)
            .map(move |call| {
                let finish = Arc::clone(&finish);
                let answered = self.execute_tool_call(call);
                async move { finish(answered.await) }
            })
            .buffered(self.inner.max_concurrency)
    }

    /// The authorization manager calls are authorized with, when one is configured: a
    /// transport completes its flows (the OAuth redirect) and reports them.
    pub fn authorization_manager(&self) -> Option<&AuthorizationManager> {
        self.inner.authorizer.manager()
    }

    /// Windowed figures of every call this executor answered: totals, error rates and times for
    /// the whole system, one tool or one user.
    pub fn metrics(&self) -> &MetricsCollector {
        self.inner.recorder.collector()
    }

    /// Every tool, sorted by name: this process's, and the Arcade Engine's as last read.
    pub fn available_tools(&self) -> Vec<Arc<ToolInfo>> {
        self.registry().infos()
    }

    /// The tool called `name` (or exported as `name`, with `_` for `.`).
    pub fn tool_info(&self, name: &str) -> Option<Arc<ToolInfo>> {
        self.registry().get(name).map(|tool| Arc::clone(&tool.info))
    }

    /// Reads the Arcade Engine's catalogue again and serves what it lists from the next call
    /// on: new tools join, changed ones are replaced, vanished ones answer 404. Returns the
    /// number of the Engine's tools served and a warning for each tool left out (one whose
    /// definition FACT cannot register, named). Without a gateway this does nothing.
    ///
    /// # Errors
    ///
    /// [`ArcadeError`](crate::arcade::ArcadeError) when the catalogue cannot be read: the
    /// registry is left as it was.
    #[cfg(feature = "arcade")]
    pub async fn refresh_remote_tools(
        &self,
    ) -> Result<(usize, Vec<String>), crate::arcade::ArcadeError> {
        let Some(gateway) = &self.inner.gateway else {
            return Ok((0, Vec::new()));
        };
        // One refresh at a time: a slow read finishing last must not bring back an older
        // catalogue over a newer one.
        let _one_at_a_time = gateway.refreshing().await;
        let (remotes, mut skipped) = gateway.read_catalogue().await?;
        let (registry, clashes) = serve(gateway, gateway.merge(&self.inner.locals, remotes))
            .map_err(|error| crate::arcade::ArcadeError::Malformed {
                endpoint: "GET /v1/tools".to_owned(),
                problem: format!("a catalogue FACT cannot serve: {error}"),
            })?;
        skipped.extend(clashes);
        let served = gateway.tools_served();
        self.inner.registry.store(Arc::new(registry));
        Ok((served, skipped))
    }

    /// The client of the Arcade Engine the gateway routes to; `None` without a gateway.
    #[cfg(feature = "arcade")]
    pub(crate) fn arcade_client(&self) -> Option<&crate::arcade::ArcadeClient> {
        self.inner
            .gateway
            .as_ref()
            .map(|gateway| &gateway.settings.client)
    }

    /// How the Arcade Engine is doing; `None` without a gateway.
    #[cfg(feature = "arcade")]
    pub fn arcade_health(&self) -> Option<crate::arcade::ArcadeHealth> {
        self.inner.gateway.as_ref().map(|gateway| gateway.health())
    }

    /// Reads the catalogue again on the gateway's interval while this executor lives.
    #[cfg(feature = "arcade")]
    fn spawn_refresh(&self) {
        let Some(interval) = self
            .inner
            .gateway
            .as_ref()
            .and_then(|gateway| gateway.settings.refresh_interval)
        else {
            return;
        };
        let executor = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(inner) = executor.upgrade() else {
                    return;
                };
                let executor = ToolExecutor { inner };
                match executor.refresh_remote_tools().await {
                    Ok((tools, _)) => tracing::debug!(tools, "Arcade Engine catalogue read"),
                    Err(error) => {
                        tracing::warn!(%error, "Arcade Engine catalogue could not be read")
                    }
                }
            }
        });
    }

    /// Every tool's schema in `format`, sorted by name: a JSON array ready to hand to an LLM API.
    pub fn export_tools(&self, format: ToolFormat) -> Value {
        Value::Array(
            self.available_tools()
                .into_iter()
                .map(|info| info.export(format))
                .collect(),
        )
    }

    /// Checks that the executor can serve calls: the tokio blocking pool, which sync tools run
    /// on, must answer within a second. Reports call totals since start-up.
    pub async fn health_check(&self) -> HealthReport {
        let probe =
            tokio::time::timeout(HEALTH_PROBE_TIMEOUT, tokio::task::spawn_blocking(|| ())).await;
        let (status, problem) = match probe {
            Ok(Ok(())) => (HealthStatus::Healthy, None),
            Ok(Err(error)) => (
                HealthStatus::Unhealthy,
                Some(format!("blocking pool failed: {error}")),
            ),
            Err(_) => (
                HealthStatus::Unhealthy,
                Some(format!(
                    "blocking pool did not answer within {HEALTH_PROBE_TIMEOUT:?}"
                )),
            ),
        };
        let (executions, failures) = self.inner.recorder.totals();
        HealthReport {
            status,
            problem,
            tools: self.registry().len(),
            executions_total: executions,
            failures_total: failures,
            uptime_seconds: self.inner.started.elapsed().as_secs_f64(),
        }
    }
}

/// Whether the executor can serve calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Calls can be served.
    Healthy,
    /// Calls cannot be served; [`HealthReport::problem`] says why.
    Unhealthy,
}

/// The answer of [`ToolExecutor::health_check`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HealthReport {
    /// Healthy or not.
    pub status: HealthStatus,
    /// What is wrong, when unhealthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Number of registered tools.
    pub tools: usize,
    /// Calls answered since start-up, refused ones included.
    pub executions_total: u64,
    /// Calls that failed since start-up.
    pub failures_total: u64,
    /// Seconds since the executor was built.
    pub uptime_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::ToolDefinition;
    use serde_json::json;
    use tokio::sync::{Notify, mpsc};

    /// A tool that answers its name once `release` is notified (at once without one).
    fn tool(name: &'static str, release: Option<Arc<Notify>>) -> ToolDefinition {
        ToolDefinition::new(
            name,
            "answers its name",
            json!({"type": "object"}),
            move |_, _| {
                let release = release.clone();
                async move {
                    if let Some(release) = release {
                        release.notified().await;
                    }
                    Ok(json!(name))
                }
            },
        )
    }

    #[tokio::test]
    async fn each_result_is_finished_as_its_call_completes_and_yielded_in_input_order() {
        let release = Arc::new(Notify::new());
        let executor = ToolExecutor::builder()
            .register(tool("Test.Slow", Some(Arc::clone(&release))))
            .register(tool("Test.Fast", None))
            .build()
            .expect("builds");
        let (finished, mut finishes) = mpsc::unbounded_channel();
        let calls = vec![
            ToolCall::new("Test.Slow", json!({})),
            ToolCall::new("Test.Fast", json!({})),
        ];
        let results = executor
            .execute_tool_calls_with(calls, move |result| {
                let _ = finished.send(result.tool_name.clone());
                result.data
            })
            .collect::<Vec<_>>();
        // The slow call is released only once the fast one, after it in the input, has been
        // finished: an implementation that finished results only when all were in would wait
        // here forever.
        let release_after_fast = async {
            assert_eq!(finishes.recv().await.as_deref(), Some("Test.Fast"));
            release.notify_one();
            assert_eq!(finishes.recv().await.as_deref(), Some("Test.Slow"));
        };
        let (results, ()) = tokio::time::timeout(Duration::from_secs(30), async {
            tokio::join!(results, release_after_fast)
        })
        .await
        .expect("the fast call is finished while the slow one still runs");
        assert_eq!(
            results,
            [Some(json!("Test.Slow")), Some(json!("Test.Fast"))]
        );
    }
}
