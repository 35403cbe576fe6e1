//! [`AuthError`]: what configuring OAuth2, completing a flow or storing a grant can fail with.

/// Why an authorization operation failed. Messages say what was wrong and what to do; they
/// never carry a token, a code or the client secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The OAuth2 configuration is missing or invalid.
    #[error("invalid OAuth2 configuration: {0}")]
    Config(String),
    /// No flow has this id: it was never started by this process, or it was completed or
    /// expired long ago.
    #[error(
        "unknown authorization flow: it was never started here or is long gone; start a new one with initiate_authorization"
    )]
    UnknownFlow,
    /// The flow was already completed (flows are single-use).
    #[error(
        "authorization flow already used: each flow can be completed once; start a new one with initiate_authorization"
    )]
    FlowUsed,
    /// The flow outlived its ten minutes.
    #[error(
        "authorization flow for user '{user_id}' and tool '{tool_name}' expired; start a new one with initiate_authorization"
    )]
    FlowExpired {
        /// The user the flow was for.
        user_id: String,
        /// The tool the flow was for.
        tool_name: String,
    },
    /// The provider refused to exchange the authorization code (RFC 6749 section 5.2).
    #[error("the OAuth2 provider refused the authorization code: {error}{}", describe(.description))]
    Exchange {
        /// The provider's error code, e.g. `invalid_grant`.
        error: String,
        /// The provider's `error_description`, when it gave one.
        description: Option<String>,
    },
    /// The provider refused to refresh a grant.
    #[error("the OAuth2 provider refused to refresh the grant of user '{user_id}': {error}{}", describe(.description))]
    Refresh {
        /// The user whose grant could not be refreshed.
        user_id: String,
        /// The provider's error code, e.g. `invalid_grant`.
        error: String,
        /// The provider's `error_description`, when it gave one.
        description: Option<String>,
    },
    /// The token endpoint could not be reached or answered something that is not OAuth2.
    #[error("OAuth2 token endpoint failed: {0}")]
    Provider(String),
    /// The grant store or the flow store failed.
    #[error("OAuth store failed: {0}")]
    Store(String),
    /// Another process kept the grant of `user_id` locked (to refresh it) for longer than a
    /// lock may be waited for.
    #[error(
        "the grant of user '{user_id}' is being changed by another process, which did not finish within {} ms; try again",
        waited.as_millis()
    )]
    GrantBusy {
        /// The user whose grant is locked.
        user_id: String,
        /// How long the lock was waited for.
        waited: std::time::Duration,
    },
    /// A stored grant cannot be decrypted: it was written with another `SECRET_KEY`, or its
    /// row was altered or moved to another user.
    #[error("cannot decrypt the stored grant of user '{user_id}': {reason}")]
    Decrypt {
        /// The user whose grant is unreadable.
        user_id: String,
        /// Which of the causes it is, and what to do.
        reason: String,
    },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}
