//! [`RateLimitConfig`]: rate limiting as one value, read from the environment by
//! [`from_env`](RateLimitConfig::from_env) for `fact serve` and for any program that wants the
//! same variables.

use std::fmt;
use std::sync::Arc;

use super::{RateLimit, RateLimitStore, StoreErrorPolicy};

/// Calls per minute per caller; unset: rate limiting is off.
pub(crate) const PER_MINUTE_ENV: &str = "FACT_RATE_LIMIT_PER_MINUTE";
/// Calls back to back; default: the per-minute quota.
pub(crate) const BURST_ENV: &str = "FACT_RATE_LIMIT_BURST";
/// Whether quotas count per user (default `true`) or for all callers together.
pub(crate) const BY_USER_ENV: &str = "FACT_RATE_LIMIT_BY_USER";
/// `Toolkit.Tool=N,...`: tools' own quotas, per minute.
pub(crate) const TOOLS_ENV: &str = "FACT_RATE_LIMIT_TOOLS";
/// `deny` (default) or `allow`.
pub(crate) const ON_STORE_ERROR_ENV: &str = "FACT_RATE_LIMIT_ON_STORE_ERROR";
/// The Redis shared by replicas; unset: quotas are counted in process.
pub(crate) const REDIS_URL_ENV: &str = "REDIS_URL";

/// Every variable [`RateLimitConfig::from_env`] reads, in the order `fact serve --help` lists
/// them.
pub const RATE_LIMIT_VARIABLES: [&str; 6] = [
    PER_MINUTE_ENV,
    BURST_ENV,
    BY_USER_ENV,
    TOOLS_ENV,
    ON_STORE_ERROR_ENV,
    REDIS_URL_ENV,
];

/// A variable of [`RateLimitConfig::from_env`] whose value cannot be used. The message names
/// the variable and what was expected; it never repeats `REDIS_URL`'s value, which may hold a
/// password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} is not valid: {problem}")]
pub struct RateLimitConfigError {
    variable: &'static str,
    problem: String,
}

impl RateLimitConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }

    /// The variable at fault.
    pub fn variable(&self) -> &'static str {
        self.variable
    }
}

/// How an executor limits calls: the quota of each caller, whether callers are users, tools'
/// own quotas, where the counts live and what a store error does.
///
/// ```
/// use fact_runtime::{RateLimit, RateLimitConfig, StoreErrorPolicy, ToolExecutor};
///
/// let config = RateLimitConfig::new(RateLimit::per_minute(120).burst(20))
///     .tool("MyApp.Search", RateLimit::per_minute(10))
///     .on_store_error(StoreErrorPolicy::Allow);
/// assert_eq!(
///     config.to_string(),
///     "120 calls a minute per user, bursts of 20; MyApp.Search: 10 a minute; counted in process"
/// );
/// let executor = ToolExecutor::builder()
///     .discover_linked_tools(false)
///     .register(fact_runtime::ToolDefinition::new(
///         "MyApp.Search",
///         "searches",
///         fact_runtime::serde_json::json!({"type": "object"}),
///         |_ctx, _args| async { Ok(fact_runtime::serde_json::Value::Null) },
///     ))
///     .rate_limits(config)
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub(crate) quota: RateLimit,
    pub(crate) by_user: bool,
    pub(crate) per_tool: Vec<(String, RateLimit)>,
    pub(crate) on_store_error: StoreErrorPolicy,
    pub(crate) store: Option<Arc<dyn RateLimitStore>>,
}

impl RateLimitConfig {
    /// `quota` for each user (anonymous callers share one), no tool quotas beyond the tools'
    /// own `#[tool(rate_limit)]`, counted in process, store errors refused.
    pub fn new(quota: RateLimit) -> Self {
        Self {
            quota,
            by_user: true,
            per_tool: Vec::new(),
            on_store_error: StoreErrorPolicy::Deny,
            store: None,
        }
    }

    /// Whether the quota counts per user (default `true`) or for all callers together.
    #[must_use]
    pub fn by_user(mut self, by_user: bool) -> Self {
        self.by_user = by_user;
        self
    }

    /// A quota of the tool `name` (its name or its exported name), on top of the executor's.
    #[must_use]
    pub fn tool(mut self, name: impl Into<String>, quota: RateLimit) -> Self {
        self.per_tool.push((name.into(), quota));
        self
    }

