//! FACT as an Arcade worker: `/worker/health`, `/worker/tools` and `/worker/tools/invoke` behind
//! the Engine's JWT (docs/ARCHITECTURE.md, "Arcade worker"), over real HTTP on loopback: the
//! open health check, the listing of the tools as Arcade `ToolDefinition`s, the invocation of
//! each kind of outcome as a `ToolCallResponse`, the Engine's token and secrets reaching the
//! tool (and neither the audit log nor the log), every refusal of the Engine's JWT before any
//! tool runs; and Arcade's own Python models and worker judging the same endpoints.

// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;

#[path = "worker/invoke.rs"]
mod invoke;
#[path = "worker/listing.rs"]
mod listing;
#[path = "worker/python.rs"]
mod python;
#[path = "worker/support.rs"]
mod support;
#[path = "worker/tokens.rs"]
mod tokens;
