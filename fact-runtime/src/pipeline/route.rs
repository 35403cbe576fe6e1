//! The route stage: where does the call run?

use crate::registry::RegisteredTool;

/// Where a call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// In this process.
    Local,
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