    /// What a call meets when the store cannot decide (default [`StoreErrorPolicy::Deny`]).
    #[must_use]
    pub fn on_store_error(mut self, policy: StoreErrorPolicy) -> Self {
        self.on_store_error = policy;
        self
    }

    /// Counts in `store` (Redis, shared by replicas) instead of in process.
    #[must_use]
    pub fn store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The shared store, when the counts do not live in process.
    pub fn shared_store(&self) -> Option<&Arc<dyn RateLimitStore>> {
        self.store.as_ref()
    }

    /// Rate limiting as the environment describes it, or `None` when
    /// `FACT_RATE_LIMIT_PER_MINUTE` is unset (or blank): then rate limiting is off.
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `FACT_RATE_LIMIT_PER_MINUTE` | calls per minute per caller (at least 1) | unset: off |
    /// | `FACT_RATE_LIMIT_BURST` | calls back to back (at least 1) | the per-minute quota |
    /// | `FACT_RATE_LIMIT_BY_USER` | `true`: per user; `false`: all callers share one quota | `true` |
    /// | `FACT_RATE_LIMIT_TOOLS` | `Toolkit.Tool=N,...`: tools' own quotas per minute | none |
    /// | `FACT_RATE_LIMIT_ON_STORE_ERROR` | `deny` (503) or `allow` when the store cannot decide | `deny` |
    /// | `REDIS_URL` | `redis://[user:password@]host[:port][/db]`: count in Redis, shared by replicas (feature `redis`) | in process |
    ///
    /// `REDIS_URL` is read only when rate limiting is on (other stores may use it too). The
    /// Redis store is connected lazily: a Redis that is down at start-up is no error here
    /// (see [`RateLimitStore::check`]).
    ///
    /// # Errors
    ///
    /// [`RateLimitConfigError`] naming the first variable whose value cannot be used, and a
    /// `FACT_RATE_LIMIT_*` variable set while `FACT_RATE_LIMIT_PER_MINUTE` is not (it would
    /// have no effect).
    pub fn from_env() -> Result<Option<Self>, RateLimitConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any source of variables.
    pub(crate) fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, RateLimitConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let Some(per_minute) = get(PER_MINUTE_ENV) else {
            let needless = [BURST_ENV, BY_USER_ENV, TOOLS_ENV, ON_STORE_ERROR_ENV]
                .into_iter()
                .find(|name| get(name).is_some());
            return match needless {
                Some(name) => Err(RateLimitConfigError::new(
                    name,
                    format!(
                        "it is set but {PER_MINUTE_ENV} is not, so rate limiting is off: set {PER_MINUTE_ENV} too, or unset {name}"
                    ),
                )),
                None => Ok(None),
            };
        };
        let mut quota = RateLimit::per_minute(positive(PER_MINUTE_ENV, &per_minute)?);
        if let Some(burst) = get(BURST_ENV) {
            quota = quota.burst(positive(BURST_ENV, &burst)?);
        }
        let mut config = Self::new(quota);
        if let Some(by_user) = get(BY_USER_ENV) {
            config.by_user = boolean(BY_USER_ENV, &by_user)?;
        }
        if let Some(tools) = get(TOOLS_ENV) {
            config.per_tool = tool_quotas(&tools)?;
        }
        if let Some(policy) = get(ON_STORE_ERROR_ENV) {
            config.on_store_error = StoreErrorPolicy::parse(&policy).ok_or_else(|| {
                RateLimitConfigError::new(
                    ON_STORE_ERROR_ENV,
                    format!("'{}' is neither 'deny' nor 'allow'", policy.trim()),
                )
            })?;
        }
        if let Some(url) = get(REDIS_URL_ENV) {
            config.store = Some(redis_store(url.trim())?);
        }
        Ok(Some(config))
    }
}

#[cfg(feature = "redis")]
fn redis_store(url: &str) -> Result<Arc<dyn RateLimitStore>, RateLimitConfigError> {
    match super::RedisRateLimitStore::from_url(url) {
        Ok(store) => Ok(Arc::new(store)),
        Err(error) => Err(RateLimitConfigError::new(REDIS_URL_ENV, error.to_string())),
    }
}

#[cfg(not(feature = "redis"))]
fn redis_store(_url: &str) -> Result<Arc<dyn RateLimitStore>, RateLimitConfigError> {
    Err(RateLimitConfigError::new(
        REDIS_URL_ENV,
        "it is set, but this program was built without fact-runtime's `redis` feature: enable it, or unset REDIS_URL to count in process",
    ))
}

