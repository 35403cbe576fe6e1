//! The audit log: one [`AuditRecord`] per call, refused calls included, written off the hot
//! path by an [`AuditLog`] to an [`AuditSink`], by default the SQL store [`SqlAuditSink`]
//! (a SQLite file, or PostgreSQL when `DATABASE_URL` names one), keyed by call id.
//!
//! [`AuditDurability`] says when a call is answered: once its record is queued (`queued`, the
//! library's default) or once it is committed (`answered`, `fact serve`'s default). Either way
//! a database outage loses nothing: records wait, bounded, and are written when it returns
//! (docs/ARCHITECTURE.md, "Audit log").

mod config;
mod durability;
mod error;
mod log;
mod query;
mod record;
mod schema;
mod sink;
pub(crate) mod sql;
mod writer;

pub use config::AuditConfig;
pub use durability::{AUDIT_DURABILITY_ENV, AuditDurability};
pub use error::AuditError;
pub use log::{AuditLog, AuditStats};
pub use query::AuditQuery;
pub use record::{ArgumentsDigest, AuditRecord};
pub use sink::AuditSink;
pub use sql::SqlAuditSink;
pub use writer::{AUDIT_BACKLOG_RECORDS, AUDIT_COMMIT_TIMEOUTS_TOTAL, AUDIT_WRITE_FAILURES_TOTAL};
