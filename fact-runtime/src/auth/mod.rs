//! Authorization: OAuth2 grants that let a user run tools that declare `requires_auth` or
//! `scopes`.
//!
//! An [`AuthorizationManager`], configured by an [`OAuthConfig`], runs the authorization-code
//! flow with PKCE against the provider and keeps each user's [`Grant`] in a [`GrantStore`]:
//! [`MemoryGrantStore`] by default, or [`SqlGrantStore`], which encrypts tokens at rest. Before
//! each call of a tool that requires auth, the executor asks the manager for the caller's
//! token: a call without a grant is refused with 401 and the URL to authorize at, a grant
//! without the tool's scopes with 403, and an expired grant is refreshed on the way. The token
//! reaches the tool through [`ToolContext::access_token`](crate::ToolContext::access_token) only.

mod check;
mod config;
mod encrypted;
mod error;
mod flows;
mod manager;
mod store;
mod token;

pub use config::OAuthConfig;
pub use encrypted::{GRANTS_TABLE, MIN_SECRET_KEY_LEN, SqlGrantStore};
pub use error::AuthError;
pub use flows::{AuthorizationFlow, FLOW_LIFETIME, FlowStatus};
pub use manager::{AuthorizationManager, AuthorizationManagerBuilder, GrantInfo, REFRESH_MARGIN};
pub use store::{Grant, GrantStore, MemoryGrantStore, StoreFuture};
pub use token::{AccessToken, RefreshToken};
