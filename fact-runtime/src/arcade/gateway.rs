//! [`ArcadeGateway`]: which tools run here, which on an Arcade Engine, and which on both with
//! fallback; the remote side of a tool ([`RemoteTool`]), and the Engine's health
//! (docs/ARCHITECTURE.md, "Remote execution").

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::breaker::{
    Admission, CircuitBreaker, CircuitState, DEFAULT_BREAKER_COOL_DOWN, DEFAULT_BREAKER_FAILURES,
};
use super::client::{API_KEY_ENV, ArcadeClient};
use super::convert::remote_shape;
use super::error::ArcadeError;
use super::kinds;
use super::wire::{ExecuteRequest, OutputError, kind};
use crate::annotations::ToolAnnotations;
use crate::call::ToolCall;
use crate::clock::SharedClock;
use crate::error::ToolError;
use crate::registry::{Execution, RegisteredTool, Runs, ToolInfo, finish};

/// The environment variable choosing the [`ExecutionMode`].
pub const EXECUTION_MODE_ENV: &str = "FACT_EXECUTION_MODE";
/// The environment variable naming the Engine's toolkits to serve, comma-separated (all when
/// unset).
pub const TOOLKITS_ENV: &str = "FACT_ARCADE_TOOLKITS";
/// The environment variable setting how often the Engine's catalogue is read again, in
/// seconds (`0`: never).
pub const REFRESH_SECONDS_ENV: &str = "FACT_ARCADE_REFRESH_SECONDS";
/// How long a remote tool's call may run, unless set: the Engine's own default.
pub const DEFAULT_REMOTE_TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often the catalogue is read again, unless set.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(300);

/// Where the executor runs calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExecutionMode {
    /// Only this process's tools, here.
    Local,
    /// Only the Engine's tools, on the Engine.
    Remote,
    /// Both: a tool on one side runs there; a tool on both sides runs on the preferred side
    /// first and on the other when the first cannot take the call.
    Hybrid,
}

impl ExecutionMode {
    /// `local`, `remote`, `hybrid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Remote => "remote",
            Self::Hybrid => "hybrid",
        }
    }
}

impl fmt::Display for ExecutionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionMode {
    type Err = ArcadeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "remote" => Ok(Self::Remote),
            "hybrid" => Ok(Self::Hybrid),
            other => Err(ArcadeError::Config(format!(
                "execution mode '{other}' is none of local, remote, hybrid"
            ))),
        }
    }
}

/// The mode `FACT_EXECUTION_MODE` (`named`) asks for, given whether an API key is set: none
/// (no gateway) for `local`, or for no mode and no key; `hybrid` for a key and no mode.
fn mode_of_environment(
    named: Option<&str>,
    key_set: bool,
) -> Result<Option<ExecutionMode>, ArcadeError> {
    let named = named
        .map(|mode| {
            mode.parse::<ExecutionMode>().map_err(|_| {
                ArcadeError::Config(format!(
                    "{EXECUTION_MODE_ENV} is '{}', none of local, remote, hybrid",
                    mode.trim()
                ))
            })
        })
        .transpose()?;
    match (named, key_set) {
        (Some(ExecutionMode::Local), _) | (None, false) => Ok(None),
        (Some(mode), false) => Err(ArcadeError::Config(format!(
            "{EXECUTION_MODE_ENV}={mode} needs an Arcade Engine: set {API_KEY_ENV}"
        ))),
        (Some(mode), true) => Ok(Some(mode)),
        (None, true) => Ok(Some(ExecutionMode::Hybrid)),
    }
}

/// A side a call can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Side {
    /// This process.
    Local,
    /// The Arcade Engine.
    Arcade,
}

