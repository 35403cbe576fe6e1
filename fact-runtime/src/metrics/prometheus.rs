//! [`PrometheusExporter`]: the process's Prometheus recorder, rendered by `GET /metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::names::{
    DURATION_BUCKETS_SECONDS, EXECUTION_DURATION_SECONDS, EXECUTION_FAILURES_TOTAL,
    EXECUTIONS_TOTAL, INLINE_DEMOTIONS_TOTAL, RATE_LIMIT_STORE_ERRORS_TOTAL,
};

/// How often recorded histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The Prometheus exporter of this process: the `metrics` recorder that every
/// [`ToolExecutor`](crate::ToolExecutor) feeds, and its text exposition for `GET /metrics`.
///
/// A process has one global recorder, so [`install`](Self::install) installs it the first time
/// and hands back the same exporter afterwards. Histograms keep only their bucket counts: a
/// background thread folds new samples in every few seconds, so memory stays flat when nobody
/// scrapes.
///
/// ```
/// use fact_runtime::metrics::PrometheusExporter;
/// use fact_runtime::{tool, ToolCall, ToolExecutor};
/// use serde_json::json;
///
/// /// Echoes a text.
/// #[tool(name = "Doc.Echo")]
/// fn echo(text: String) -> String {
///     text
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let exporter = PrometheusExporter::install()?;
/// let executor = ToolExecutor::builder().build()?;
/// executor.execute_tool_call(ToolCall::new("Doc.Echo", json!({"text": "hi"}))).await;
///
/// let text = exporter.render();
/// assert!(text.contains(r#"tool_executions_total{tool="Doc.Echo"}"#));
/// assert!(text.contains("tool_execution_duration_seconds_bucket"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusExporter {
    handle: PrometheusHandle,
}

/// Why [`PrometheusExporter::install`] failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot install the Prometheus exporter: {0}")]
pub struct PrometheusInstallError(String);

impl PrometheusExporter {
    /// Installs the exporter as the process's `metrics` recorder, or returns the one installed
    /// before.
    ///
    /// # Errors
    ///
    /// When another `metrics` recorder was installed first (by the application), since FACT's
    /// series would then go there instead.
    pub fn install() -> Result<Self, PrometheusInstallError> {
        static INSTALLED: OnceLock<Result<PrometheusHandle, PrometheusInstallError>> =
            OnceLock::new();
        INSTALLED
            .get_or_init(install_recorder)
            .clone()
            .map(|handle| Self { handle })
    }

    /// The Prometheus text exposition of every series recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

fn install_recorder() -> Result<PrometheusHandle, PrometheusInstallError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(EXECUTION_DURATION_SECONDS.to_owned()),
            DURATION_BUCKETS_SECONDS,
        )
        .map_err(|error| PrometheusInstallError(error.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| {
        PrometheusInstallError(
            "another metrics recorder is already installed in this process".to_owned(),
        )
    })?;
    describe_counter!(
        EXECUTIONS_TOTAL,
        Unit::Count,
        "Tool calls answered, refused ones included"
    );
    describe_counter!(
        EXECUTION_FAILURES_TOTAL,
        Unit::Count,
        "Tool calls that failed, at whatever stage"
    );
    describe_counter!(
        RATE_LIMIT_STORE_ERRORS_TOTAL,
        Unit::Count,
        "Times the shared rate-limit store could not decide about a call, by the policy applied"
    );
    describe_counter!(
        INLINE_DEMOTIONS_TOTAL,
        Unit::Count,
        "Inline sync tools moved to the blocking pool after a run past the inline budget"
    );
    describe_histogram!(
        EXECUTION_DURATION_SECONDS,
        Unit::Seconds,
        "Wall time of each tool call, from receipt to answer"
    );
    describe_gauge!(
        crate::audit::AUDIT_BACKLOG_RECORDS,
        Unit::Count,
        "Audit records accepted and not yet committed"
    );
    describe_counter!(
        crate::audit::AUDIT_WRITE_FAILURES_TOTAL,
        Unit::Count,
        "Failed attempts to write a batch of audit records (each retried until written)"
    );
    describe_counter!(
        crate::audit::AUDIT_COMMIT_TIMEOUTS_TOTAL,
        Unit::Count,
        "Calls whose answer was withheld because their audit record was not committed in time"
    );
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("fact-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        // Rendering folds samples in too; only an unscraped process grows without the thread.
        tracing::warn!(%error, "could not start the metrics upkeep thread");
    }
    Ok(handle)
}
