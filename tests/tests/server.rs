//! The HTTP server over real HTTP on loopback: every endpoint, each status code, API-key
//! refusals before any tool work, the body, answer and connection limits (per address too),
//! the body and request timeouts, every refusal in the ToolResult shape, and graceful shutdown
//! with a call in flight; and the Engine API under /arcade, with Arcade's own Python client.

// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;

#[path = "server/answers.rs"]
mod answers;
#[path = "server/auth.rs"]
mod auth;
#[path = "server/connections.rs"]
mod connections;
#[path = "server/engine.rs"]
mod engine;
#[path = "server/engine_arcadepy.rs"]
mod engine_arcadepy;
#[path = "server/execute.rs"]
mod execute;
#[path = "server/health_metrics.rs"]
mod health_metrics;
#[path = "server/nested.rs"]
mod nested;
#[path = "server/oauth_flow.rs"]
mod oauth_flow;
#[path = "server/rejections.rs"]
mod rejections;
#[path = "server/support.rs"]
mod support;
#[path = "server/tools.rs"]
mod tools;
