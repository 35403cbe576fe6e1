//! A small but real OAuth2 provider (RFC 6749 authorization-code grant with PKCE, RFC 7636, and
//! the refresh grant) served by axum on `127.0.0.1`, port chosen by the OS, for tests that
//! drive `AuthorizationManager` over real HTTP.
//!
//! - `GET /authorize` checks `client_id`, `redirect_uri`, `response_type=code`, `state` and an
//!   S256 `code_challenge`, approves at once (there is no user to click) and answers `302` to
//!   `redirect_uri?code=...&state=...`.
//! - `POST /token` authenticates the client by HTTP Basic (the `oauth2` crate's default) and
//!   serves `authorization_code` (code known, unused, unexpired by the provider's clock, same
//!   `redirect_uri`, `BASE64URL(SHA256(code_verifier)) == code_challenge`) and `refresh_token`.
//!   Refusals are RFC 6749 section 5.2 JSON, e.g. `400 {"error": "invalid_grant", ...}`.
//!   Refreshes can be held, to play a slow provider ([`OAuthProvider::hold_refreshes`]).
//! - `GET /me` answers a bearer token with its scopes, or `401` once it has expired, so a tool
//!   can prove the token it got works.
//!
//! Codes and tokens are distinctive strings (`fact-at-...`), easy to search for in a file.
//! `state` and codes are sent back unencoded: both are URL-safe here.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use fact_runtime::{Clock as _, ManualClock};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// How the provider behaves; [`Default`] suits most tests.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    /// The only client registered.
    pub client_id: String,
    /// Its secret, expected by HTTP Basic at the token endpoint.
    pub client_secret: String,
    /// The only redirect URI registered for it.
    pub redirect_uri: String,
    /// `expires_in` of each access token.
    pub access_token_lifetime: Duration,
    /// How long an authorization code can be exchanged.
    pub code_lifetime: Duration,
    /// When set, the provider grants only the requested scopes in this list and says which in
    /// the token response's `scope`; when `None` it grants all and omits `scope`.
    pub grant_only: Option<Vec<String>>,
    /// Whether the code exchange returns a refresh token (a refresh never returns a new one).
    pub issue_refresh_tokens: bool,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            client_id: "fact-test-client".to_owned(),
            client_secret: "fact-test-client-secret".to_owned(),
            redirect_uri: "http://127.0.0.1/oauth/callback".to_owned(),
            access_token_lifetime: Duration::from_secs(3600),
            code_lifetime: Duration::from_secs(60),
            grant_only: None,
            issue_refresh_tokens: true,
        }
    }
}

/// A running provider; stops when dropped.
#[derive(Debug)]
pub struct OAuthProvider {
    base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct Shared {
    settings: ProviderSettings,
    clock: ManualClock,
    issued: Mutex<Issued>,
    fail_refresh: AtomicBool,
    /// Refresh requests wait while this is `false`.
    refresh_gate: watch::Sender<bool>,
    /// Told when a refresh request arrives.
    refresh_arrived: Notify,
    code_exchanges: AtomicUsize,
    refreshes: AtomicUsize,
    serial: AtomicUsize,
    /// The PKCE verifiers `authorization_code` requests presented, in order.
    verifiers: Mutex<Vec<String>>,
}

#[derive(Debug, Default)]
struct Issued {
    codes: HashMap<String, IssuedCode>,
    access_tokens: HashMap<String, (Vec<String>, Duration)>,
    refresh_tokens: HashMap<String, Vec<String>>,
}

#[derive(Debug)]
struct IssuedCode {
    challenge: String,
    redirect_uri: String,
    scopes: Vec<String>,
    expires_at: Duration,
    used: bool,
}

impl OAuthProvider {
    /// Serves a provider with `settings` whose time is `clock`.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub async fn start(settings: ProviderSettings, clock: ManualClock) -> Self {
        let shared = Arc::new(Shared {
            settings,
            clock,
            issued: Mutex::default(),
            fail_refresh: AtomicBool::new(false),
            refresh_gate: watch::Sender::new(true),
            refresh_arrived: Notify::new(),
            code_exchanges: AtomicUsize::new(0),
            refreshes: AtomicUsize::new(0),
            serial: AtomicUsize::new(0),
            verifiers: Mutex::default(),
        });
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/me", get(me))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base_url: format!("http://{addr}"),
            shared,
            server,
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &ProviderSettings {
        &self.shared.settings
    }

    /// `GET` endpoint where users approve.
    pub fn authorization_url(&self) -> String {
        format!("{}/authorize", self.base_url)
    }

    /// `POST` endpoint for the code and refresh grants.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url)
    }

    /// `GET` endpoint that checks a bearer token.
    pub fn resource_url(&self) -> String {
        format!("{}/me", self.base_url)
    }

    /// Makes every later refresh fail with `invalid_grant` (as when the user revoked access at
    /// the provider).
    pub fn fail_refreshes(&self, fail: bool) {
        self.shared.fail_refresh.store(fail, Ordering::SeqCst);
    }

    /// While `hold` is set, refresh requests wait before they are answered: a slow provider.
    pub fn hold_refreshes(&self, hold: bool) {
        self.shared.refresh_gate.send_replace(!hold);
    }

