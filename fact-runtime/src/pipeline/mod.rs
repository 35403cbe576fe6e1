//! The stages every call passes through, in order:
//!
//! ```text
//! lookup -> validate -> authorize -> rate-limit -> route -> execute -> record
//! ```
//!
//! Each stage is one type in one file; [`ToolExecutor`](crate::ToolExecutor) composes them.
//! A stage refuses a call by returning the [`ToolError`](crate::ToolError) the caller sees.

pub(crate) mod authorize;
pub(crate) mod execute;
pub(crate) mod policy;
pub(crate) mod rate_limit;
pub(crate) mod record;
pub(crate) mod route;
pub(crate) mod validate;
