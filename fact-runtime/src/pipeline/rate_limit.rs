//! The rate-limit stage: is this caller within its quota?

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{NotUntil, Quota};

use crate::call::ToolCall;
use crate::clock::SharedClock;
use crate::error::{ErrorKind, ToolError};
use crate::rate_limit::{
    Admission, RateLimit, RateLimitKey, RateLimitStore, StoreErrorPolicy, StoreErrors,
};
use crate::registry::RegisteredTool;

/// The message of every refusal, as the seed words it.
const REFUSED: &str = "Rate limit exceeded. Too many tool calls per minute.";

/// Scope of the executor-wide quota in a [`RateLimitStore`].
const GLOBAL_SCOPE: &str = "*";

/// In-process state is pruned after this many calls, or this long, whichever comes first.
const PRUNE_EVERY_CALLS: u64 = 1 << 16;
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// How the stage is configured, as the builder collects it.
#[derive(Debug, Clone)]
pub(crate) struct RateLimitSettings {
    pub(crate) enabled: bool,
    pub(crate) global: RateLimit,
    pub(crate) by_user: bool,
    pub(crate) per_tool: HashMap<String, RateLimit>,
    pub(crate) store: Option<Arc<dyn RateLimitStore>>,
    pub(crate) on_store_error: StoreErrorPolicy,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            global: RateLimit::per_minute(60),
            by_user: true,
            per_tool: HashMap::new(),
            store: None,
            on_store_error: StoreErrorPolicy::Deny,
        }
    }
}

/// Admits or refuses calls by quota: the executor's, then the tool's own. A call refused by the
/// tool's quota has already spent a unit of the executor's (GCRA has no tentative check); the
/// error is on the side of refusing.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    enabled: bool,
    by_user: bool,
    global: Option<Limiter>,
    per_tool: HashMap<String, Limiter>,
    pruning: Option<Arc<Pruning>>,
}

/// One quota, counted in process or in a shared store.
#[derive(Debug)]
enum Limiter {
    InProcess(Arc<Keyed>),
    Shared {
        store: Arc<dyn RateLimitStore>,
        scope: String,
        quota: RateLimit,
        /// What a store error does; one for every quota of the executor.
        errors: Arc<StoreErrors>,
    },
}

type Keyed = governor::RateLimiter<
    Option<String>,
    DashMapStateStore<Option<String>>,
    ClockAdapter,
    NoOpMiddleware<Duration>,
>;

/// Lets governor read the executor's [`Clock`](crate::Clock).
#[derive(Debug, Clone)]
struct ClockAdapter(SharedClock);

impl governor::clock::Clock for ClockAdapter {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.0.now()
    }
}

