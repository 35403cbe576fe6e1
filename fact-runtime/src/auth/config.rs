//! [`OAuthConfig`]: who this application is to the OAuth2 provider, and where the provider is.

use std::fmt;

use oauth2::url::Url;

use crate::auth::AuthError;

/// The OAuth2 client registration and the provider's endpoints. Every URL is parsed (and must be
/// `http` or `https`) when the configuration is made, so a typo fails at start-up rather than on
/// the first call. The client secret is redacted from `Debug`.
///
/// ```
/// use fact_runtime::auth::OAuthConfig;
///
/// let config = OAuthConfig::new(
///     "my-client",
///     "https://app.example/oauth/callback",
///     "https://provider.example/authorize",
///     "https://provider.example/token",
/// )?
/// .with_client_secret("s3cr3t");
/// assert_eq!(config.client_id(), "my-client");
/// assert!(!format!("{config:?}").contains("s3cr3t"));
///
/// assert!(OAuthConfig::new("c", "not a url", "https://p/a", "https://p/t").is_err());
/// # Ok::<(), fact_runtime::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct OAuthConfig {
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: Url,
    authorization_url: Url,
    token_url: Url,
}

impl OAuthConfig {
    /// A public client (no secret) registered with `client_id`, whose users come back to
    /// `redirect_uri`, at a provider with these authorization and token endpoints. Add a
    /// secret with [`with_client_secret`](Self::with_client_secret).
    ///
    /// # Errors
    ///
    /// [`AuthError::Config`] naming the value that is empty or not an `http(s)` URL.
    pub fn new(
        client_id: impl Into<String>,
        redirect_uri: &str,
        authorization_url: &str,
        token_url: &str,
    ) -> Result<Self, AuthError> {
        let client_id = client_id.into();
        if client_id.trim().is_empty() {
            return Err(AuthError::Config("the client id is empty".to_owned()));
        }
        Ok(Self {
            client_id,
            client_secret: None,
            redirect_uri: parse_url("redirect URI", redirect_uri)?,
            authorization_url: parse_url("authorization URL", authorization_url)?,
            token_url: parse_url("token URL", token_url)?,
        })
    }

    /// Sets the client secret, sent to the token endpoint with HTTP Basic authentication.
    #[must_use]
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Reads `OAUTH_CLIENT_ID`, `OAUTH_CLIENT_SECRET` (optional), `OAUTH_REDIRECT_URI`,
    /// `OAUTH_AUTHORIZATION_URL` and `OAUTH_TOKEN_URL`.
    ///
    /// # Errors
    ///
    /// `Ok(None)` when `OAUTH_CLIENT_ID` is unset (OAuth2 not configured); [`AuthError::Config`]
    /// naming the variable that is missing or invalid when it is set.
    pub fn from_env() -> Result<Option<Self>, AuthError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables read by `lookup`.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, AuthError> {
        let Some(client_id) = lookup("OAUTH_CLIENT_ID") else {
            return Ok(None);
        };
        let required = |name: &str| {
            lookup(name).ok_or_else(|| {
                AuthError::Config(format!(
                    "{name} is not set (OAUTH_CLIENT_ID is, so OAuth2 is enabled and needs it)"
                ))
            })
        };
        let redirect_uri = required("OAUTH_REDIRECT_URI")?;
        let authorization_url = required("OAUTH_AUTHORIZATION_URL")?;
        let token_url = required("OAUTH_TOKEN_URL")?;
        let config = Self::new(client_id, &redirect_uri, &authorization_url, &token_url)
            .map_err(|error| match error {
                AuthError::Config(reason) => AuthError::Config(format!(
                    "{reason} (from OAUTH_CLIENT_ID, OAUTH_REDIRECT_URI, OAUTH_AUTHORIZATION_URL, OAUTH_TOKEN_URL)"
                )),
                other => other,
            })?;
        Ok(Some(match lookup("OAUTH_CLIENT_SECRET") {
            Some(secret) if !secret.is_empty() => config.with_client_secret(secret),
            _ => config,
        }))
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Whether a client secret is configured (the secret itself is not readable back).
    pub fn has_client_secret(&self) -> bool {
        self.client_secret.is_some()
    }

    /// Where the provider sends the user back with the code.
    pub fn redirect_uri(&self) -> &str {
        self.redirect_uri.as_str()
    }

    /// The provider's authorization endpoint.
    pub fn authorization_url(&self) -> &str {
        self.authorization_url.as_str()
    }

    /// The provider's token endpoint.
    pub fn token_url(&self) -> &str {
        self.token_url.as_str()
    }

    pub(crate) fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref()
    }

    pub(crate) fn urls(&self) -> (&Url, &Url, &Url) {
        (&self.redirect_uri, &self.authorization_url, &self.token_url)
    }
}

fn parse_url(what: &str, value: &str) -> Result<Url, AuthError> {
    let url = Url::parse(value).map_err(|error| {
        AuthError::Config(format!("the {what} '{value}' is not a URL: {error}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AuthError::Config(format!(
            "the {what} '{value}' must be an http or https URL"
        )));
    }
    Ok(url)
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("redirect_uri", &self.redirect_uri.as_str())
            .field("authorization_url", &self.authorization_url.as_str())
            .field("token_url", &self.token_url.as_str())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    const FULL: [(&str, &str); 5] = [
        ("OAUTH_CLIENT_ID", "client"),
        ("OAUTH_CLIENT_SECRET", "hunter2"),
        ("OAUTH_REDIRECT_URI", "https://app.example/cb"),
        ("OAUTH_AUTHORIZATION_URL", "https://idp.example/authorize"),
        ("OAUTH_TOKEN_URL", "https://idp.example/token"),
    ];

    #[test]
    fn unset_client_id_means_oauth_is_not_configured() {
        assert!(matches!(OAuthConfig::from_lookup(lookup(&[])), Ok(None)));
    }

    #[test]
    fn full_environment_gives_a_config_whose_debug_hides_the_secret() {
        let config = OAuthConfig::from_lookup(lookup(&FULL))
            .expect("valid")
            .expect("configured");
        assert_eq!(config.client_id(), "client");
        assert_eq!(config.client_secret(), Some("hunter2"));
        assert_eq!(config.token_url(), "https://idp.example/token");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn missing_variable_is_named() {
        let vars: Vec<_> = FULL
            .iter()
            .copied()
            .filter(|(k, _)| *k != "OAUTH_TOKEN_URL")
            .collect();
        let error = OAuthConfig::from_lookup(lookup(&vars)).expect_err("incomplete");
        assert!(
            error.to_string().contains("OAUTH_TOKEN_URL is not set"),
            "{error}"
        );
    }

    #[test]
    fn invalid_url_is_refused_with_the_value() {
        let error = OAuthConfig::new("c", "https://a/cb", "ftp://idp/authorize", "https://idp/t")
            .expect_err("ftp is refused");
        assert!(
            error
                .to_string()
                .contains("authorization URL 'ftp://idp/authorize' must be an http or https URL"),
            "{error}"
        );
        let error = OAuthConfig::new("c", "cb", "https://idp/a", "https://idp/t")
            .expect_err("relative is refused");
        assert!(
            error.to_string().contains("redirect URI 'cb' is not a URL"),
            "{error}"
        );
    }
}
