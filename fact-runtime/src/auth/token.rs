//! [`AccessToken`], [`RefreshToken`] and [`PkceVerifier`]: secrets that do not leak through
//! `Debug` or logs.

use std::fmt;

/// The OAuth2 access token of the calling user, handed to a tool through
/// [`ToolContext::access_token`](crate::ToolContext::access_token).
///
/// Its `Debug` output is redacted, and it implements neither `Display` nor `Serialize`, so it
/// cannot slip into a log line, a metric, an audit record or a `ToolResult` by accident: reading
/// it takes an explicit [`secret`](Self::secret).
///
/// ```
/// use fact_runtime::AccessToken;
///
/// let token = AccessToken::new("ya29.secret");
/// assert_eq!(token.secret(), "ya29.secret");
/// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wraps a token.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The token itself, for an `Authorization: Bearer` header.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// The OAuth2 refresh token of a stored [`Grant`](crate::auth::Grant): used by the runtime to
/// renew an expired access token, never handed to a tool.
///
/// Like [`AccessToken`], its `Debug` output is redacted and it implements neither `Display` nor
/// `Serialize`.
///
/// ```
/// use fact_runtime::auth::RefreshToken;
///
/// let token = RefreshToken::new("1//refresh");
/// assert_eq!(token.secret(), "1//refresh");
/// assert_eq!(format!("{token:?}"), "RefreshToken([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// Wraps a token.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The token itself, for the token endpoint.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// The PKCE code verifier of a pending authorization flow (RFC 7636): the secret that proves
/// to the token endpoint that whoever exchanges the code started the flow. It is sent once,
/// with the code, and kept encrypted by stores outside the process.
///
/// Like [`AccessToken`], its `Debug` output is redacted and it implements neither `Display` nor
/// `Serialize`.
///
/// ```
/// use fact_runtime::auth::PkceVerifier;
///
/// let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
/// assert_eq!(format!("{verifier:?}"), "PkceVerifier([redacted])");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl PkceVerifier {
    /// Wraps a verifier.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The verifier itself, for the token request.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PkceVerifier([redacted])")
    }
}
