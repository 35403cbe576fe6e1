//! The route stage: where does the call run?

use crate::audit::AuditRecord;
use crate::registry::RegisteredTool;

/// Where a call runs, with what its runner needs. Only [`Route::Local`] exists until remote
/// execution is configured; a remote target will carry its client and the remote name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// In this process.
    Local,
}

impl Route {
    /// The `execution_method` a call on this route is audited with, should it never finish
    /// (its caller stopped waiting): what the runner reports replaces it once it does.
    pub(crate) fn method(self) -> &'static str {
        match self {
            Self::Local => AuditRecord::LOCAL,
        }
    }
}

/// Chooses where each call runs. Every tool is local until remote execution on Arcade is
/// configured.
#[derive(Debug, Default)]
pub(crate) struct Router {}

impl Router {
    pub(crate) fn route(&self, _tool: &RegisteredTool) -> Route {
        Route::Local
    }
}
