//! [`RedisRateLimitStore`]: quotas counted in Redis, so that every replica enforces one quota
//! (feature `redis`).

use std::fmt;
use std::future::Future;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Admission, RateLimit, RateLimitKey, RateLimitStore, RateLimitStoreError};
use crate::clock::SharedClock;

/// GCRA in one Lua script, run atomically by Redis on its own clock.
const GCRA: &str = include_str!("gcra.lua");

/// At most one fresh connection this often after timeouts or unexpected errors.
const RENEW_EVERY: Duration = Duration::from_secs(1);

/// What a URL that cannot be used looks like, for the error message.
const EXPECTED_URL: &str =
    "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to/redis.sock";

/// A `REDIS_URL` (or builder setting) that cannot be used. The message never holds the URL,
/// which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreConfigError {
    /// Not a Redis URL, or one this build cannot connect to (TLS).
    #[error("not a usable Redis URL ({reason}); {EXPECTED_URL}")]
    Url {
        /// What is wrong with it.
        reason: String,
    },
    /// A timeout of zero would fail every call.
    #[error("the timeout of Redis commands must be greater than zero")]
    ZeroTimeout,
}

/// Quotas counted in Redis and shared by every replica that names the same Redis: with a quota
/// of N, N calls are admitted in total, however many replicas and connections share the load.
///
/// - One Lua script implements GCRA atomically, on Redis's own clock (`TIME`), so the replicas'
///   clocks do not matter. A caller's key holds one number and expires once it no longer
///   limits anyone: memory stays bounded by the callers of the last minute or so.
/// - Keys are `{prefix}{scope}:{caller}` (prefix `fact:rl:` by default); the scope is `*` or
///   a tool's name, the caller `u:{user}`, `a` (anonymous) or `e` (everyone), with every byte
///   outside `A-Z a-z 0-9 . _ - @ *` percent-encoded, so that no user id (one holding `:`, say)
///   can reach another's key.
/// - One multiplexed connection per store, which reconnects on its own after a connection
///   error; after a timeout or an unexpected answer (a half-open connection, a handshake
///   refused) the store opens a fresh one, at most once a second. A Redis that comes back is
///   used again without a restart. Every command is bounded by the store's timeout (default
///   500 ms), so a Redis that hangs fails calls promptly; then the executor's
///   [`StoreErrorPolicy`](super::StoreErrorPolicy) decides.
/// - The connection opens at the first call (on the tokio runtime that makes it): building the
///   store needs no Redis, and a Redis down at start-up is a store error, not a crash.
///
/// ```no_run
/// use std::sync::Arc;
/// use fact_runtime::{RedisRateLimitStore, ToolExecutor};
///
/// let store = RedisRateLimitStore::from_url("redis://:password@redis.internal:6379/0")?;
/// let executor = ToolExecutor::builder()
///     .enable_rate_limiting(true)
///     .max_calls_per_minute(60)
///     .rate_limit_store(Arc::new(store))
///     .build()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RedisRateLimitStore {
    client: redis::Client,
    /// The connection, once a call has opened it; `None` again when it is to be renewed.
    manager: RwLock<Option<ConnectionManager>>,
    /// When the connection was last renewed.
    renewed: Mutex<Option<Instant>>,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    clock: Option<SharedClock>,
}

/// Configures a [`RedisRateLimitStore`].
#[derive(Debug)]
pub struct RedisRateLimitStoreBuilder {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    clock: Option<SharedClock>,
}

impl RedisRateLimitStore {
    /// The prefix of every key, unless [`key_prefix`](RedisRateLimitStoreBuilder::key_prefix)
    /// sets another.
    pub const DEFAULT_KEY_PREFIX: &str = "fact:rl:";
    /// The longest a command may take, connecting included, unless
    /// [`timeout`](RedisRateLimitStoreBuilder::timeout) sets another.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

    /// A store on the Redis at `url` (`redis://[[user]:password@]host[:port][/db]`, or
    /// `unix:///path?db=N`), with the default prefix and timeout.
    ///
    /// # Errors
    ///
    /// [`RedisStoreConfigError::Url`] when `url` is not a Redis URL this build can use.
    pub fn from_url(url: &str) -> Result<Self, RedisStoreConfigError> {
        Self::builder(url)?.build()
    }

    /// A builder for a store on the Redis at `url`.
    ///
    /// # Errors
    ///
    /// As [`from_url`](Self::from_url).
    pub fn builder(url: &str) -> Result<RedisRateLimitStoreBuilder, RedisStoreConfigError> {
        let client = redis::Client::open(url).map_err(|error| RedisStoreConfigError::Url {
            reason: error.to_string(),
        })?;
        Ok(RedisRateLimitStoreBuilder {
            client,
            prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            timeout: Self::DEFAULT_TIMEOUT,
            clock: None,
        })
    }