    /// Returns once a refresh request has arrived (waiting, when refreshes are held).
    pub async fn refresh_arrived(&self) {
        self.shared.refresh_arrived.notified().await;
    }

    /// `authorization_code` requests received, accepted or not.
    pub fn code_exchanges(&self) -> usize {
        self.shared.code_exchanges.load(Ordering::SeqCst)
    }

    /// `refresh_token` requests received, accepted or not.
    pub fn refreshes(&self) -> usize {
        self.shared.refreshes.load(Ordering::SeqCst)
    }

    /// The PKCE `code_verifier`s of the `authorization_code` requests received, in order: the
    /// secrets a test can then look for where they must not be (a database file, a log).
    pub fn code_verifiers(&self) -> Vec<String> {
        self.shared
            .verifiers
            .lock()
            .expect("provider state")
            .clone()
    }
}

impl Drop for OAuthProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Shared {
    fn mint(&self, kind: &str) -> String {
        let serial = self.serial.fetch_add(1, Ordering::SeqCst);
        let random = RandomState::new().hash_one(serial);
        format!("fact-{kind}-{serial:04}-{random:016x}")
    }

    fn issued(&self) -> std::sync::MutexGuard<'_, Issued> {
        self.issued.lock().expect("provider state")
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, Json(body)).into_response()
}

async fn authorize(
    State(p): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| q.get(name).map(String::as_str).unwrap_or_default();
    let refusal = if field("client_id") != p.settings.client_id {
        Some("unknown client_id")
    } else if field("redirect_uri") != p.settings.redirect_uri {
        Some("redirect_uri is not registered")
    } else if field("response_type") != "code" {
        Some("response_type must be code")
    } else if field("code_challenge_method") != "S256" || field("code_challenge").is_empty() {
        Some("PKCE with code_challenge_method=S256 is required")
    } else if field("state").is_empty() {
        Some("state is required")
    } else {
        None
    };
    if let Some(reason) = refusal {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", reason);
    }
    let scopes = field("scope")
        .split_whitespace()
        .filter(|s| {
            p.settings
                .grant_only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| o == s))
        })
        .map(str::to_owned)
        .collect();
    let code = p.mint("code");
    let issued = IssuedCode {
        challenge: field("code_challenge").to_owned(),
        redirect_uri: field("redirect_uri").to_owned(),
        scopes,
        expires_at: p.clock.now() + p.settings.code_lifetime,
        used: false,
    };
    p.issued().codes.insert(code.clone(), issued);
    let location = format!(
        "{}?code={code}&state={}",
        field("redirect_uri"),
        field("state")
    );
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

async fn token(
    State(p): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!("{}:{}", p.settings.client_id, p.settings.client_secret);
    let client_ok = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| STANDARD.decode(b64).ok())
        .is_some_and(|creds| creds == expected.as_bytes());
    if !client_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "bad client credentials",
        );
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let now = p.clock.now();
    let (scopes, refresh) = match field("grant_type") {
        "authorization_code" => {
            p.code_exchanges.fetch_add(1, Ordering::SeqCst);
            p.verifiers
                .lock()
                .expect("provider state")
                .push(field("code_verifier").to_owned());
            let mut issued = p.issued();
            let Some(code) = issued.codes.get_mut(field("code")) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier")));
            let refusal = if code.used {
                Some("code already used")
            } else if now >= code.expires_at {
                Some("code expired")
            } else if code.redirect_uri != field("redirect_uri") {
                Some("redirect_uri differs from the authorization request's")
            } else if challenge != code.challenge {
                Some("PKCE code_verifier does not match the code_challenge")
            } else {
                None
            };
            code.used = true;
            if let Some(reason) = refusal {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason);
            }
            (code.scopes.clone(), p.settings.issue_refresh_tokens)
        }
        "refresh_token" => {
            p.refreshes.fetch_add(1, Ordering::SeqCst);
            p.refresh_arrived.notify_one();
            let _ = p.refresh_gate.subscribe().wait_for(|open| *open).await;
            let known = p
                .issued()
                .refresh_tokens
                .get(field("refresh_token"))
                .cloned();
            match known {
                Some(scopes) if !p.fail_refresh.load(Ordering::SeqCst) => (scopes, false),
                _ => {
                    let reason = "refresh token revoked or unknown";
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", reason);
                }
            }
        }
        _ => {
            let reason = "grant_type must be authorization_code or refresh_token";
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", reason);
        }
    };
    let lifetime = p.settings.access_token_lifetime;
    let access_token = p.mint("at");
    let mut body = json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": lifetime.as_secs(),
    });
    let mut issued = p.issued();
    issued
        .access_tokens
        .insert(access_token, (scopes.clone(), now + lifetime));
    if refresh {
        let refresh_token = p.mint("rt");
        issued
            .refresh_tokens
            .insert(refresh_token.clone(), scopes.clone());
        body["refresh_token"] = Value::from(refresh_token);
    }
    if p.settings.grant_only.is_some() {
        body["scope"] = Value::from(scopes.join(" "));
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn me(State(p): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match p.issued().access_tokens.get(token) {
        Some((scopes, expires_at)) if p.clock.now() < *expires_at => {
            Json(json!({"scopes": scopes})).into_response()
        }
        _ => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "unknown or expired token",
        ),
    }
}
