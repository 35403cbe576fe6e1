//! [`ArcadeClient`]: the Arcade Engine API over one pooled HTTP client, with retries that never
//! run a tool twice (docs/ARCHITECTURE.md, "Remote execution").

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

use super::error::ArcadeError;
use super::retry::{self, Sleeper, TokioSleeper};
use super::wire::{
    AuthorizationResponse, AuthorizeRequest, ErrorBody, ExecuteRequest, ExecuteResponse, Health,
    Page, Tool,
};

/// The public Arcade Engine.
pub const DEFAULT_BASE_URL: &str = "https://api.arcade.dev";
/// The environment variable holding the API key.
pub const API_KEY_ENV: &str = "ARCADE_API_KEY";
/// The environment variable overriding [`DEFAULT_BASE_URL`].
pub const BASE_URL_ENV: &str = "ARCADE_BASE_URL";
/// How long one attempt may take, answer read included, unless set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long making a connection may take, unless set.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a failed request is tried again, unless set.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The largest answer body read, unless set.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// How long a pooled connection may sit idle before the client closes it, unless set: below
/// the idle timeouts of common servers (FACT's own closes an idle connection after 10 s), so
/// that a request is never sent on a connection the server is closing.
pub const DEFAULT_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most tools [`ArcadeClient::all_tools`] reads.
pub const MAX_LISTED_TOOLS: usize = 10_000;
/// The longest [`ArcadeClient::auth_status`] asks the Engine to hold a request.
pub const MAX_AUTH_WAIT: Duration = Duration::from_secs(59);

/// A client of an Arcade Engine: `GET /v1/health`, the tool catalogue, `POST
/// /v1/tools/execute`, and the authorization endpoints. Cheap to clone; clones share one
/// connection pool.
///
/// Reads are retried on connection failures, timeouts, 408, 429 and 5xx. An execute is retried
/// only when the tool provably did not run: no connection was made, the Engine answered 429,
/// or it said `x-should-retry: true`. Waits double from 0.5 s (with jitter) unless the Engine
/// asks for one with `retry-after-ms` or `Retry-After`, honoured up to a minute.
///
/// The API key goes in `Authorization: Bearer <key>` and nowhere else: not in errors, logs or
/// `Debug`.
///
/// ```no_run
/// use fact_runtime::arcade::ArcadeClient;
/// use fact_runtime::arcade::wire::ExecuteRequest;
/// use serde_json::json;
///
/// # async fn run() -> Result<(), fact_runtime::arcade::ArcadeError> {
/// let client = ArcadeClient::builder(std::env::var("ARCADE_API_KEY").unwrap_or_default())
///     .base_url("http://127.0.0.1:8080/arcade")
///     .max_retries(3)
///     .build()?;
/// let tools = client.all_tools(Some("Math")).await?;
/// println!("{} tools", tools.len());
/// let mut request = ExecuteRequest::default();
/// request.tool_name = "Math.Add".to_owned();
/// request.input = json!({"a": 1, "b": 2}).as_object().cloned().unwrap_or_default();
/// let response = client.execute(&request, None).await?;
/// assert!(response.success);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ArcadeClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    authorization: HeaderValue,
    timeout: Duration,
    max_retries: u32,
    max_response_bytes: usize,
    sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for ArcadeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcadeClient")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &"<redacted>")
            .field("timeout", &self.inner.timeout)
            .field("max_retries", &self.inner.max_retries)
            .finish_non_exhaustive()
    }
}

/// Configures an [`ArcadeClient`].
pub struct ArcadeClientBuilder {
    api_key: String,
    base_url: String,
    timeout: Duration,
    connect_timeout: Duration,
    pool_idle_timeout: Duration,
    max_retries: u32,
    max_response_bytes: usize,
    sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for ArcadeClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArcadeClientBuilder")
            .field("base_url", &self.base_url)
            .field("api_key", &"<redacted>")
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish_non_exhaustive()
    }
}

