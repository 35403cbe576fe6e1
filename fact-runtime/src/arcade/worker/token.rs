//! The Engine's credential on a worker's endpoints: `Authorization: Bearer <JWT>`, HS256
//! signed with the worker secret both share, audience `worker`, claim `ver` `"1"`, expiry
//! and not-before enforced when present, as Arcade's own workers check it
//! (docs/ARCHITECTURE.md, "Arcade worker"). Neither the secret nor a token is ever written
//! out: `Debug` hides the secret, and a refusal says why without quoting the token.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

/// The variable that holds the worker secret: set, `fact serve` answers the worker endpoints.
pub const WORKER_SECRET_ENV: &str = "ARCADE_WORKER_SECRET";
/// The audience an Engine's token is for.
pub const AUDIENCE: &str = "worker";
/// The token version a worker accepts (claim `ver`).
pub const TOKEN_VERSION: &str = "1";
/// The shortest secret accepted: an HS256 key shorter than its hash's output (RFC 7518,
/// section 3.2) is weaker than the signature.
pub const MIN_SECRET_BYTES: usize = 32;

/// The secret an Arcade Engine signs its requests to this worker with.
///
/// ```
/// use fact_runtime::arcade::worker::WorkerSecret;
///
/// let secret = WorkerSecret::new("a-worker-secret-of-at-least-32-bytes")?;
/// assert_eq!(format!("{secret:?}"), "WorkerSecret([redacted])");
/// assert!(WorkerSecret::new("short").is_err());
/// # Ok::<(), fact_runtime::arcade::worker::WorkerSecretError>(())
/// ```
#[derive(Clone)]
pub struct WorkerSecret {
    key: Arc<DecodingKey>,
}

/// Why a worker secret cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerSecretError {
    /// The secret is shorter than [`MIN_SECRET_BYTES`].
    #[error(
        "the worker secret is {0} bytes long; at least {MIN_SECRET_BYTES} are needed (use the secret the Arcade Engine was given for this worker)"
    )]
    TooShort(usize),
}

impl WorkerSecret {
    /// The secret `secret`, of at least [`MIN_SECRET_BYTES`] bytes.
    ///
    /// # Errors
    ///
    /// [`WorkerSecretError::TooShort`] for a shorter one.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, WorkerSecretError> {
        let secret = secret.as_ref();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(WorkerSecretError::TooShort(secret.len()));
        }
        Ok(Self {
            key: Arc::new(DecodingKey::from_secret(secret)),
        })
    }

    /// Checks `token`, an Engine's JWT: signed with this secret by HS256, for audience
    /// [`AUDIENCE`], of version [`TOKEN_VERSION`], within its `exp` and `nbf` when it has
    /// them (no leeway, as Arcade's workers).
    ///
    /// # Errors
    ///
    /// The [`TokenRefusal`] that says why the token is not accepted.
    pub fn verify(&self, token: &str) -> Result<(), TokenRefusal> {
        // A header naming another algorithm (`none` included, which `jsonwebtoken` cannot
        // even parse) is told as such, not as a malformed token.
        if header_algorithm(token).is_some_and(|algorithm| algorithm != "HS256") {
            return Err(TokenRefusal::Algorithm);
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.required_spec_claims = HashSet::from(["aud".to_owned()]);
        validation.leeway = 0;
        validation.validate_nbf = true;
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|error| TokenRefusal::from(error.into_kind()))?;
        match data.claims.ver {
            Some(Value::String(version)) if version == TOKEN_VERSION => Ok(()),
            Some(other) => Err(TokenRefusal::Version(shown(&other))),
            None => Err(TokenRefusal::Version("none".to_owned())),
        }
    }
}

impl fmt::Debug for WorkerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WorkerSecret([redacted])")
    }
}

/// The `alg` a token's header names, when the header can be read.
fn header_algorithm(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get("alg")?.as_str().map(str::to_owned)
}

/// The claims a worker reads besides those `jsonwebtoken` checks.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    ver: Option<Value>,
}

/// A version claim as a refusal shows it: short, in JSON.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() <= 16 {
        text
    } else {
        "(a long value)".to_owned()
    }
}

