//! The `sql` family: read-only queries on SQLite or PostgreSQL.

mod functions;
mod guard;
mod policy;

pub use guard::{CheckedQuery, Refusal, SqlDialect, check};
pub use policy::{ALLOWED_TABLES_VAR, DEFAULT_STATEMENT_TIMEOUT, SqlPolicy};