    /// The key of `caller` in `scope`.
    fn key(&self, scope: &str, caller: RateLimitKey<'_>) -> String {
        let mut key = String::with_capacity(self.prefix.len() + scope.len() + 16);
        key.push_str(&self.prefix);
        encode_into(&mut key, scope);
        match caller {
            RateLimitKey::User(user) => {
                key.push_str(":u:");
                encode_into(&mut key, user);
            }
            RateLimitKey::Anonymous => key.push_str(":a"),
            RateLimitKey::Everyone => key.push_str(":e"),
        }
        key
    }

    /// The connection, opened lazily on the calling task's runtime.
    fn connection(&self) -> Result<ConnectionManager, RateLimitStoreError> {
        if let Some(manager) = &*self.manager.read().unwrap_or_else(PoisonError::into_inner) {
            return Ok(manager.clone());
        }
        let mut slot = self.manager.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(manager) = &*slot {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            // One attempt per reconnection, shared by the calls waiting for it: during an
            // outage calls fail at once instead of waiting out a backoff, and the first call
            // after Redis returns reconnects.
            .set_number_of_retries(0);
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            .map_err(|error| RateLimitStoreError::Unexpected(error.to_string()))?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// Drops the connection, so that the next call opens a fresh one: the connection manager
    /// reconnects by itself only after an I/O error, and neither a half-open connection (every
    /// command times out) nor a refused handshake (`AUTH` or `SELECT` answered with an error
    /// while Redis was being set up) is one. At most once every [`RENEW_EVERY`].
    fn renew(&self) {
        let mut renewed = self.renewed.lock().unwrap_or_else(PoisonError::into_inner);
        if renewed.is_some_and(|at| at.elapsed() < RENEW_EVERY) {
            return;
        }
        *renewed = Some(Instant::now());
        *self.manager.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Runs `command` on the connection within the timeout.
    ///
    /// A connection Redis dropped (it restarted, or was away) is found by the first command
    /// that uses it; the connection manager reconnects at the next one. That command is
    /// therefore tried once more, within the same timeout, so that the first call after Redis
    /// is back is answered. A command lost with its connection may have run: the retry then
    /// spends a second unit, on the side of refusing.
    async fn bounded<T, Command>(
        &self,
        command: impl Fn(ConnectionManager) -> Command,
    ) -> Result<T, RateLimitStoreError>
    where
        Command: Future<Output = redis::RedisResult<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut retried = false;
        let error = loop {
            let connection = self.connection()?;
            match tokio::time::timeout_at(deadline, command(connection)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(error)) if error.is_timeout() => {
                    break RateLimitStoreError::Timeout(self.timeout);
                }
                Ok(Err(error)) if error.is_io_error() || error.is_connection_dropped() => {
                    if !retried {
                        retried = true;
                        continue;
                    }
                    // The connection manager reconnects at the next call.
                    return Err(RateLimitStoreError::Unreachable(error.to_string()));
                }
                Ok(Err(error)) => break RateLimitStoreError::Unexpected(error.to_string()),
                Err(_elapsed) => break RateLimitStoreError::Timeout(self.timeout),
            }
        };
        self.renew();
        Err(error)
    }
}

impl RedisRateLimitStoreBuilder {
    /// The prefix of every key (default `fact:rl:`): deployments sharing one Redis keep their
    /// quotas apart by giving each its own.
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The longest one command may take, connecting included (default 500 ms); past it the
    /// call meets the executor's [`StoreErrorPolicy`](super::StoreErrorPolicy).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// **For tests.** Counts on `clock` instead of Redis's own clock: the script is passed the
    /// time instead of reading `TIME`, so a test can let a quota refill by advancing a
    /// [`ManualClock`](crate::ManualClock) instead of sleeping. Every replica must then share
    /// the clock; in production leave it unset.
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The store. No connection is made until the first call.
    ///
    /// # Errors
    ///
    /// [`RedisStoreConfigError::ZeroTimeout`] for a zero timeout.
    pub fn build(self) -> Result<RedisRateLimitStore, RedisStoreConfigError> {
        if self.timeout.is_zero() {
            return Err(RedisStoreConfigError::ZeroTimeout);
        }
        Ok(RedisRateLimitStore {
            client: self.client,
            manager: RwLock::new(None),
            renewed: Mutex::new(None),
            script: redis::Script::new(GCRA),
            prefix: self.prefix,
            timeout: self.timeout,
            clock: self.clock,
        })
    }
}

impl RateLimitStore for RedisRateLimitStore {
    fn acquire<'a>(
        &'a self,
        scope: &'a str,
        key: RateLimitKey<'a>,
        quota: RateLimit,
    ) -> BoxFuture<'a, Result<Admission, RateLimitStoreError>> {
        Box::pin(async move {
            let key = self.key(scope, key);
            let interval = micros_up(quota.interval());
            let now = self
                .clock
                .as_ref()
                .map(|clock| clock.now().as_micros().to_string())
                .unwrap_or_default();
            let mut invocation = self.script.key(key);
            invocation.arg(interval).arg(quota.max_burst()).arg(now);
            let invocation = &invocation;
            let reply: Vec<i64> = self
                .bounded(
                    |mut connection| async move { invocation.invoke_async(&mut connection).await },
                )
                .await?;
            match reply.as_slice() {
                [1, _] => Ok(Admission::Admitted),
                [0, wait] => Ok(Admission::Refused {
                    retry_after: Duration::from_micros(u64::try_from(*wait).unwrap_or(0)),
                }),
                other => Err(RateLimitStoreError::Unexpected(format!(
                    "the rate-limit script answered {other:?}, expected [1, 0] or [0, wait]"
                ))),
            }
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), RateLimitStoreError>> {
        Box::pin(async move {
            let pong: String = self
                .bounded(|mut connection| async move {
                    redis::cmd("PING").query_async(&mut connection).await
                })
                .await?;
            match pong.as_str() {
                "PONG" => Ok(()),
                other => Err(RateLimitStoreError::Unexpected(format!(
                    "PING answered {other:?}"
                ))),
            }
        })
    }
}

impl fmt::Debug for RedisRateLimitStore {
    /// `Redis at host:port/db`: never the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.client.get_connection_info();
        write!(f, "Redis at {}/{}", info.addr(), info.redis_settings().db())
    }
}

