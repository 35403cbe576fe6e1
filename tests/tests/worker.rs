//! FACT as an Arcade worker, over real HTTP on loopback (docs/ARCHITECTURE.md, "Arcade
//! worker"): the open health check, the listing of the tools as Arcade `ToolDefinition`s, the
//! invocation of each kind of outcome as a `ToolCallResponse`, the Engine's token and secrets
//! reaching the tool (and neither the audit log nor the log), and every refusal of the
//! Engine's JWT before any tool runs.

// The one line that keeps a crate of tools linked when nothing else names it.
use fact_examples as _;

#[path = "worker/invoke.rs"]
mod invoke;
#[path = "worker/listing.rs"]
mod listing;
#[path = "worker/support.rs"]
mod support;
#[path = "worker/tokens.rs"]
mod tokens;