impl fmt::Display for RateLimitConfig {
    /// One line for a log, without secrets: `60 calls a minute per user, bursts of 10;
    /// MyApp.Search: 10 a minute; counted in Redis at host:6379 (on store error: deny)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.by_user {
            "per user"
        } else {
            "for all callers together"
        };
        write!(f, "{} calls a minute {who}", self.quota.calls_per_minute())?;
        if self.quota.max_burst() != self.quota.calls_per_minute() {
            write!(f, ", bursts of {}", self.quota.max_burst())?;
        }
        for (name, quota) in &self.per_tool {
            write!(f, "; {name}: {} a minute", quota.calls_per_minute())?;
        }
        match &self.store {
            Some(store) => write!(
                f,
                "; counted in {store:?} (on store error: {})",
                self.on_store_error
            ),
            None => f.write_str("; counted in process"),
        }
    }
}

fn positive(variable: &'static str, value: &str) -> Result<u32, RateLimitConfigError> {
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(RateLimitConfigError::new(
            variable,
            format!(
                "'{}' is not a whole number from 1 to {}",
                value.trim(),
                u32::MAX
            ),
        )),
    }
}

fn boolean(variable: &'static str, value: &str) -> Result<bool, RateLimitConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(RateLimitConfigError::new(
            variable,
            format!(
                "'{}' is not a boolean (true/false, 1/0, yes/no, on/off)",
                value.trim()
            ),
        )),
    }
}

