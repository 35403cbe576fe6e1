//! The route stage: where does the call run?

use crate::audit::AuditRecord;
use crate::definition::Handler;
use crate::registry::{RegisteredTool, Runs};

/// Where a call runs, with what its runner needs.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// In this process, by this handler.
    Local(Handler),
    /// On the Arcade Engine.
    #[cfg(feature = "arcade")]
    Arcade(crate::arcade::RemoteTool),
    /// On the Arcade Engine, and here by the handler should the Engine not take the call.
    #[cfg(feature = "arcade")]
    ArcadeThenLocal(crate::arcade::RemoteTool, Handler),
}

impl Route {
    /// The `execution_method` a call on this route is audited with, should it never finish
    /// (its caller stopped waiting): what the runner reports replaces it once it does.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::Local(_) => AuditRecord::LOCAL,
            #[cfg(feature = "arcade")]
            Self::Arcade(_) | Self::ArcadeThenLocal(..) => AuditRecord::ARCADE,
        }
    }
}

/// Chooses where each call runs, from where its tool runs.
#[derive(Debug, Default)]
pub(crate) struct Router {}

impl Router {
    pub(crate) fn route(&self, tool: &RegisteredTool) -> Route {
        match &tool.runs {
            Runs::Local(handler) => Route::Local(handler.clone()),
            #[cfg(feature = "arcade")]
            Runs::Remote(remote) => Route::Arcade(remote.clone()),
            // This process always takes a call it has the tool for: local first is local.
            #[cfg(feature = "arcade")]
            Runs::Both {
                local,
                remote_first: false,
                ..
            } => Route::Local(local.clone()),
            #[cfg(feature = "arcade")]
            Runs::Both {
                local,
                remote,
                remote_first: true,
            } => Route::ArcadeThenLocal(remote.clone(), local.clone()),
        }
    }
}
