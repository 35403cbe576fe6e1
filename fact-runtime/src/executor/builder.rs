//! [`ToolExecutorBuilder`]: what an executor is built from, and how its registry is put
//! together (linked, registered and remote tools; per-tool validators and quotas).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;

use crate::audit::AuditLog;
use crate::auth::AuthorizationManager;
use crate::clock::{SharedClock, SystemClock};
use crate::definition::ToolDefinition;
use crate::error::BuildError;
use crate::extensions::Extensions;
use crate::pipeline::authorize::Authorizer;
use crate::pipeline::execute::LocalRunner;
use crate::pipeline::policy::PolicyCheck;
use crate::pipeline::rate_limit::{RateLimitSettings, RateLimiter};
use crate::pipeline::record::Recorder;
use crate::pipeline::route::Router;
use crate::pipeline::validate::ArgumentValidator;
use crate::policy::{SecurityPolicy, Validator};
use crate::rate_limit::{
    RateLimit, RateLimitConfig, RateLimitConfigError, RateLimitStore, StoreErrorPolicy,
};
use crate::registry::{RegisteredTool, Registry};

use super::{DEFAULT_MAX_CONCURRENCY, Inner, ToolExecutor};

/// Configures and builds a [`ToolExecutor`].
#[derive(Debug)]
pub struct ToolExecutorBuilder {
    discover: bool,
    manual: Vec<ToolDefinition>,
    max_concurrency: usize,
    policy: SecurityPolicy,
    validators: Vec<Arc<dyn Validator>>,
    tool_validators: HashMap<String, Vec<Arc<dyn Validator>>>,
    rate_limits: RateLimitSettings,
    clock: SharedClock,
    authorization: Option<AuthorizationManager>,
    audit: Option<AuditLog>,
    extensions: Extensions,
    #[cfg(feature = "arcade")]
    gateway: Option<crate::arcade::ArcadeGateway>,
}