/// Routes an executor's calls between its own tools and an Arcade Engine's: the Engine's
/// tools (all, or the toolkits named) join the registry, and each call runs where the mode
/// says, through every stage of the pipeline first.
///
/// ```no_run
/// use fact_runtime::ToolExecutor;
/// use fact_runtime::arcade::{ArcadeClient, ArcadeGateway, ExecutionMode, Side};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = ArcadeClient::builder("arc_...").base_url("http://127.0.0.1:8081/arcade").build()?;
/// let gateway = ArcadeGateway::new(client)
///     .mode(ExecutionMode::Hybrid)
///     .toolkits(["Math"])
///     .prefer(Side::Local);
/// let executor = ToolExecutor::builder().arcade(gateway).build_connected().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ArcadeGateway {
    pub(crate) client: ArcadeClient,
    pub(crate) mode: ExecutionMode,
    pub(crate) tool_modes: HashMap<String, ExecutionMode>,
    pub(crate) toolkits: Vec<String>,
    pub(crate) prefer: Side,
    pub(crate) breaker_failures: u32,
    pub(crate) breaker_cool_down: Duration,
    pub(crate) remote_tool_timeout: Duration,
    pub(crate) refresh_interval: Option<Duration>,
}

impl ArcadeGateway {
    /// A gateway to `client`'s Engine: hybrid, every toolkit, local first, a circuit that
    /// opens after [`DEFAULT_BREAKER_FAILURES`] failures for [`DEFAULT_BREAKER_COOL_DOWN`].
    pub fn new(client: ArcadeClient) -> Self {
        Self {
            client,
            mode: ExecutionMode::Hybrid,
            tool_modes: HashMap::new(),
            toolkits: Vec::new(),
            prefer: Side::Local,
            breaker_failures: DEFAULT_BREAKER_FAILURES,
            breaker_cool_down: DEFAULT_BREAKER_COOL_DOWN,
            remote_tool_timeout: DEFAULT_REMOTE_TOOL_TIMEOUT,
            refresh_interval: Some(DEFAULT_REFRESH_INTERVAL),
        }
    }

    /// The gateway the environment asks for: none when [`EXECUTION_MODE_ENV`] is `local`, or
    /// is unset and [`API_KEY_ENV`] is too; else one of
    /// [`ArcadeClient::from_env`], in the mode asked for (default `hybrid`), serving
    /// [`TOOLKITS_ENV`]'s toolkits, refreshed every [`REFRESH_SECONDS_ENV`] seconds.
    ///
    /// # Errors
    ///
    /// [`ArcadeError::Config`] when a variable is malformed, or a remote mode has no key.
    pub fn from_env() -> Result<Option<Self>, ArcadeError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let Some(mode) = mode_of_environment(
            var(EXECUTION_MODE_ENV).as_deref(),
            var(API_KEY_ENV).is_some(),
        )?
        else {
            return Ok(None);
        };
        let mut gateway = Self::new(ArcadeClient::from_env()?).mode(mode);
        if let Some(toolkits) = var(TOOLKITS_ENV) {
            gateway = gateway.toolkits(
                toolkits
                    .split(',')
                    .map(str::trim)
                    .filter(|toolkit| !toolkit.is_empty()),
            );
        }
        if let Some(seconds) = var(REFRESH_SECONDS_ENV) {
            let seconds: u64 = seconds.trim().parse().map_err(|_| {
                ArcadeError::Config(format!(
                    "{REFRESH_SECONDS_ENV} must be a whole number of seconds, not '{seconds}'"
                ))
            })?;
            gateway = gateway.refresh_interval((seconds > 0).then(|| Duration::from_secs(seconds)));
        }
        Ok(Some(gateway))
    }

    /// Where calls run (default [`ExecutionMode::Hybrid`]).
    #[must_use]
    pub fn mode(mut self, mode: ExecutionMode) -> Self {
        self.mode = mode;
        self
    }

    /// Where calls of tool `name` run, whatever the executor's mode.
    #[must_use]
    pub fn tool_mode(mut self, name: impl Into<String>, mode: ExecutionMode) -> Self {
        self.tool_modes.insert(name.into(), mode);
        self
    }

    /// Serves only the Engine's tools of these toolkits (default: all).
    #[must_use]
    pub fn toolkits(mut self, toolkits: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.toolkits = toolkits.into_iter().map(Into::into).collect();
        self
    }

    /// The side a tool on both sides runs on first (default [`Side::Local`]).
    #[must_use]
    pub fn prefer(mut self, side: Side) -> Self {
        self.prefer = side;
        self
    }

    /// Opens the circuit after `failures` consecutive transport failures, for `cool_down`.
    #[must_use]
    pub fn circuit_breaker(mut self, failures: u32, cool_down: Duration) -> Self {
        self.breaker_failures = failures;
        self.breaker_cool_down = cool_down;
        self
    }

    /// How long a remote tool's call may run (default [`DEFAULT_REMOTE_TOOL_TIMEOUT`]): the
    /// Engine's definitions carry no timeout.
    #[must_use]
    pub fn remote_tool_timeout(mut self, timeout: Duration) -> Self {
        self.remote_tool_timeout = timeout;
        self
    }

    /// How often [`ToolExecutorBuilder::build_connected`](crate::ToolExecutorBuilder::build_connected)'s
    /// executor reads the catalogue again (default [`DEFAULT_REFRESH_INTERVAL`]; `None`: only on
    /// [`ToolExecutor::refresh_remote_tools`](crate::ToolExecutor::refresh_remote_tools)).
    #[must_use]
    pub fn refresh_interval(mut self, interval: Option<Duration>) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// The mode of tool `name`.
    fn mode_of(&self, name: &str) -> ExecutionMode {
        self.tool_modes.get(name).copied().unwrap_or(self.mode)
    }
}