/// Why an Engine's token is refused: each a 401 before any tool work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenRefusal {
    /// The request has no `Authorization: Bearer` token.
    #[error("no token: send 'Authorization: Bearer <JWT>' signed with the worker secret")]
    Missing,
    /// The token is not a JWT of three base64url parts with JSON header and claims.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header names another algorithm than HS256 (`none` included).
    #[error("the token is not signed with HS256")]
    Algorithm,
    /// The signature is not this worker's secret's.
    #[error(
        "the signature does not match this worker's secret (the Engine may be configured with another worker secret)"
    )]
    Signature,
    /// The token has no `aud`.
    #[error("the token has no audience: expected 'worker'")]
    NoAudience,
    /// The token's `aud` is not [`AUDIENCE`].
    #[error("the token's audience is not 'worker'")]
    Audience,
    /// The token's `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// The token's `nbf` is still to come.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token's `ver` is not [`TOKEN_VERSION`].
    #[error("unsupported token version {0}: expected \"1\"")]
    Version(String),
}

impl From<JwtErrorKind> for TokenRefusal {
    fn from(kind: JwtErrorKind) -> Self {
        match kind {
            JwtErrorKind::InvalidSignature => Self::Signature,
            JwtErrorKind::InvalidAlgorithm | JwtErrorKind::InvalidAlgorithmName => Self::Algorithm,
            JwtErrorKind::ExpiredSignature => Self::Expired,
            JwtErrorKind::ImmatureSignature => Self::NotYetValid,
            JwtErrorKind::InvalidAudience => Self::Audience,
            JwtErrorKind::MissingRequiredClaim(claim) if claim == "aud" => Self::NoAudience,
            _ => Self::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const SECRET: &str = "the-worker-secret-for-these-unit-tests";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn signed(claims: &Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .expect("a token encodes")
    }

    fn verify(token: &str) -> Result<(), TokenRefusal> {
        WorkerSecret::new(SECRET)
            .expect("long enough")
            .verify(token)
    }

    #[test]
    fn an_engines_token_is_accepted_with_or_without_an_expiry() {
        let claims = json!({"aud": "worker", "ver": "1", "exp": now() + 60});
        assert_eq!(verify(&signed(&claims, SECRET)), Ok(()));
        let lasting = json!({"aud": "worker", "ver": "1"});
        assert_eq!(verify(&signed(&lasting, SECRET)), Ok(()));
        let listed = json!({"aud": ["other", "worker"], "ver": "1"});
        assert_eq!(verify(&signed(&listed, SECRET)), Ok(()));
    }

    #[test]
    fn each_bad_token_is_refused_with_its_reason() {
        let cases = [
            (
                signed(
                    &json!({"aud": "worker", "ver": "1"}),
                    "another-secret-entirely",
                ),
                TokenRefusal::Signature,
            ),
            (
                signed(&json!({"aud": "engine", "ver": "1"}), SECRET),
                TokenRefusal::Audience,
            ),
            (
                signed(&json!({"ver": "1"}), SECRET),
                TokenRefusal::NoAudience,
            ),
            (
                signed(&json!({"aud": "worker", "ver": "2"}), SECRET),
                TokenRefusal::Version("\"2\"".to_owned()),
            ),
            (
                signed(&json!({"aud": "worker", "ver": 1}), SECRET),
                TokenRefusal::Version("1".to_owned()),
            ),
            (
                signed(&json!({"aud": "worker"}), SECRET),
                TokenRefusal::Version("none".to_owned()),
            ),
            (
                signed(
                    &json!({"aud": "worker", "ver": "1", "exp": now() - 1}),
                    SECRET,
                ),
                TokenRefusal::Expired,
            ),
            (
                signed(
                    &json!({"aud": "worker", "ver": "1", "nbf": now() + 60}),
                    SECRET,
                ),
                TokenRefusal::NotYetValid,
            ),
            ("not.a.jwt".to_owned(), TokenRefusal::Malformed),
            (String::new(), TokenRefusal::Malformed),
        ];
        for (token, refusal) in cases {
            assert_eq!(verify(&token), Err(refusal.clone()), "{refusal}");
        }
    }

    #[test]
    fn an_unsigned_or_other_algorithm_token_is_refused() {
        let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let claims = part(json!({"aud": "worker", "ver": "1"}));
        let unsigned = format!("{}.{claims}.", part(json!({"alg": "none", "typ": "JWT"})));
        assert_eq!(verify(&unsigned), Err(TokenRefusal::Algorithm));
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &json!({"aud": "worker", "ver": "1"}),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .expect("encodes");
        assert_eq!(verify(&hs512), Err(TokenRefusal::Algorithm));
    }

    #[test]
    fn a_refusal_never_quotes_the_token_and_the_secret_never_shows() {
        let token = signed(
            &json!({"aud": "worker", "ver": "1"}),
            "another-secret-entirely",
        );
        let refusal = verify(&token).expect_err("refused");
        assert!(!refusal.to_string().contains(&token));
        let secret = WorkerSecret::new(SECRET).expect("long enough");
        assert!(!format!("{secret:?}").contains(SECRET));
    }
}