impl ArcadeClientBuilder {
    /// The Engine's base URL (default [`DEFAULT_BASE_URL`]); a FACT server's Engine API is at
    /// `http://HOST:PORT/arcade`.
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
        self
    }

    /// How long one attempt may take, answer read included (default [`DEFAULT_TIMEOUT`]). An
    /// execute is bounded by its tool's deadline too.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long making a connection may take (default [`DEFAULT_CONNECT_TIMEOUT`]).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a pooled connection may sit idle before it is closed (default
    /// [`DEFAULT_POOL_IDLE_TIMEOUT`]). Keep it below the Engine's own idle timeout: an execute
    /// sent on a connection the Engine is closing fails, and is not retried, since it may have
    /// reached the tool.
    #[must_use]
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many times a failed request is tried again (default [`DEFAULT_MAX_RETRIES`]).
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The largest answer body read (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a larger one is
    /// [`ArcadeError::TooLarge`].
    #[must_use]
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// What waits between attempts (default: tokio's timer). Tests record the waits instead.
    #[must_use]
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    /// Builds the client and its connection pool.
    ///
    /// # Errors
    ///
    /// [`ArcadeError::Config`] when the key is empty or not sendable in a header, the base URL
    /// is not an `http(s)` URL or carries credentials, or a timeout is zero.
    pub fn build(self) -> Result<ArcadeClient, ArcadeError> {
        let key = self.api_key.trim();
        if key.is_empty() {
            return Err(ArcadeError::Config(format!(
                "the API key is empty: set {API_KEY_ENV} or pass one"
            )));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
            ArcadeError::Config("the API key has characters a header cannot carry".to_owned())
        })?;
        authorization.set_sensitive(true);
        let base = parse_base_url(&self.base_url)?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(ArcadeError::Config(
                "the timeout and the connect timeout must be above zero".to_owned(),
            ));
        }
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("fact-runtime/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .connect_timeout(self.connect_timeout)
            .pool_idle_timeout(self.pool_idle_timeout)
            // The Engine's answers are JSON of its own; a redirect elsewhere is not followed
            // with the key.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| ArcadeError::Config(format!("HTTP client: {error}")))?;
        Ok(ArcadeClient {
            inner: Arc::new(Inner {
                http,
                base,
                authorization,
                timeout: self.timeout,
                max_retries: self.max_retries,
                max_response_bytes: self.max_response_bytes,
                sleeper: self.sleeper,
            }),
        })
    }
}

/// `base_url` with a trailing slash, so that endpoint paths join below it.
fn parse_base_url(base_url: &str) -> Result<Url, ArcadeError> {
    let mut base = Url::parse(base_url.trim())
        .map_err(|error| ArcadeError::Config(format!("the base URL is not a URL: {error}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(ArcadeError::Config(format!(
            "the base URL must be http or https, not '{}'",
            base.scheme()
        )));
    }
    if !base.username().is_empty() || base.password().is_some() {
        return Err(ArcadeError::Config(format!(
            "the base URL must not carry credentials: put the key in {API_KEY_ENV}"
        )));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(ArcadeError::Config(
            "the base URL must not have a query or a fragment".to_owned(),
        ));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// Which requests may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retries {
    /// A read: any failure that another try may fix.
    Read,
    /// An execute: only when the tool provably did not run.
    Execute,
}

/// The query of one page of [`ArcadeClient::list_tools`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolQuery {
    /// The most tools on the page (the Engine's default when `None`: 25).
    pub limit: Option<u32>,
    /// The position of the page's first tool.
    pub offset: Option<u64>,
    /// Only the tools of this toolkit.
    pub toolkit: Option<String>,
    /// Formats to include in each tool's `formatted_schema` (`openai`, `anthropic`).
    pub include_format: Vec<String>,
}

impl ToolQuery {
    /// The first page, at the Engine's default size.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pages of at most `limit` tools.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The page starting at `offset`.
    #[must_use]
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Only the tools of `toolkit`.
    #[must_use]
    pub fn toolkit(mut self, toolkit: impl Into<String>) -> Self {
        self.toolkit = Some(toolkit.into());
        self
    }

    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(limit) = self.limit {
            pairs.push(("limit", limit.to_string()));
        }
        if let Some(offset) = self.offset {
            pairs.push(("offset", offset.to_string()));
        }
        if let Some(toolkit) = &self.toolkit {
            pairs.push(("toolkit", toolkit.clone()));
        }
        if !self.include_format.is_empty() {
            pairs.push(("include_format", self.include_format.join(",")));
        }
        pairs
    }
}

