//! MCP over real transports, with the other side's own clients: rmcp's client (Rust) on
//! streamable HTTP at `/mcp` (current and session-era revisions) and on stdio (`fact mcp` as
//! a child process, and an in-process pipe), and the official Python SDK's client in its
//! default and legacy modes (mcp_python.py). Every call goes through the executor's pipeline:
//! results, failures, progress, cancellation and audit are checked on each.

#[path = "mcp/http.rs"]
mod http;
#[path = "mcp/python.rs"]
mod python;
#[path = "mcp/stdio.rs"]
mod stdio;
#[path = "mcp/support.rs"]
mod support;