/// `duration` in whole microseconds, rounded up: the quota is never looser than asked.
fn micros_up(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos().div_ceil(1_000)).unwrap_or(u64::MAX)
}

/// Appends `text` to `key` with every byte outside `A-Z a-z 0-9 . _ - @ *` written `%XX`:
/// injective, and free of `:` (the separator), `{}` (Redis Cluster's hash tags) and spaces.
fn encode_into(key: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'@' | b'*') {
            key.push(char::from(byte));
        } else {
            key.push('%');
            key.push(char::from(HEX[usize::from(byte >> 4)]));
            key.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> RedisRateLimitStore {
        match RedisRateLimitStore::from_url("redis://:s3cret@127.0.0.1:6390/3") {
            Ok(store) => store,
            Err(error) => panic!("a valid URL is refused: {error}"),
        }
    }

    #[test]
    fn keys_name_the_scope_and_the_caller_under_the_prefix() {
        let store = store();
        assert_eq!(store.key("*", RateLimitKey::User("ada")), "fact:rl:*:u:ada");
        assert_eq!(
            store.key("Web.HTTPRequest", RateLimitKey::Anonymous),
            "fact:rl:Web.HTTPRequest:a"
        );
        assert_eq!(store.key("*", RateLimitKey::Everyone), "fact:rl:*:e");
        assert_eq!(
            store.key("*", RateLimitKey::User("ada@example.com")),
            "fact:rl:*:u:ada@example.com"
        );
    }

    #[test]
    fn odd_characters_in_a_user_are_encoded_so_no_user_reaches_another_key() {
        let store = store();
        assert_eq!(
            store.key("*", RateLimitKey::User("a:e")),
            "fact:rl:*:u:a%3Ae"
        );
        assert_eq!(
            store.key("*", RateLimitKey::User("{tag} x%y\nz é")),
            "fact:rl:*:u:%7Btag%7D%20x%25y%0Az%20%C3%A9"
        );
        let users = ["a:e", "a%3Ae", "a", "e", "", ":", "%", "u:a"];
        let mut keys: Vec<String> = users
            .iter()
            .map(|user| store.key("*", RateLimitKey::User(user)))
            .chain([
                store.key("*", RateLimitKey::Anonymous),
                store.key("*", RateLimitKey::Everyone),
            ])
            .collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), users.len() + 2, "two callers share a key");
    }

    #[test]
    fn the_store_shows_where_it_counts_but_never_the_password() {
        let shown = format!("{:?}", store());
        assert_eq!(shown, "Redis at 127.0.0.1:6390/3");
    }

    #[test]
    fn a_url_that_is_not_redis_is_refused_without_repeating_it() {
        for url in [
            "http://:s3cret@host:6379",
            "s3cret",
            "redis://:s3cret@host:6379/notadb",
        ] {
            let Err(error) = RedisRateLimitStore::from_url(url) else {
                panic!("{url} was accepted")
            };
            let message = error.to_string();
            assert!(!message.contains("s3cret"), "{message}");
            assert!(message.contains("expected redis://"), "{message}");
        }
    }

    #[test]
    fn a_zero_timeout_is_refused() {
        let built = RedisRateLimitStore::builder("redis://127.0.0.1")
            .and_then(|builder| builder.timeout(Duration::ZERO).build());
        assert!(matches!(built, Err(RedisStoreConfigError::ZeroTimeout)));
    }

    #[test]
    fn intervals_round_up_to_the_microsecond() {
        assert_eq!(micros_up(Duration::from_secs(60) / 7), 8_571_429);
        assert_eq!(micros_up(Duration::from_secs(1)), 1_000_000);
    }
}
