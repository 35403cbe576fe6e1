//! Authorization: OAuth2 grants that let a user run tools that declare `requires_auth` or
//! `scopes`.

mod token;

pub use token::AccessToken;
