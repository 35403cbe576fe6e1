//! The route stage: where does the call run?

#[cfg(feature = "arcade")]
use std::sync::Arc;

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
    /// On the Arcade Engine, and here as this local tool should the Engine not take the call.
    #[cfg(feature = "arcade")]
    ArcadeThenLocal(crate::arcade::RemoteTool, Arc<RegisteredTool>),
    /// Here, by the handler, and on the Engine should the tool say it could not start (503).
    #[cfg(feature = "arcade")]
    LocalThenArcade(Handler, crate::arcade::RemoteTool),
}

impl Route {
    /// The `execution_method` a call on this route is audited with, should it never finish
    /// (its caller stopped waiting): what the runner reports replaces it once it does.
    pub(crate) fn method(&self) -> &'static str {
        match self {
            Self::Local(_) => AuditRecord::LOCAL,
            #[cfg(feature = "arcade")]
            Self::LocalThenArcade(..) => AuditRecord::LOCAL,
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
            #[cfg(feature = "arcade")]
            Runs::Both {
                local,
                remote,
                remote_first: true,
            } => Route::ArcadeThenLocal(remote.clone(), Arc::clone(local)),
            #[cfg(feature = "arcade")]
            Runs::Both { local, remote, .. } => match local.local_handler() {
                Some(handler) => Route::LocalThenArcade(handler.clone(), remote.clone()),
                None => Route::Arcade(remote.clone()),
            },
        }
    }
}
