//! What the executor counts: a windowed in-process [`MetricsCollector`] for the metrics API, and
//! Prometheus series through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! Every call, accepted or refused, is recorded once by the executor's record stage, with its
//! user in the collector and never in a Prometheus label. Calls to a tool that is not registered
//! are counted under [`UNREGISTERED_TOOL`], so that a caller cannot grow either store by
//! inventing names.

mod collector;
mod names;
#[cfg(feature = "prometheus")]
mod prometheus;

pub use collector::*;
pub(crate) use names::ToolSeries;
pub use names::{
    DURATION_BUCKETS_SECONDS, EXECUTION_DURATION_SECONDS, EXECUTION_FAILURES_TOTAL,
    EXECUTIONS_TOTAL, INLINE_DEMOTIONS_TOTAL, RATE_LIMIT_STORE_ERRORS_TOTAL, UNREGISTERED_TOOL,
};
#[cfg(feature = "prometheus")]
pub use prometheus::{PrometheusExporter, PrometheusInstallError};