/// `Toolkit.Tool=N,...`; blank entries (a trailing comma) are skipped. Whether each tool
/// exists is the builder's to say, once the registry is known.
fn tool_quotas(value: &str) -> Result<Vec<(String, RateLimit)>, RateLimitConfigError> {
    let mut quotas: Vec<(String, RateLimit)> = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let bad = |why: String| {
            RateLimitConfigError::new(
                TOOLS_ENV,
                format!("entry '{entry}' {why}; expected Toolkit.Tool=N,... with N calls a minute"),
            )
        };
        let Some((name, calls)) = entry.split_once('=') else {
            return Err(bad("has no '='".to_owned()));
        };
        let name = name.trim();
        let shaped = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !shaped {
            return Err(bad(
                "does not name a tool (letters, digits, '_' and '.')".to_owned()
            ));
        }
        let calls = match calls.trim().parse::<u32>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(bad(format!(
                    "gives '{}', not a whole number of calls from 1",
                    calls.trim()
                )));
            }
        };
        if quotas.iter().any(|(seen, _)| seen == name) {
            return Err(bad("names a tool given a quota already".to_owned()));
        }
        quotas.push((name.to_owned(), RateLimit::per_minute(calls)));
    }
    Ok(quotas)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<RateLimitConfig>, RateLimitConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        RateLimitConfig::from_lookup(|name| vars.get(name).cloned())
    }

    fn problem(vars: &[(&str, &str)]) -> RateLimitConfigError {
        match read(vars) {
            Err(error) => error,
            Ok(config) => panic!("{vars:?} was accepted: {config:?}"),
        }
    }

    #[test]
    fn without_a_per_minute_quota_rate_limiting_is_off() {
        assert!(matches!(read(&[]), Ok(None)));
        assert!(matches!(read(&[(PER_MINUTE_ENV, "  ")]), Ok(None)));
        // REDIS_URL alone is for other stores: no rate limiting, no error.
        assert!(matches!(
            read(&[(REDIS_URL_ENV, "redis://r:6379")]),
            Ok(None)
        ));
    }

    #[test]
    fn the_per_minute_quota_alone_limits_each_user_with_a_burst_as_large_in_process() {
        let Ok(Some(config)) = read(&[(PER_MINUTE_ENV, " 120 ")]) else {
            panic!("a quota is read")
        };
        assert_eq!(config.quota, RateLimit::per_minute(120));
        assert_eq!(config.quota.max_burst(), 120);
        assert!(config.by_user);
        assert!(config.per_tool.is_empty());
        assert_eq!(config.on_store_error, StoreErrorPolicy::Deny);
        assert!(config.store.is_none());
    }

    #[test]
    fn every_variable_is_read() {
        let Ok(Some(config)) = read(&[
            (PER_MINUTE_ENV, "60"),
            (BURST_ENV, "5"),
            (BY_USER_ENV, "false"),
            (TOOLS_ENV, "Web.HTTPRequest=10, SQL_Query = 3,"),
            (ON_STORE_ERROR_ENV, "Allow"),
        ]) else {
            panic!("the configuration is read")
        };
        assert_eq!(config.quota, RateLimit::per_minute(60).burst(5));
        assert!(!config.by_user);
        assert_eq!(
            config.per_tool,
            [
                ("Web.HTTPRequest".to_owned(), RateLimit::per_minute(10)),
                ("SQL_Query".to_owned(), RateLimit::per_minute(3)),
            ]
        );
        assert_eq!(config.on_store_error, StoreErrorPolicy::Allow);
    }

    #[test]
    fn a_bad_number_or_boolean_is_refused_by_its_variable() {
        for (variable, value, says) in [
            (PER_MINUTE_ENV, "0", "'0' is not a whole number from 1"),
            (PER_MINUTE_ENV, "sixty", "'sixty' is not a whole number"),
            (PER_MINUTE_ENV, "-5", "'-5' is not a whole number"),
            (BURST_ENV, "0", "'0' is not a whole number from 1"),
            (BY_USER_ENV, "maybe", "'maybe' is not a boolean"),
            (
                ON_STORE_ERROR_ENV,
                "open",
                "'open' is neither 'deny' nor 'allow'",
            ),
        ] {
            let mut vars = vec![(PER_MINUTE_ENV, "60")];
            vars.retain(|(name, _)| *name != variable);
            vars.push((variable, value));
            let error = problem(&vars);
            assert_eq!(error.variable(), variable);
            let message = error.to_string();
            assert!(
                message.starts_with(&format!("{variable} is not valid: ")),
                "{message}"
            );
            assert!(message.contains(says), "{message}");
        }
    }

    #[test]
    fn a_bad_tool_entry_is_named() {
        for (value, entry, says) in [
            ("Web.HTTPRequest=10,SQL.Query", "SQL.Query", "has no '='"),
            ("Web.HTTPRequest=ten", "Web.HTTPRequest=ten", "gives 'ten'"),
            ("Web.HTTPRequest=0", "Web.HTTPRequest=0", "gives '0'"),
            ("=5", "=5", "does not name a tool"),
            ("not a tool=5", "not a tool=5", "does not name a tool"),
            ("A.B=1,A.B=2", "A.B=2", "names a tool given a quota already"),
        ] {
            let error = problem(&[(PER_MINUTE_ENV, "60"), (TOOLS_ENV, value)]);
            assert_eq!(error.variable(), TOOLS_ENV);
            let message = error.to_string();
            assert!(
                message.contains(&format!("entry '{entry}' {says}")),
                "{message}"
            );
            assert!(message.contains("expected Toolkit.Tool=N"), "{message}");
        }
    }

    #[test]
    fn a_setting_without_the_per_minute_quota_is_refused_rather_than_ignored() {
        for variable in [BURST_ENV, BY_USER_ENV, TOOLS_ENV, ON_STORE_ERROR_ENV] {
            let error = problem(&[(variable, "1")]);
            assert_eq!(error.variable(), variable);
            assert!(error.to_string().contains(PER_MINUTE_ENV), "{error}");
        }
    }

    #[cfg(feature = "redis")]
    #[test]
    fn redis_url_selects_the_redis_store_and_a_bad_one_is_refused_without_its_password() {
        let Ok(Some(config)) = read(&[
            (PER_MINUTE_ENV, "60"),
            (REDIS_URL_ENV, "redis://:hunter2@redis.internal:6380/2"),
        ]) else {
            panic!("the configuration is read")
        };
        let shown = config.to_string();
        assert!(shown.contains("Redis at redis.internal:6380/2"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!format!("{config:?}").contains("hunter2"));

        for url in ["http://:hunter2@redis.internal", "redis://:hunter2@/"] {
            let error = problem(&[(PER_MINUTE_ENV, "60"), (REDIS_URL_ENV, url)]);
            assert_eq!(error.variable(), REDIS_URL_ENV);
            let message = error.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(message.contains("expected redis://"), "{message}");
        }
    }

    #[cfg(not(feature = "redis"))]
    #[test]
    fn redis_url_without_the_redis_feature_is_refused_rather_than_counted_in_process() {
        let error = problem(&[(PER_MINUTE_ENV, "60"), (REDIS_URL_ENV, "redis://r:6379")]);
        assert_eq!(error.variable(), REDIS_URL_ENV);
        assert!(error.to_string().contains("`redis` feature"), "{error}");
    }
}