impl ArcadeClient {
    /// A client of the public Engine ([`DEFAULT_BASE_URL`]) with `api_key` and the defaults.
    ///
    /// # Errors
    ///
    /// As [`ArcadeClientBuilder::build`].
    pub fn new(api_key: impl Into<String>) -> Result<Self, ArcadeError> {
        Self::builder(api_key).build()
    }

    /// A client configured from [`API_KEY_ENV`] and, when set, [`BASE_URL_ENV`].
    ///
    /// # Errors
    ///
    /// [`ArcadeError::Config`] when the key is not set, and as [`ArcadeClientBuilder::build`].
    pub fn from_env() -> Result<Self, ArcadeError> {
        let key = std::env::var(API_KEY_ENV)
            .map_err(|_| ArcadeError::Config(format!("{API_KEY_ENV} is not set")))?;
        let mut builder = Self::builder(key);
        if let Ok(base_url) = std::env::var(BASE_URL_ENV)
            && !base_url.trim().is_empty()
        {
            builder = builder.base_url(base_url);
        }
        builder.build()
    }

    /// A builder with `api_key` and the defaults.
    pub fn builder(api_key: impl Into<String>) -> ArcadeClientBuilder {
        ArcadeClientBuilder {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            pool_idle_timeout: DEFAULT_POOL_IDLE_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// The Engine's base URL, ending in `/`.
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// `GET /v1/health`.
    ///
    /// # Errors
    ///
    /// [`ArcadeError`] when the Engine cannot be reached or answers otherwise than a health
    /// report (an unhealthy Engine answers 503).
    pub async fn health(&self) -> Result<Health, ArcadeError> {
        self.send(
            Method::GET,
            "v1/health",
            &[],
            None,
            Retries::Read,
            None,
            &["healthy"],
        )
        .await
    }

    /// `GET /v1/tools`: one page of the catalogue.
    ///
    /// # Errors
    ///
    /// [`ArcadeError`] when the Engine cannot be reached or answers otherwise than a page.
    pub async fn list_tools(&self, query: &ToolQuery) -> Result<Page<Tool>, ArcadeError> {
        self.page(query).await
    }

    /// One page of `GET /v1/tools`, its items read as `T`.
    async fn page<T: DeserializeOwned + Default>(
        &self,
        query: &ToolQuery,
    ) -> Result<Page<T>, ArcadeError> {
        self.send(
            Method::GET,
            "v1/tools",
            &query.pairs(),
            None,
            Retries::Read,
            None,
            &["items"],
        )
        .await
    }

    /// Every tool of the catalogue (of `toolkit` when given), read page by page. An entry that
    /// is not a tool definition is left out with a warning naming it: one bad entry does not
    /// hide the others.
    ///
    /// # Errors
    ///
    /// As [`list_tools`](Self::list_tools), and [`ArcadeError::Malformed`] past
    /// [`MAX_LISTED_TOOLS`] tools.
    pub async fn all_tools(&self, toolkit: Option<&str>) -> Result<Vec<Tool>, ArcadeError> {
        Ok(self
            .catalogue(toolkit)
            .await?
            .into_iter()
            .filter_map(|entry| {
                entry
                    .map_err(|problem| tracing::warn!(%problem, "Arcade Engine tool left out"))
                    .ok()
            })
            .collect())
    }

    /// Every entry of the catalogue, each a tool or why it is not one.
    pub(crate) async fn catalogue(
        &self,
        toolkit: Option<&str>,
    ) -> Result<Vec<Result<Tool, String>>, ArcadeError> {
        let mut entries: Vec<Result<Tool, String>> = Vec::new();
        loop {
            let mut query = ToolQuery::new().limit(100).offset(entries.len() as u64);
            query.toolkit = toolkit.map(str::to_owned);
            let page: Page<Value> = self.page(&query).await?;
            let read = page.items.len();
            for (index, item) in page.items.into_iter().enumerate() {
                let position = entries.len() + index;
                let name = item
                    .get("qualified_name")
                    .or_else(|| item.get("name"))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("entry {position}"), |name| format!("'{name}'"));
                entries.push(serde_json::from_value::<Tool>(item).map_err(|error| {
                    format!("remote tool {name} is left out: not a tool definition ({error})")
                }));
            }
            if entries.len() > MAX_LISTED_TOOLS {
                return Err(ArcadeError::Malformed {
                    endpoint: "GET /v1/tools".to_owned(),
                    problem: format!("more than {MAX_LISTED_TOOLS} tools"),
                });
            }
            if read == 0 || entries.len() as u64 >= page.total_count {
                return Ok(entries);
            }
        }
    }

    /// `GET /v1/tools/{name}`.
    ///
    /// # Errors
    ///
    /// [`ArcadeError::Status`] 404 when the Engine has no such tool, and as
    /// [`list_tools`](Self::list_tools).
    pub async fn tool(&self, name: &str) -> Result<Tool, ArcadeError> {
        let path = format!("v1/tools/{name}");
        self.send(
            Method::GET,
            &path,
            &[],
            None,
            Retries::Read,
            None,
            &["name"],
        )
        .await
    }

    /// `POST /v1/tools/execute`, within `deadline` when given. A tool's own failure is an
    /// `Ok` answer with `success: false`.
    ///
    /// # Errors
    ///
    /// [`ArcadeError`] when the Engine could not be reached, failed, or answered otherwise
    /// than an execute response; [`ArcadeError::may_have_run`] says whether the tool may have
    /// run.
    pub async fn execute(
        &self,
        request: &ExecuteRequest,
        deadline: Option<Instant>,
    ) -> Result<ExecuteResponse, ArcadeError> {
        self.send(
            Method::POST,
            "v1/tools/execute",
            &[],
            Some(json_body(request, "execute")?),
            Retries::Execute,
            deadline,
            &["success"],
        )
        .await
    }

    /// `POST /v1/tools/authorize`: starts (or reports) the authorization a tool needs for a
    /// user.
    ///
    /// # Errors
    ///
    /// [`ArcadeError`] when the Engine could not be reached, failed, or answered otherwise
    /// than an authorization.
    pub async fn authorize(
        &self,
        request: &AuthorizeRequest,
    ) -> Result<AuthorizationResponse, ArcadeError> {
        self.send(
            Method::POST,
            "v1/tools/authorize",
            &[],
            Some(json_body(request, "authorize")?),
            // Starting a flow twice only makes a second URL: safe to retry as a read.
            Retries::Read,
            None,
            &["status"],
        )
        .await
    }

    /// `GET /v1/auth/status`: where authorization `id` stands, waiting up to `wait` (at most
    /// [`MAX_AUTH_WAIT`]) for it to complete.
    ///
    /// # Errors
    ///
    /// As [`authorize`](Self::authorize).
    pub async fn auth_status(
        &self,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<AuthorizationResponse, ArcadeError> {
        let mut query = vec![("id", id.to_owned())];
        if let Some(wait) = wait {
            query.push(("wait", wait.min(MAX_AUTH_WAIT).as_secs().to_string()));
        }
        self.send(
            Method::GET,
            "v1/auth/status",
            &query,
            None,
            Retries::Read,
            None,
            &["status"],
        )
        .await
    }

    /// Sends a request, tries again as `retries` allows, and reads the answer as a `T` whose
    /// JSON object has every key of `required`.
    #[allow(clippy::too_many_arguments)]
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        retries: Retries,
        deadline: Option<Instant>,
        required: &[&str],
    ) -> Result<T, ArcadeError> {
        let inner = &*self.inner;
        let endpoint = format!("{method} /{path}");
        let mut url = inner.base.join(path).map_err(|error| {
            ArcadeError::Config(format!(
                "{endpoint} is not a path below the base URL: {error}"
            ))
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut retry = 0;
        loop {
            let attempt = self
                .attempt(&method, &url, &endpoint, body.as_deref(), deadline)
                .await;
            let error = match attempt {
                Ok(bytes) => return parse(&endpoint, &bytes, required),
                Err(error) => error,
            };
            if retry >= inner.max_retries || !retryable(&error, retries) {
                return Err(error);
            }
            let asked = match &error {
                ArcadeError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let Some(wait) = retry::delay(retry, asked) else {
                return Err(error);
            };
            if deadline.is_some_and(|deadline| Instant::now() + wait >= deadline) {
                return Err(error);
            }
            tracing::debug!(
                endpoint = %endpoint,
                retry = retry + 1,
                wait_ms = wait.as_millis() as u64,
                error = %error,
                "retrying a request to the Arcade Engine"
            );
            inner.sleeper.sleep(wait).await;
            retry += 1;
        }
    }

    /// One try: the answer's body when its status is a success, else why not.
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        endpoint: &str,
        body: Option<&[u8]>,
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, ArcadeError> {
        let inner = &*self.inner;
        let own_end = Instant::now() + inner.timeout;
        let (end, by_deadline) = match deadline {
            Some(deadline) if deadline < own_end => (deadline, true),
            _ => (own_end, false),
        };
        let started = Instant::now();
        let timed_out = || ArcadeError::Timeout {
            endpoint: endpoint.to_owned(),
            after: end.saturating_duration_since(started),
            deadline: by_deadline,
        };
        if end <= started {
            return Err(timed_out());
        }
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .header(header::AUTHORIZATION, inner.authorization.clone());
        if let Some(body) = body {
            request = request
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let exchange = async {
            let response = request
                .send()
                .await
                .map_err(|error| transport_error(endpoint, &error))?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = read_bounded(response, endpoint, inner.max_response_bytes).await?;
            Ok::<_, ArcadeError>((status, headers, bytes))
        };
        let (status, headers, bytes) = tokio::time::timeout_at(end, exchange)
            .await
            .map_err(|_elapsed| timed_out())??;
        if status.is_success() {
            return Ok(bytes);
        }
        Err(ArcadeError::Status {
            endpoint: endpoint.to_owned(),
            status: status.as_u16(),
            message: error_message(&bytes, status),
            retry_after: retry::retry_after(&headers),
            should_retry: retry::should_retry(&headers),
        })
    }
}

/// `request` as the JSON body of the `what` request.
fn json_body(request: &impl serde::Serialize, what: &str) -> Result<Vec<u8>, ArcadeError> {
    serde_json::to_vec(request).map_err(|error| {
        ArcadeError::Config(format!("the {what} request does not serialize: {error}"))
    })
}

/// Whether another try may fix `error`, for a request of `retries`.
fn retryable(error: &ArcadeError, retries: Retries) -> bool {
    match (retries, error) {
        (_, ArcadeError::Connect { .. }) => true,
        (
            _,
            ArcadeError::Status {
                should_retry: Some(should_retry),
                ..
            },
        ) => *should_retry,
        (_, ArcadeError::Status { status: 429, .. }) => true,
        (Retries::Read, ArcadeError::Status { status, .. }) => *status == 408 || *status >= 500,
        (Retries::Read, ArcadeError::Timeout { deadline, .. }) => !deadline,
        (Retries::Read, ArcadeError::Transport { .. }) => true,
        _ => false,
    }
}

/// A request that failed in reqwest: before the connection was made, or after.
fn transport_error(endpoint: &str, error: &reqwest::Error) -> ArcadeError {
    // The URL is the base URL and a path: no secret, but the message says enough without it.
    let reason = innermost(error);
    if error.is_connect() {
        ArcadeError::Connect {
            endpoint: endpoint.to_owned(),
            reason,
        }
    } else {
        ArcadeError::Transport {
            endpoint: endpoint.to_owned(),
            reason,
        }
    }
}

/// The most specific cause of `error` (`Connection refused`), which reqwest's own message
/// wraps in generic ones.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// The body of `response`, refused past `limit` bytes before more is read.
async fn read_bounded(
    mut response: reqwest::Response,
    endpoint: &str,
    limit: usize,
) -> Result<Vec<u8>, ArcadeError> {
    let too_large = || ArcadeError::TooLarge {
        endpoint: endpoint.to_owned(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(endpoint, &error))?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The Engine's message in an error answer: its `message`, else a short text body.
fn error_message(body: &[u8], status: StatusCode) -> Option<String> {
    if let Ok(error) = serde_json::from_slice::<ErrorBody>(body)
        && let Some(message) = error.message.filter(|m| !m.is_empty())
    {
        return Some(clip(&message));
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return status.canonical_reason().map(str::to_owned);
    }
    Some(clip(text))
}

/// `text`, cut to 300 characters: an error message quotes a remote, it does not relay it.
fn clip(text: &str) -> String {
    const MAX: usize = 300;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// `bytes` as a `T`, when they are a JSON object with every key of `required`.
fn parse<T: DeserializeOwned>(
    endpoint: &str,
    bytes: &[u8],
    required: &[&str],
) -> Result<T, ArcadeError> {
    let malformed = |problem: String| ArcadeError::Malformed {
        endpoint: endpoint.to_owned(),
        problem,
    };
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|error| malformed(format!("a body that is not JSON ({error})")))?;
    let Some(object) = value.as_object() else {
        return Err(malformed("JSON that is not an object".to_owned()));
    };
    if let Some(missing) = required.iter().find(|key| !object.contains_key(**key)) {
        return Err(malformed(format!("an object without '{missing}'")));
    }
    serde_json::from_value(value)
        .map_err(|error| malformed(format!("an object of the wrong shape ({error})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_never_shown() {
        let builder = ArcadeClient::builder("arc_secret_key_0123456789")
            .base_url("http://127.0.0.1:9/arcade");
        assert!(!format!("{builder:?}").contains("arc_secret"));
        let client = builder.build().expect("builds");
        assert!(!format!("{client:?}").contains("arc_secret"));
        assert_eq!(client.base_url(), "http://127.0.0.1:9/arcade/");
    }

    #[test]
    fn bad_configuration_is_refused_with_its_reason() {
        let refused =
            |builder: ArcadeClientBuilder| builder.build().expect_err("refused").to_string();
        assert!(refused(ArcadeClient::builder("  ")).contains("API key is empty"));
        assert!(
            refused(ArcadeClient::builder("k\ney")).contains("characters a header cannot carry")
        );
        assert!(
            refused(ArcadeClient::builder("key").base_url("ftp://x")).contains("http or https")
        );
        assert!(
            refused(ArcadeClient::builder("key").base_url("http://u:p@x")).contains("credentials")
        );
        assert!(
            refused(ArcadeClient::builder("key").timeout(Duration::ZERO)).contains("above zero")
        );
    }

    #[test]
    fn answers_that_are_not_the_endpoints_are_malformed() {
        let read = |body: &str| {
            parse::<ExecuteResponse>("POST /v1/tools/execute", body.as_bytes(), &["success"])
                .expect_err("refused")
                .to_string()
        };
        assert!(read("<html>").contains("not JSON"));
        assert!(read("[1]").contains("not an object"));
        assert!(read("{\"items\": []}").contains("without 'success'"));
        assert!(read("{\"success\": \"yes\"}").contains("wrong shape"));
    }

    #[test]
    fn executes_are_retried_only_when_the_tool_provably_did_not_run() {
        let status = |status: u16, should_retry: Option<bool>| ArcadeError::Status {
            endpoint: String::new(),
            status,
            message: None,
            retry_after: None,
            should_retry,
        };
        let timeout = ArcadeError::Timeout {
            endpoint: String::new(),
            after: Duration::from_secs(1),
            deadline: false,
        };
        let connect = ArcadeError::Connect {
            endpoint: String::new(),
            reason: "refused".to_owned(),
        };
        for (error, read, execute) in [
            (connect, true, true),
            (status(429, None), true, true),
            (status(503, Some(true)), true, true),
            (status(500, None), true, false),
            (status(502, Some(false)), false, false),
            (status(408, None), true, false),
            (status(404, None), false, false),
            (timeout, true, false),
        ] {
            assert_eq!(retryable(&error, Retries::Read), read, "read {error}");
            assert_eq!(
                retryable(&error, Retries::Execute),
                execute,
                "execute {error}"
            );
            if execute {
                assert!(!error.may_have_run(), "{error}");
            }
        }
    }
}