/// A gateway at work: its settings, its Engine's circuit and what it knows of the Engine.
#[derive(Debug)]
pub(crate) struct GatewayState {
    pub(crate) settings: ArcadeGateway,
    breaker: CircuitBreaker,
    stats: Mutex<Stats>,
    /// Held by a catalogue refresh from its read to its swap.
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct Stats {
    tools: usize,
    latency_ms: Option<f64>,
    last_error: Option<String>,
    catalogue_read: bool,
}

/// How the Arcade Engine is doing, as `/health` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ArcadeHealth {
    /// `healthy`: calls and catalogue reads succeed; `degraded`: some fail, or the circuit
    /// probes; `unreachable`: the circuit is open or the Engine was never reached.
    pub status: &'static str,
    /// The executor's mode.
    pub mode: ExecutionMode,
    /// The Engine's base URL.
    pub base_url: String,
    /// The circuit's state.
    pub circuit: CircuitState,
    /// How many of the Engine's tools the registry holds.
    pub tools: usize,
    /// The Engine's recent answer time, in milliseconds (a moving average).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// The class of the last failure (`POST /v1/tools/execute: HTTP 503`), when the last
    /// request failed: never the Engine's own words, since `/health` is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl GatewayState {
    pub(crate) fn new(settings: ArcadeGateway, clock: SharedClock) -> Self {
        let breaker =
            CircuitBreaker::new(settings.breaker_failures, settings.breaker_cool_down, clock);
        Self {
            settings,
            breaker,
            stats: Mutex::new(Stats::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The `engine` label of this gateway's series: its Engine's base URL (one per configured
    /// Engine, so the series stay few).
    fn engine_label(&self) -> String {
        self.settings.client.base_url().to_owned()
    }

    /// Held while one refresh reads, merges and swaps the catalogue.
    pub(crate) async fn refreshing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refresh.lock().await
    }

    /// `tools` of the Engine's are served now.
    pub(crate) fn served(&self, tools: usize) {
        self.stats().tools = tools;
        metrics::gauge!("arcade_remote_tools", "engine" => self.engine_label()).set(tools as f64);
    }

    /// How many of the Engine's tools are served now.
    pub(crate) fn tools_served(&self) -> usize {
        self.stats().tools
    }

    fn stats(&self) -> std::sync::MutexGuard<'_, Stats> {
        // A few counters, each write whole: a panic elsewhere leaves them valid.
        self.stats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The Engine answered within `elapsed`.
    fn answered(&self, elapsed: Duration) {
        self.breaker.succeeded();
        let mut stats = self.stats();
        let ms = elapsed.as_secs_f64() * 1000.0;
        stats.latency_ms = Some(match stats.latency_ms {
            Some(average) => average * 0.8 + ms * 0.2,
            None => ms,
        });
        stats.last_error = None;
        let engine = self.engine_label();
        metrics::gauge!("arcade_latency_seconds", "engine" => engine.clone())
            .set(stats.latency_ms.unwrap_or(0.0) / 1000.0);
        metrics::gauge!("arcade_circuit_open", "engine" => engine).set(0.0);
    }

    /// The Engine failed with `error`: a transport failure counts toward opening the circuit.
    fn failed(&self, error: &ArcadeError) {
        if transport_failure(error) {
            self.breaker.failed();
        } else {
            self.breaker.succeeded();
        }
        self.stats().last_error = Some(error.class());
        let open = self.breaker.state() == CircuitState::Open;
        metrics::gauge!("arcade_circuit_open", "engine" => self.engine_label()).set(if open {
            1.0
        } else {
            0.0
        });
    }

    pub(crate) fn health(&self) -> ArcadeHealth {
        let circuit = self.breaker.state();
        let stats = self.stats();
        let status = match circuit {
            CircuitState::Open => "unreachable",
            _ if !stats.catalogue_read && stats.latency_ms.is_none() => "unreachable",
            CircuitState::HalfOpen => "degraded",
            CircuitState::Closed if stats.last_error.is_some() => "degraded",
            CircuitState::Closed => "healthy",
        };
        ArcadeHealth {
            status,
            mode: self.settings.mode,
            base_url: self.settings.client.base_url().to_owned(),
            circuit,
            tools: stats.tools,
            latency_ms: stats.latency_ms,
            last_error: stats.last_error.clone(),
        }
    }

    /// Reads the Engine's catalogue (the toolkits named, or all) as tools ready to register;
    /// a tool that cannot be registered is left out with a warning naming it.
    pub(crate) async fn read_catalogue(
        self: &Arc<Self>,
    ) -> Result<(Vec<RegisteredTool>, Vec<String>), ArcadeError> {
        let client = &self.settings.client;
        let started = Instant::now();
        let listed = if self.settings.toolkits.is_empty() {
            client.catalogue(None).await
        } else {
            let mut tools = Vec::new();
            let mut failure = None;
            for toolkit in &self.settings.toolkits {
                match client.catalogue(Some(toolkit)).await {
                    Ok(more) => tools.extend(more),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            failure.map_or(Ok(tools), Err)
        };
        let listed = match listed {
            Ok(listed) => {
                self.answered(started.elapsed());
                listed
            }
            Err(error) => {
                self.failed(&error);
                return Err(error);
            }
        };
        let defined_at = format!("Arcade Engine {}", client.base_url());
        let mut tools = Vec::with_capacity(listed.len());
        let mut skipped = Vec::new();
        for entry in &listed {
            let registered = entry
                .as_ref()
                .map_err(Clone::clone)
                .and_then(remote_shape)
                .and_then(|shape| {
                    // The Engine lists no title or annotations: the tool declares none here.
                    let info = ToolInfo {
                        name: shape.name.clone(),
                        title: None,
                        description: shape.description,
                        version: shape.version.clone(),
                        timeout: self.settings.remote_tool_timeout,
                        requires_auth: shape.requires_auth,
                        scopes: shape.scopes,
                        auth_provider: shape.auth_provider,
                        // The Engine hands a remote tool its secrets itself.
                        secrets: Vec::new(),
                        rate_limit_per_minute: None,
                        annotations: ToolAnnotations::default(),
                        input_schema: shape.input_schema,
                        output_schema: None,
                        defined_at: defined_at.clone(),
                        execution: Execution::Arcade,
                    };
                    let remote = RemoteTool {
                        gateway: Arc::clone(self),
                        name: shape.name.clone(),
                        version: shape.version_known.then_some(shape.version),
                    };
                    finish(info, Runs::Remote(remote)).map_err(|error| {
                        format!("remote tool '{}' is left out: {error}", shape.name)
                    })
                });
            match registered {
                Ok(tool) => tools.push(tool),
                Err(problem) => {
                    tracing::warn!(problem = %problem, "Arcade Engine tool left out");
                    skipped.push(problem);
                }
            }
        }
        let mut stats = self.stats();
        stats.catalogue_read = true;
        Ok((tools, skipped))
    }

    /// The registry's tools: `locals` and `remotes` as the modes say, a tool on both sides
    /// joined into one that runs on the preferred side first. Each name on both sides is
    /// logged with the rule that settled it.
    pub(crate) fn merge(
        &self,
        locals: &[Arc<RegisteredTool>],
        remotes: Vec<RegisteredTool>,
    ) -> Vec<Arc<RegisteredTool>> {
        let settings = &self.settings;
        let mut remotes: HashMap<String, RegisteredTool> = remotes
            .into_iter()
            .map(|tool| (tool.info.name.clone(), tool))
            .collect();
        let mut merged = Vec::with_capacity(locals.len() + remotes.len());
        for local in locals {
            let name = &local.info.name;
            let mode = settings.mode_of(name);
            match (mode, remotes.remove(name)) {
                (ExecutionMode::Local, remote) => {
                    if remote.is_some() {
                        tracing::info!(tool = %name, "tool is here and on the Arcade Engine: runs here (mode local)");
                    }
                    merged.push(Arc::clone(local));
                }
                (ExecutionMode::Remote, Some(remote)) => {
                    tracing::info!(tool = %name, "tool is here and on the Arcade Engine: runs on the Engine (mode remote)");
                    merged.push(Arc::new(remote));
                }
                (ExecutionMode::Remote, None) => {
                    tracing::info!(tool = %name, "tool is not served: mode remote, and the Arcade Engine has no such tool");
                }
                (ExecutionMode::Hybrid, None) => merged.push(Arc::clone(local)),
                (ExecutionMode::Hybrid, Some(remote)) => {
                    merged.push(Arc::new(both(local, remote, settings.prefer)));
                }
            }
        }
        // In name order, so that which of two clashing tools is left out does not vary.
        let mut remotes: Vec<(String, RegisteredTool)> = remotes.into_iter().collect();
        remotes.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, remote) in remotes {
            if settings.mode_of(&name) != ExecutionMode::Local {
                merged.push(Arc::new(remote));
            }
        }
        merged
    }
}

/// One tool of `local` and `remote`, which share a name, that runs on `prefer` first. It keeps
/// the preferred side's definition for the pipeline's first checks, and the local tool whole
/// for a call that runs here.
fn both(local: &Arc<RegisteredTool>, remote: RegisteredTool, prefer: Side) -> RegisteredTool {
    let Runs::Remote(remote_side) = remote.runs.clone() else {
        return remote;
    };
    let remote_first = prefer == Side::Arcade;
    let (base, execution) = if remote_first {
        (&remote, Execution::ArcadeThenLocal)
    } else {
        (&**local, Execution::LocalThenArcade)
    };
    tracing::info!(
        tool = %local.info.name,
        first = if remote_first { "arcade" } else { "local" },
        "tool is here and on the Arcade Engine: runs on the preferred side first, on the other when the first cannot take a call"
    );
    let mut info = (*base.info).clone();
    info.execution = execution;
    RegisteredTool {
        info: Arc::new(info),
        timeout: base.timeout,
        schema: Arc::clone(&base.schema),
        runs: Runs::Both {
            local: Arc::clone(local),
            remote: remote_side,
            remote_first,
        },
        series: Arc::clone(&local.series),
    }
}

/// Whether `error` says the Engine is unwell (unreachable, failing, nonsensical), as opposed
/// to an answer about the call.
fn transport_failure(error: &ArcadeError) -> bool {
    match error {
        ArcadeError::Status { status, .. } => *status >= 500,
        ArcadeError::Config(_) => false,
        ArcadeError::Connect { .. }
        | ArcadeError::Transport { .. }
        | ArcadeError::Timeout { .. }
        | ArcadeError::Malformed { .. }
        | ArcadeError::TooLarge { .. } => true,
    }
}

/// The remote side of a tool: the Engine that runs it and its name there.
#[derive(Clone)]
pub(crate) struct RemoteTool {
    gateway: Arc<GatewayState>,
    name: String,
    /// The version calls ask for: the Engine's, when it gave one.
    version: Option<String>,
}

impl fmt::Debug for RemoteTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteTool")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("base_url", &self.gateway.settings.client.base_url())
            .finish()
    }
}

/// How a remote call ended: its result, and whether the Engine could not take it (so that
/// another side may).
#[derive(Debug)]
pub(crate) struct RemoteOutcome {
    pub(crate) result: Result<Value, ToolError>,
    pub(crate) declined: bool,
}

impl RemoteTool {
    /// Runs `call` on the Engine by `deadline`: the caller's user travels as `user_id`.
    pub(crate) async fn call(&self, call: &ToolCall, deadline: Instant) -> RemoteOutcome {
        let gateway = &*self.gateway;
        let admission = gateway.breaker.admit();
        if let Admission::Skip { retry_after } = admission {
            return RemoteOutcome {
                result: Err(ToolError::unavailable(
                    format!(
                        "the Arcade Engine is skipped for {} s: its circuit opened after {} consecutive failures",
                        retry_after.as_secs_f64().ceil(),
                        gateway.breaker.failures_to_open()
                    ),
                    retry_after,
                )),
                declined: true,
            };
        }
        // Should this call be dropped before it ends, a probe leaves its turn to the next call.
        let mut probe = ProbeGuard {
            breaker: (admission == Admission::Probe).then_some(&gateway.breaker),
        };
        let request = ExecuteRequest {
            tool_name: self.name.clone(),
            input: match &call.arguments {
                Value::Object(arguments) => arguments.clone(),
                _ => serde_json::Map::new(),
            },
            user_id: call.user_id.clone(),
            tool_version: self.version.clone(),
        };
        let started = Instant::now();
        let answer = gateway
            .settings
            .client
            .execute(&request, Some(deadline))
            .await;
        probe.breaker = None;
        match answer {
            Ok(response) => {
                gateway.answered(started.elapsed());
                let output = response.output.unwrap_or_default();
                if response.success {
                    return RemoteOutcome {
                        result: Ok(output.value.unwrap_or(Value::Null)),
                        declined: false,
                    };
                }
                let error = output.error.unwrap_or_else(|| OutputError {
                    message: format!("remote tool '{}' failed and did not say why", self.name),
                    kind: kind::UNKNOWN.to_owned(),
                    ..OutputError::default()
                });
                let url = output
                    .authorization
                    .and_then(|authorization| authorization.url);
                RemoteOutcome {
                    result: Err(kinds::tool_error(error, url)),
                    declined: false,
                }
            }
            Err(error) => {
                gateway.failed(&error);
                let declined = error.did_not_take();
                RemoteOutcome {
                    result: Err(error.into_tool_error(&call.tool_name)),
                    declined,
                }
            }
        }
    }
}

/// Hands the probe's turn on when a probing call is dropped before it ends.
struct ProbeGuard<'a> {
    breaker: Option<&'a CircuitBreaker>,
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(breaker) = self.breaker {
            breaker.probe_abandoned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_chooses_the_mode() {
        assert_eq!(mode_of_environment(None, false), Ok(None));
        assert_eq!(
            mode_of_environment(None, true),
            Ok(Some(ExecutionMode::Hybrid))
        );
        assert_eq!(mode_of_environment(Some("local"), true), Ok(None));
        assert_eq!(
            mode_of_environment(Some(" Remote "), true),
            Ok(Some(ExecutionMode::Remote))
        );
        assert_eq!(
            mode_of_environment(Some("remote"), false),
            Err(ArcadeError::Config(
                "FACT_EXECUTION_MODE=remote needs an Arcade Engine: set ARCADE_API_KEY".to_owned()
            ))
        );
        assert_eq!(
            mode_of_environment(Some("everywhere"), true),
            Err(ArcadeError::Config(
                "FACT_EXECUTION_MODE is 'everywhere', none of local, remote, hybrid".to_owned()
            ))
        );
    }
}
