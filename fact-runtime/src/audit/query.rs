//! [`AuditQuery`]: which audit records to read back.

/// A filter over the audit log: every set condition must hold. Results come ordered by time
/// (then call id).
///
/// The time range is half-open, `since <= timestamp < until`, in seconds since the Unix epoch,
/// compared at microsecond precision (as stored).
///
/// ```
/// use fact_runtime::audit::AuditQuery;
///
/// let query = AuditQuery::new()
///     .user("alice")
///     .tool("MyApp.Calculator")
///     .since(1_700_000_000.0)
///     .until(1_700_003_600.0)
///     .limit(100);
/// assert_eq!(query.user_id.as_deref(), Some("alice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// Only calls by this user.
    pub user_id: Option<String>,
    /// Only calls of this tool.
    pub tool_name: Option<String>,
    /// Only calls received at or after this time (Unix seconds).
    pub since: Option<f64>,
    /// Only calls received before this time (Unix seconds).
    pub until: Option<f64>,
    /// At most this many records (the earliest ones).
    pub limit: Option<u64>,
}

impl AuditQuery {
    /// A query that matches every record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only calls by `user_id`.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Only calls of `tool_name`.
    pub fn tool(mut self, tool_name: impl Into<String>) -> Self {
        self.tool_name = Some(tool_name.into());
        self
    }

    /// Only calls received at or after `timestamp` (Unix seconds).
    pub fn since(mut self, timestamp: f64) -> Self {
        self.since = Some(timestamp);
        self
    }

    /// Only calls received before `timestamp` (Unix seconds).
    pub fn until(mut self, timestamp: f64) -> Self {
        self.until = Some(timestamp);
        self
    }

    /// At most `limit` records.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }
}