impl RateLimiter {
    /// Builds the limiters. `tools` are the registered tools, whose `#[tool(rate_limit)]`
    /// quotas apply unless `settings.per_tool` overrides them.
    pub(crate) fn new<'a>(
        settings: RateLimitSettings,
        tools: impl Iterator<Item = &'a RegisteredTool>,
        clock: &SharedClock,
    ) -> Result<Self, String> {
        if !settings.enabled {
            return Ok(Self::default());
        }
        settings.global.check("max_calls_per_minute")?;
        let mut quotas: HashMap<String, RateLimit> = tools
            .filter_map(|tool| {
                let per_minute = tool.info.rate_limit_per_minute?;
                Some((tool.info.name.clone(), RateLimit::per_minute(per_minute)))
            })
            .collect();
        for (name, quota) in settings.per_tool {
            quota.check(&format!("rate limit of tool '{name}'"))?;
            quotas.insert(name, quota);
        }
        let errors = Arc::new(StoreErrors::new(settings.on_store_error, Arc::clone(clock)));
        let limiter = |scope: &str, quota: RateLimit| match &settings.store {
            Some(store) => Limiter::Shared {
                store: Arc::clone(store),
                scope: scope.to_owned(),
                quota,
                errors: Arc::clone(&errors),
            },
            None => Limiter::InProcess(Arc::new(governor::RateLimiter::dashmap_with_clock(
                governor_quota(quota),
                ClockAdapter(Arc::clone(clock)),
            ))),
        };
        let global = limiter(GLOBAL_SCOPE, settings.global);
        let per_tool: HashMap<String, Limiter> = quotas
            .into_iter()
            .map(|(name, quota)| {
                let limiter = limiter(&name, quota);
                (name, limiter)
            })
            .collect();
        let pruning = settings.store.is_none().then(|| {
            Arc::new(Pruning {
                clock: Arc::clone(clock),
                calls: AtomicU64::new(0),
                last: AtomicU64::new(nanos(clock.now())),
                running: AtomicBool::new(false),
            })
        });
        Ok(Self {
            enabled: true,
            by_user: settings.by_user,
            global: Some(global),
            per_tool,
            pruning,
        })
    }

    pub(crate) async fn check(
        &self,
        tool: &RegisteredTool,
        call: &ToolCall,
    ) -> Result<(), ToolError> {
        if !self.enabled {
            return Ok(());
        }
        let user = if self.by_user { &call.user_id } else { &None };
        if let Some(global) = &self.global {
            global.acquire(user, self.by_user).await?;
        }
        if let Some(limiter) = self.per_tool.get(&tool.info.name) {
            limiter.acquire(user, self.by_user).await?;
        }
        if let Some(pruning) = &self.pruning {
            pruning.tick(self);
        }
        Ok(())
    }

    /// The in-process limiters, for pruning.
    fn in_process(&self) -> Vec<Arc<Keyed>> {
        self.global
            .iter()
            .chain(self.per_tool.values())
            .filter_map(|limiter| match limiter {
                Limiter::InProcess(keyed) => Some(Arc::clone(keyed)),
                Limiter::Shared { .. } => None,
            })
            .collect()
    }

    /// Callers with live in-process state, over all quotas.
    #[cfg(test)]
    fn tracked_keys(&self) -> usize {
        self.global
            .iter()
            .chain(self.per_tool.values())
            .map(|limiter| match limiter {
                Limiter::InProcess(keyed) => keyed.len(),
                Limiter::Shared { .. } => 0,
            })
            .sum()
    }
}

impl Limiter {
    async fn acquire(&self, user: &Option<String>, by_user: bool) -> Result<(), ToolError> {
        let wait = match self {
            Self::InProcess(keyed) => {
                keyed
                    .check_key(user)
                    .map_err(|not_until: NotUntil<Duration>| {
                        not_until.wait_time_from(governor::clock::Clock::now(keyed.clock()))
                    })
            }
            Self::Shared {
                store,
                scope,
                quota,
                errors,
            } => {
                let key = match (by_user, user.as_deref()) {
                    (false, _) => RateLimitKey::Everyone,
                    (true, Some(user)) => RateLimitKey::User(user),
                    (true, None) => RateLimitKey::Anonymous,
                };
                match store.acquire(scope, key, *quota).await {
                    Ok(admission) => {
                        errors.on_answer();
                        match admission {
                            Admission::Admitted => Ok(()),
                            Admission::Refused { retry_after } => Err(retry_after),
                        }
                    }
                    Err(error) => return errors.on_error(scope, &error),
                }
            }
        };
        wait.map_err(|wait| {
            // Round up, so a caller who waits exactly this long is admitted.
            let wait = Duration::from_millis(
                u64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
            );
            ToolError::new(ErrorKind::RateLimit, REFUSED).with_retry_after(wait)
        })
    }
}

fn governor_quota(quota: RateLimit) -> Quota {
    // `RateLimit::check` has refused zeroes already.
    let burst = NonZeroU32::new(quota.max_burst()).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(quota.interval())
        .unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN))
        .allow_burst(burst)
}

/// Decides when to prune, amortized over calls so no timer task is needed.
#[derive(Debug)]
struct Pruning {
    clock: SharedClock,
    calls: AtomicU64,
    last: AtomicU64,
    running: AtomicBool,
}

impl Pruning {
    /// Counts a call, and prunes when due: on the blocking pool when a tokio runtime is
    /// around (a million keys take a while), else inline.
    fn tick(self: &Arc<Self>, limiter: &RateLimiter) {
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.due(calls) || self.running.swap(true, Ordering::Acquire) {
            return;
        }
        self.last.store(nanos(self.clock.now()), Ordering::Relaxed);
        let limiters = limiter.in_process();
        let running = Running(Arc::clone(self));
        let work = move || {
            let _running = running;
            for keyed in limiters {
                keyed.retain_recent();
                keyed.shrink_to_fit();
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(work)),
            Err(_) => work(),
        }
    }
}

