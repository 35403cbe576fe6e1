//! The HTTP server over real HTTP on loopback: every endpoint, each status code, API-key
//! refusals before any tool work, the body and connection limits, the request timeout, and
//! graceful shutdown with a call in flight.

// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;

#[path = "server/auth.rs"]
mod auth;
#[path = "server/connections.rs"]
mod connections;
#[path = "server/execute.rs"]
mod execute;
#[path = "server/health_metrics.rs"]
mod health_metrics;
#[path = "server/support.rs"]
mod support;
#[path = "server/tools.rs"]
mod tools;