impl ToolExecutorBuilder {
    /// Every linked `#[tool]` and default limits ([`ToolExecutor::builder`]).
    pub(super) fn new() -> Self {
        Self {
            discover: true,
            manual: Vec::new(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            policy: SecurityPolicy::default(),
            validators: Vec::new(),
            tool_validators: HashMap::new(),
            rate_limits: RateLimitSettings::default(),
            clock: Arc::new(SystemClock),
            authorization: None,
            extensions: Extensions::new(),
            audit: None,
            #[cfg(feature = "arcade")]
            gateway: None,
        }
    }

    /// Adds a tool defined at run time.
    #[must_use]
    pub fn register(mut self, tool: ToolDefinition) -> Self {
        self.manual.push(tool);
        self
    }

    /// Whether to include every `#[tool]` linked into the program (default `true`). Turn it
    /// off to serve only the tools registered with [`register`](Self::register).
    #[must_use]
    pub fn discover_linked_tools(mut self, discover: bool) -> Self {
        self.discover = discover;
        self
    }

    /// How many calls of one batch run at once (default [`DEFAULT_MAX_CONCURRENCY`]).
    #[must_use]
    pub fn max_concurrency(mut self, max_concurrency: usize) -> Self {
        self.max_concurrency = max_concurrency;
        self
    }

    /// Sets the structural limits on arguments (default: [`SecurityPolicy::default`]).
    #[must_use]
    pub fn security_policy(mut self, policy: SecurityPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Adds a check run on every call, after the schema and the structural limits.
    #[must_use]
    pub fn validator(mut self, validator: impl Validator) -> Self {
        self.validators.push(Arc::new(validator));
        self
    }

    /// Adds a check run on every call of the tool `name` (its name or its exported name), after
    /// the global validators. An unknown tool name is a [`BuildError`].
    #[must_use]
    pub fn tool_validator(mut self, name: impl Into<String>, validator: impl Validator) -> Self {
        self.tool_validators
            .entry(name.into())
            .or_default()
            .push(Arc::new(validator));
        self
    }

    /// Turns rate limiting on or off (default off: a library does not throttle by surprise).
    #[must_use]
    pub fn enable_rate_limiting(mut self, enable: bool) -> Self {
        self.rate_limits.enabled = enable;
        self
    }

    /// The executor-wide quota, in calls per minute per caller (default 60), with a burst of
    /// as many unless [`rate_limit_burst`](Self::rate_limit_burst) sets one (in either order).
    /// Counts only when rate limiting is enabled.
    #[must_use]
    pub fn max_calls_per_minute(mut self, calls: u32) -> Self {
        self.rate_limits.global = self.rate_limits.global.with_calls_per_minute(calls);
        self
    }

    /// Caps how many calls of the executor-wide quota may run back to back (default: the
    /// quota itself).
    #[must_use]
    pub fn rate_limit_burst(mut self, burst: u32) -> Self {
        self.rate_limits.global = self.rate_limits.global.burst(burst);
        self
    }

    /// Whether quotas count per user (default `true`; calls without a user share one
    /// anonymous quota) or for all callers together.
    #[must_use]
    pub fn rate_limit_by_user(mut self, by_user: bool) -> Self {
        self.rate_limits.by_user = by_user;
        self
    }

    /// Gives the tool `name` (its name or its exported name) a quota of its own, on top of the
    /// executor-wide one, overriding its `#[tool(rate_limit = N)]`. An unknown tool name, or
    /// two quotas for one tool, is a [`BuildError`].
    #[must_use]
    pub fn tool_rate_limit(mut self, name: impl Into<String>, quota: RateLimit) -> Self {
        self.rate_limits.per_tool.insert(name.into(), quota);
        self
    }

    /// Keeps quota state in `store` (shared by replicas, say: `RedisRateLimitStore`, feature
    /// `redis`) instead of in process.
    #[must_use]
    pub fn rate_limit_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.rate_limits.store = Some(store);
        self
    }

    /// What a call meets when the rate-limit store cannot decide (default
    /// [`StoreErrorPolicy::Deny`]: a 503 with `retry_after_ms`).
    #[must_use]
    pub fn rate_limit_on_store_error(mut self, policy: StoreErrorPolicy) -> Self {
        self.rate_limits.on_store_error = policy;
        self
    }

    /// Turns rate limiting on as `config` says, replacing every rate-limit setting made so
    /// far (tool quotas from `#[tool(rate_limit)]` still apply unless `config` overrides them).
    #[must_use]
    pub fn rate_limits(mut self, config: RateLimitConfig) -> Self {
        self.rate_limits.enabled = true;
        self.rate_limits.global = config.quota;
        self.rate_limits.by_user = config.by_user;
        self.rate_limits.per_tool = config.per_tool.into_iter().collect();
        self.rate_limits.store = config.store;
        self.rate_limits.on_store_error = config.on_store_error;
        self
    }

    /// Configures rate limiting from the environment, as `fact serve` does
    /// ([`RateLimitConfig::from_env`]: `FACT_RATE_LIMIT_PER_MINUTE`, `FACT_RATE_LIMIT_BURST`,
    /// `FACT_RATE_LIMIT_BY_USER`, `FACT_RATE_LIMIT_TOOLS`, `FACT_RATE_LIMIT_ON_STORE_ERROR`,
    /// `REDIS_URL`). Without `FACT_RATE_LIMIT_PER_MINUTE` the builder is left as it is.
    ///
    /// ```no_run
    /// use fact_runtime::ToolExecutor;
    ///
    /// let executor = ToolExecutor::builder().rate_limits_from_env()?.build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RateLimitConfigError`] naming the variable whose value cannot be used.
    pub fn rate_limits_from_env(self) -> Result<Self, RateLimitConfigError> {
        Ok(match RateLimitConfig::from_env()? {
            Some(config) => self.rate_limits(config),
            None => self,
        })
    }

    /// The clock that rate windows and the [`MetricsCollector`]'s minutes read (default
    /// [`SystemClock`]); tests pass a
    /// [`ManualClock`](crate::ManualClock).
    #[must_use]
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Hands `value` to every tool this executor runs, through
    /// [`ToolContext::extension`](crate::ToolContext::extension): a pool, a client, a policy.
    /// One value per type; a second value of the same type replaces the first.
    #[must_use]
    pub fn extension<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Writes one [`AuditRecord`](crate::audit::AuditRecord) per call, refused calls included, to `log`. Call
    /// [`ToolExecutor::shutdown`] before exiting so every record is written.
    #[must_use]
    pub fn audit(mut self, log: AuditLog) -> Self {
        self.audit = Some(log);
        self
    }

    /// Authorizes calls of tools that declare `requires_auth` or `scopes` with `manager`, and
    /// hands them the caller's token through their context. Without it such calls are refused
    /// with 401.
    #[must_use]
    pub fn authorization(mut self, manager: AuthorizationManager) -> Self {
        self.authorization = Some(manager);
        self
    }

    /// Routes calls between this executor's tools and an Arcade Engine's, as `gateway` says.
    /// The Engine's tools join the registry when its catalogue is read: build with
    /// [`build_connected`](Self::build_connected), or call
    /// [`ToolExecutor::refresh_remote_tools`] after [`build`](Self::build).
    #[cfg(feature = "arcade")]
    #[must_use]
    pub fn arcade(mut self, gateway: crate::arcade::ArcadeGateway) -> Self {
        self.gateway = Some(gateway);
        self
    }

    /// Builds the registry (compiling every input schema once) and the pipeline. With an
    /// Arcade gateway, the Engine's tools are not read here (that needs I/O): see
    /// [`build_connected`](Self::build_connected).
    ///
    /// # Errors
    ///
    /// [`BuildError`] when two tools share a name, a name or schema is invalid, or an option is
    /// out of range.
    pub fn build(self) -> Result<ToolExecutor, BuildError> {
        self.assemble(Vec::new())
    }

    /// Builds as [`build`](Self::build) does, with the Arcade Engine's tools read first, so
    /// that options may name them; then reads the catalogue again on the gateway's interval
    /// for as long as the executor lives. An Engine that cannot be read is logged and reported
    /// by [`ToolExecutor::arcade_health`]: this process's own tools are served meanwhile, and
    /// the Engine's join at the next read that succeeds.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build).
    #[cfg(feature = "arcade")]
    pub async fn build_connected(self) -> Result<ToolExecutor, BuildError> {
        let Some(settings) = self.gateway.clone() else {
            return self.build();
        };
        let state = Arc::new(crate::arcade::GatewayState::new(
            settings,
            Arc::clone(&self.clock),
        ));
        let remotes = match state.read_catalogue().await {
            Ok((tools, _skipped)) => tools,
            Err(error) => {
                tracing::warn!(%error, "the Arcade Engine's tools could not be read; this process's own tools are served until they can be");
                Vec::new()
            }
        };
        let executor = self.assemble_with(Some(state), remotes)?;
        executor.spawn_refresh();
        Ok(executor)
    }

    fn assemble(self, remotes: Vec<RegisteredTool>) -> Result<ToolExecutor, BuildError> {
        #[cfg(feature = "arcade")]
        {
            let clock = Arc::clone(&self.clock);
            let state = self
                .gateway
                .clone()
                .map(|settings| Arc::new(crate::arcade::GatewayState::new(settings, clock)));
            self.assemble_with(state, remotes)
        }
        #[cfg(not(feature = "arcade"))]
        self.assemble_with(remotes)
    }

    fn assemble_with(
        self,
        #[cfg(feature = "arcade")] gateway: Option<Arc<crate::arcade::GatewayState>>,
        remotes: Vec<RegisteredTool>,
    ) -> Result<ToolExecutor, BuildError> {
        if self.max_concurrency == 0 {
            return Err(BuildError::InvalidConfig(
                "max_concurrency must be at least 1".to_owned(),
            ));
        }
        let locals: Vec<Arc<RegisteredTool>> = Registry::build(self.discover, self.manual)?
            .tools()
            .cloned()
            .collect();
        #[cfg(feature = "arcade")]
        let registry = match &gateway {
            Some(gateway) => serve(gateway, gateway.merge(&locals, remotes))?.0,
            None => Registry::of(locals.iter().cloned())?,
        };
        #[cfg(not(feature = "arcade"))]
        let registry = {
            drop(remotes);
            Registry::of(locals.iter().cloned())?
        };
        tracing::debug!(tools = registry.len(), "tool registry built");
        // With an Engine, an option may name a tool of its catalogue not read yet: kept by the
        // name given, it applies once the tool joins.
        #[cfg(feature = "arcade")]
        let later = gateway.is_some();
        #[cfg(not(feature = "arcade"))]
        let later = false;
        let tool_validators = by_registered_name(
            &registry,
            self.tool_validators,
            later,
            |validators, more| {
                validators.extend(more);
                Ok(())
            },
        )?;
        let mut rate_limits = self.rate_limits;
        rate_limits.per_tool =
            by_registered_name(&registry, rate_limits.per_tool, later, |_, _| {
                Err("is given two rate limits, one by its name and one by its exported name")
            })?;
        let rate_limiter = RateLimiter::new(
            rate_limits,
            registry.tools().map(|tool| &**tool),
            &self.clock,
        )
        .map_err(BuildError::InvalidConfig)?;
        let policy = PolicyCheck::new(self.policy, self.validators, tool_validators);
        let recorder = Recorder::new(self.clock, registry.len());
        Ok(ToolExecutor {
            inner: Arc::new(Inner {
                registry: ArcSwap::from_pointee(registry),
                #[cfg(feature = "arcade")]
                locals,
                #[cfg(feature = "arcade")]
                gateway,
                validator: ArgumentValidator::new(policy),
                authorizer: Authorizer::new(self.authorization),
                rate_limiter,
                router: Router::default(),
                local: LocalRunner::new(self.extensions),
                recorder,
                audit: self.audit,
                max_concurrency: self.max_concurrency,
                started: Instant::now(),
            }),
        })
    }
}

/// The registry of `merged`: this process's tools must all fit, as at any build; a tool of the
/// Engine that cannot (its name clashes with one already served once exported) is left out
/// with a warning, which is returned. The gateway learns how many of its tools are served.
#[cfg(feature = "arcade")]
pub(super) fn serve(
    gateway: &crate::arcade::GatewayState,
    merged: Vec<Arc<RegisteredTool>>,
) -> Result<(Registry, Vec<String>), BuildError> {
    let mut registry = Registry::default();
    let mut left_out = Vec::new();
    for tool in merged {
        let remote = tool.local_handler().is_none();
        let name = tool.info.name.clone();
        match registry.insert_shared(tool) {
            Ok(()) => {}
            Err(error) if remote => {
                let problem = format!("remote tool '{name}' is left out: {error}");
                tracing::warn!(problem = %problem, "Arcade Engine tool left out");
                left_out.push(problem);
            }
            Err(error) => return Err(error),
        }
    }
    let remote = registry
        .tools()
        .filter(|tool| !matches!(tool.runs, crate::registry::Runs::Local(_)))
        .count();
    gateway.served(remote);
    Ok((registry, left_out))
}

/// Keys `by_tool` by each tool's registered name, since a builder option may name a tool by
/// its exported name (`MyApp_Calculator`) too; `merge` joins two entries for one tool. An
/// unknown name is an error, unless the tool may join `later` (an Engine's): then it is kept
/// as given, with a warning.
pub(super) fn by_registered_name<T>(
    registry: &Registry,
    by_tool: HashMap<String, T>,
    later: bool,
    merge: impl Fn(&mut T, T) -> Result<(), &'static str>,
) -> Result<HashMap<String, T>, BuildError> {
    let mut resolved: HashMap<String, T> = HashMap::with_capacity(by_tool.len());
    for (name, value) in by_tool {
        let Some(tool) = registry.get(&name) else {
            if later && crate::registry::check_tool_name(&name).is_ok() {
                tracing::warn!(tool = %name, "a validator or rate limit names a tool not served yet: it applies once the Arcade Engine lists it");
                if resolved.insert(name.clone(), value).is_some() {
                    return Err(BuildError::InvalidConfig(format!(
                        "tool '{name}' is given two validators or rate limits"
                    )));
                }
                continue;
            }
            return Err(BuildError::InvalidConfig(format!(
                "a validator or rate limit names tool '{name}', which is not registered"
            )));
        };
        match resolved.entry(tool.info.name.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(value);
            }
            Entry::Occupied(mut slot) => merge(slot.get_mut(), value).map_err(|problem| {
                BuildError::InvalidConfig(format!("tool '{}' {problem}", tool.info.name))
            })?,
        }
    }
    Ok(resolved)
}