/// Marks a pruning under way until dropped: when the work ends, or if it never runs (a runtime
/// shutting down drops blocking work it has not started), so that pruning is never stuck off.
struct Running(Arc<Pruning>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

impl Pruning {
    /// Whether the `calls`-th call should prune.
    fn due(&self, calls: u64) -> bool {
        let now = nanos(self.clock.now());
        calls.is_multiple_of(PRUNE_EVERY_CALLS)
            || now.saturating_sub(self.last.load(Ordering::Relaxed)) >= nanos(PRUNE_EVERY)
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock as _, ManualClock};
    use crate::definition::ToolDefinition;
    use crate::registry::Registry;
    use serde_json::json;

    fn registry() -> Registry {
        let tool = ToolDefinition::new(
            "Unit.Noop",
            "does nothing",
            json!({"type": "object"}),
            |_ctx, _args| async { Ok(serde_json::Value::Null) },
        );
        Registry::build(false, vec![tool]).unwrap_or_default()
    }

    fn limiter(clock: &ManualClock, registry: &Registry, quota: u32) -> RateLimiter {
        let settings = RateLimitSettings {
            enabled: true,
            global: RateLimit::per_minute(quota),
            ..RateLimitSettings::default()
        };
        let clock: SharedClock = Arc::new(clock.clone());
        RateLimiter::new(settings, registry.tools().map(|tool| &**tool), &clock).unwrap_or_default()
    }

    /// Runs the in-process check without a tokio runtime: it never awaits.
    fn admit(limiter: &RateLimiter, tool: &RegisteredTool, user: &str) -> bool {
        let call = ToolCall::new("Unit.Noop", json!({})).user(user);
        let mut check = std::pin::pin!(limiter.check(tool, &call));
        let waker = std::task::Waker::noop();
        match check
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker))
        {
            std::task::Poll::Ready(result) => result.is_ok(),
            std::task::Poll::Pending => panic!("the in-process check never waits"),
        }
    }

    use std::future::Future as _;

    #[test]
    fn a_million_passing_users_leave_no_state_behind_once_their_window_passes() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let registry = registry();
        let tool = registry.get("Unit.Noop").map(Arc::clone);
        let Some(tool) = tool else {
            panic!("the test tool is registered")
        };
        let limiter = limiter(&clock, &registry, 60);
        for user in 0..1_000_000u32 {
            assert!(admit(&limiter, &tool, &user.to_string()));
        }
        // Pruning may already have run on the way (every 65,536 calls), but only for keys whose
        // quota had refilled, and the clock has not moved: every user is still tracked.
        assert_eq!(limiter.tracked_keys(), 1_000_000);

        // A minute later every user's quota is full again, as if never used: the next call
        // finds pruning due and drops them all (inline here, with no runtime to hand it to),
        // keeping only its own caller.
        clock.advance(Duration::from_secs(60));
        assert!(admit(&limiter, &tool, "one more"));
        assert_eq!(limiter.tracked_keys(), 1);
    }

    #[test]
    fn pruning_never_forgets_a_caller_who_is_still_limited() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let registry = registry();
        let Some(tool) = registry.get("Unit.Noop").map(Arc::clone) else {
            panic!("the test tool is registered")
        };
        let limiter = limiter(&clock, &registry, 2);
        assert!(admit(&limiter, &tool, "ada"));
        assert!(admit(&limiter, &tool, "ada"));
        assert!(!admit(&limiter, &tool, "ada"));
        for keyed in limiter.in_process() {
            keyed.retain_recent();
        }
        assert!(
            !admit(&limiter, &tool, "ada"),
            "pruning reset a spent quota"
        );
        clock.advance(Duration::from_secs(30));
        assert!(admit(&limiter, &tool, "ada"));
    }

    #[test]
    fn pruning_is_due_every_65536_calls_or_every_minute() {
        let clock = ManualClock::new(Duration::from_secs(1_000));
        let pruning = Pruning {
            clock: Arc::new(clock.clone()),
            calls: AtomicU64::new(0),
            last: AtomicU64::new(nanos(clock.now())),
            running: AtomicBool::new(false),
        };
        assert!(!pruning.due(1));
        assert!(pruning.due(PRUNE_EVERY_CALLS));
        clock.advance(PRUNE_EVERY);
        assert!(pruning.due(2));
    }
}
