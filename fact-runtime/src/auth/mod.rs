//! Authorization: OAuth2 grants that let a user run tools that declare `requires_auth` or
//! `scopes`.
//!
//! An [`AuthorizationManager`], configured by an [`OAuthConfig`], runs the authorization-code
//! flow with PKCE against the provider and keeps each user's [`Grant`] in a [`GrantStore`]:
//! [`MemoryGrantStore`] by default, or [`SqlGrantStore`], which encrypts tokens at rest.
//! Pending flows wait in a [`FlowStore`]: [`MemoryFlowStore`], or [`SqlFlowStore`] beside SQL
//! grants, so that replicas sharing a database share flows and grants (a callback may reach
//! any of them; a refresh is made once). Before each call of a tool that requires auth, the
//! executor asks the manager for the caller's token: a call without a grant is refused with
//! 401 and the URL to authorize at, a grant without the tool's scopes with 403, and an expired
//! grant is refreshed on the way. The token reaches the tool through
//! [`ToolContext::access_token`](crate::ToolContext::access_token) only.

mod check;
mod config;
mod encrypted;
mod error;
mod flow_row;
mod flow_steps;
mod flows;
mod manager;
mod memory_flows;
mod seal;
mod sql_flows;
mod store;
#[cfg(test)]
mod test_support;
mod token;

pub use config::OAuthConfig;
pub use encrypted::{GRANT_LOCK_TIMEOUT, GRANTS_TABLE, SqlGrantStore};
pub use error::AuthError;
pub use flows::{AuthorizationFlow, FLOW_LIFETIME, FlowStatus, FlowStore, MAX_FLOWS, PendingFlow};
pub use manager::{
    AuthorizationManager, AuthorizationManagerBuilder, FLOW_POLL_INTERVAL, GrantInfo,
    REFRESH_MARGIN,
};
pub use memory_flows::MemoryFlowStore;
pub use seal::MIN_SECRET_KEY_LEN;
pub use sql_flows::{FLOWS_TABLE, SqlFlowStore};
pub use store::{Grant, GrantLock, GrantStore, MemoryGrantStore, StoreFuture};
pub use token::{AccessToken, PkceVerifier, RefreshToken};
