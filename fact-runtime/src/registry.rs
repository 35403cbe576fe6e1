//! The registry: every tool the executor can run, built once at start-up from the `#[tool]`
//! functions linked into the program (`inventory`) plus tools registered at run time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::annotations::ToolAnnotations;
use crate::definition::{Handler, ToolDefinition, ToolRegistration};
use crate::error::BuildError;
use crate::metrics::ToolSeries;
use crate::pipeline::validate::CompiledSchema;
use crate::schema::underscore_name;

/// Longest tool name (docs/ARCHITECTURE.md).
pub(crate) const MAX_NAME_LEN: usize = 64;

/// What a caller may know about a tool: its identity, its contract and where it was defined.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ToolInfo {
    /// `Toolkit.Tool`.
    pub name: String,
    /// A title for people, when the tool has one (`#[tool(title = "...")]`,
    /// [`ToolDefinition::title`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the LLM choosing it.
    pub description: String,
    /// `MAJOR.MINOR.PATCH`.
    pub version: String,
    /// How long a call may run before it fails with 504.
    #[serde(rename = "timeout_seconds", serialize_with = "seconds")]
    pub timeout: Duration,
    /// Whether a call needs an authorized user.
    pub requires_auth: bool,
    /// OAuth scopes the user's grant must cover.
    pub scopes: Vec<String>,
    /// The provider of the authorization the tool requires, as an Arcade Engine names it
    /// (`#[tool(auth_provider = "github")]`), when declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_provider: Option<String>,
    /// The keys of the secrets the tool reads from its context (`#[tool(secrets = [...])]`):
    /// only these reach it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// The tool's own quota in calls per minute per caller (`#[tool(rate_limit = N)]`), on top
    /// of the executor's; applied when the executor enables rate limiting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_minute: Option<u32>,
    /// What the tool declares about its effects (`#[tool(read_only, ...)]`,
    /// [`ToolDefinition::annotations`]); none for a tool of a remote Engine, whose listing
    /// carries no such hints.
    pub annotations: ToolAnnotations,
    /// JSON Schema of the arguments (root `type: "object"`).
    pub input_schema: Value,
    /// JSON Schema of the output, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// The defining function (`module::function (file:line)`), `registered at run time`, or
    /// the remote Engine that serves it.
    pub defined_at: String,
    /// Where calls of the tool run.
    pub execution: Execution,
}

/// Where calls of a tool run: in this process, on an Arcade Engine, or on both, the first
/// side first and the second when the first cannot take the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Execution {
    /// In this process.
    Local,
    /// On the Arcade Engine.
    Arcade,
    /// Here, and on the Engine should this process not take the call.
    LocalThenArcade,
    /// On the Engine, and here should the Engine not take the call.
    ArcadeThenLocal,
}

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// A tool ready to run: its info, where it runs, its compiled input schema and its metric
/// series.
#[derive(Debug)]
pub(crate) struct RegisteredTool {
    pub(crate) info: Arc<ToolInfo>,
    pub(crate) timeout: Duration,
    pub(crate) schema: Arc<CompiledSchema>,
    pub(crate) runs: Runs,
    pub(crate) series: Arc<ToolSeries>,
}

/// What runs a tool's calls: its handler here, its remote on an Engine, or both. A tool on
/// both sides keeps the local tool whole (its schema and authorization), so that a call that
/// falls back to it passes its checks, not only the remote's.
#[derive(Debug, Clone)]
pub(crate) enum Runs {
    Local(Handler),
    #[cfg(feature = "arcade")]
    Remote(crate::arcade::RemoteTool),
    #[cfg(feature = "arcade")]
    Both {
        local: Arc<RegisteredTool>,
        remote: crate::arcade::RemoteTool,
        remote_first: bool,
    },
}

#[cfg(feature = "arcade")]
impl RegisteredTool {
    /// The handler of a tool that runs here (first or only), `None` for a remote-only one.
    pub(crate) fn local_handler(&self) -> Option<&Handler> {
        match &self.runs {
            Runs::Local(handler) => Some(handler),
            Runs::Remote(_) => None,
            Runs::Both { local, .. } => local.local_handler(),
        }
    }
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Static(_) => "Handler::Static",
            Self::Dynamic(_) => "Handler::Dynamic",
        })
    }
}

/// All tools by name. Lookups are O(1); a name with `_` in place of `.` (as OpenAI and
/// Anthropic exports spell it) finds the same tool.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    tools: Vec<Arc<RegisteredTool>>,
    by_name: HashMap<String, usize>,
    by_export_name: HashMap<String, usize>,
}

impl Registry {
    /// Builds the registry from every linked `#[tool]` (when `discover` is set) and `manual`.
    pub(crate) fn build(discover: bool, manual: Vec<ToolDefinition>) -> Result<Self, BuildError> {
        let mut registry = Self::default();
        if discover {
            for registration in inventory::iter::<ToolRegistration> {
                registry.insert(from_registration(registration)?)?;
            }
        }
        for definition in manual {
            registry.insert(from_definition(definition)?)?;
        }
        Ok(registry)
    }

    /// A registry of `tools`, already checked and compiled, refusing clashes as
    /// [`build`](Self::build) does.
    pub(crate) fn of(
        tools: impl IntoIterator<Item = Arc<RegisteredTool>>,
    ) -> Result<Self, BuildError> {
        let mut registry = Self::default();
        for tool in tools {
            registry.insert_shared(tool)?;
        }
        Ok(registry)
    }

    fn insert(&mut self, tool: RegisteredTool) -> Result<(), BuildError> {
        self.insert_shared(Arc::new(tool))
    }

    pub(crate) fn insert_shared(&mut self, tool: Arc<RegisteredTool>) -> Result<(), BuildError> {
        if let Some(&index) = self.by_name.get(&tool.info.name) {
            return Err(BuildError::DuplicateTool {
                name: tool.info.name.clone(),
                first: self.tools[index].info.defined_at.clone(),
                second: tool.info.defined_at.clone(),
            });
        }
        let export_name = underscore_name(&tool.info.name);
        if let Some(&index) = self.by_export_name.get(&export_name) {
            // `A_b.C` and `A.b_C` would both be exported as `A_b_C`.
            let existing = &self.tools[index];
            return Err(BuildError::AmbiguousExportName {
                export_name,
                first: format!("'{}' ({})", existing.info.name, existing.info.defined_at),
                second: format!("'{}' ({})", tool.info.name, tool.info.defined_at),
            });
        }
        let index = self.tools.len();
        self.by_name.insert(tool.info.name.clone(), index);
        self.by_export_name.insert(export_name, index);
        self.tools.push(tool);
        Ok(())
    }

    /// The tool called `name`, or exported as `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Arc<RegisteredTool>> {
        let index = self
            .by_name
            .get(name)
            .or_else(|| self.by_export_name.get(name))?;
        self.tools.get(*index)
    }

    /// Every tool, in registration order.
    pub(crate) fn tools(&self) -> impl Iterator<Item = &Arc<RegisteredTool>> {
        self.tools.iter()
    }

    /// Every tool, sorted by name.
    pub(crate) fn infos(&self) -> Vec<Arc<ToolInfo>> {
        let mut infos: Vec<Arc<ToolInfo>> =
            self.tools.iter().map(|t| Arc::clone(&t.info)).collect();
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        infos
    }

    pub(crate) fn len(&self) -> usize {
        self.tools.len()
    }
}

fn from_registration(registration: &ToolRegistration) -> Result<RegisteredTool, BuildError> {
    let defined_at = registration.defined_at.to_string();
    let timeout = Duration::from_secs(registration.timeout_secs);
    let info = ToolInfo {
        name: registration.name.to_owned(),
        title: registration.title.map(str::to_owned),
        // Shown to models: rustdoc's links become plain text.
        description: crate::schema::plain_text(registration.description),
        version: registration.version.to_owned(),
        timeout,
        requires_auth: registration.requires_auth,
        scopes: registration
            .scopes
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        auth_provider: registration.auth_provider.map(str::to_owned),
        secrets: registration
            .secrets
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
        rate_limit_per_minute: Some(registration.rate_limit_per_minute).filter(|n| *n > 0),
        annotations: registration.annotations,
        input_schema: (registration.input_schema)(),
        output_schema: (registration.output_schema)(),
        defined_at,
        execution: Execution::Local,
    };
    finish(info, Runs::Local(Handler::Static(registration.call)))
}

fn from_definition(definition: ToolDefinition) -> Result<RegisteredTool, BuildError> {
    let info = ToolInfo {
        name: definition.name,
        title: definition.title,
        description: definition.description,
        version: definition.version,
        timeout: definition.timeout,
        requires_auth: definition.requires_auth,
        scopes: definition.scopes,
        auth_provider: definition.auth_provider,
        secrets: definition.secrets,
        rate_limit_per_minute: None,
        annotations: definition.annotations,
        input_schema: definition.input_schema,
        output_schema: definition.output_schema,
        defined_at: "registered at run time".to_owned(),
        execution: Execution::Local,
    };
    finish(info, Runs::Local(Handler::Dynamic(definition.handler)))
}

/// Checks `info` against the contract of every definition, compiles its schema and keys its
/// metric series: a tool ready to run on `runs`.
pub(crate) fn finish(info: ToolInfo, runs: Runs) -> Result<RegisteredTool, BuildError> {
    if let Err(reason) = check_tool_name(&info.name) {
        return Err(BuildError::InvalidName {
            name: info.name,
            reason,
            defined_at: info.defined_at,
        });
    }
    if let Err(reason) = check_definition(&info) {
        return Err(BuildError::InvalidDefinition {
            name: info.name,
            reason,
            defined_at: info.defined_at,
        });
    }
    let schema = CompiledSchema::compile(&info.input_schema).map_err(|reason| {
        BuildError::InvalidSchema {
            name: info.name.clone(),
            reason,
            defined_at: info.defined_at.clone(),
        }
    })?;
    Ok(RegisteredTool {
        timeout: info.timeout,
        series: Arc::new(ToolSeries::new(&Arc::from(info.name.as_str()))),
        info: Arc::new(info),
        schema: Arc::new(schema),
        runs,
    })
}

/// Whether `name` could name a tool in a lookup, by its registered name (`Toolkit.Tool`) or
/// its exported one (`Toolkit_Tool`): 1 to [`MAX_NAME_LEN`] letters, digits, `_` and `.`. Any
/// other text is the caller's alone, and is kept out of logs and answers.
pub(crate) fn plausible_tool_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// docs/ARCHITECTURE.md's pattern: `Toolkit.Tool`, segments `[A-Za-z][A-Za-z0-9_]*`, at most 64
/// characters. `#[tool]` checks the same at compile time; this covers run-time registrations.
pub(crate) fn check_tool_name(name: &str) -> Result<(), String> {
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{} characters, at most {MAX_NAME_LEN} allowed",
            name.len()
        ));
    }
    let Some((toolkit, tool)) = name.split_once('.') else {
        return Err("expected `Toolkit.Tool`, found no `.`".to_owned());
    };
    for segment in [toolkit, tool] {
        let valid_start = segment.starts_with(|c: char| c.is_ascii_alphabetic());
        let valid_rest = segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_start || !valid_rest {
            return Err(format!(
                "segment `{segment}` must start with a letter and hold only letters, digits and `_`"
            ));
        }
    }
    Ok(())
}

/// The longest timeout a tool may declare: one day, as `#[tool(timeout = ...)]` allows.
const MAX_TIMEOUT: Duration = Duration::from_secs(86_400);

/// The rest of the contract every definition keeps (docs/ARCHITECTURE.md), whether `#[tool]`
/// made it (checked again here at no cost) or it was registered at run time: version
/// `MAJOR.MINOR.PATCH` numbers, a timeout from 1 s to one day, scopes and secret keys
/// non-empty, without whitespace, each once, an auth provider only on a tool that requires
/// authorization, a title (when there is one) not blank.
fn check_definition(info: &ToolInfo) -> Result<(), String> {
    if let Some(title) = &info.title
        && title.trim().is_empty()
    {
        return Err(format!(
            "title {title:?} is blank: give a title people can read, or none"
        ));
    }
    let parts: Vec<&str> = info.version.split('.').collect();
    let numeric = parts
        .iter()
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    if parts.len() != 3 || !numeric {
        return Err(format!(
            "version \"{}\" is not MAJOR.MINOR.PATCH, e.g. \"1.0.0\"",
            info.version
        ));
    }
    if info.timeout < Duration::from_secs(1) || info.timeout > MAX_TIMEOUT {
        return Err(format!(
            "timeout of {} s is outside 1 s to 86400 s (one day)",
            info.timeout.as_secs_f64()
        ));
    }
    for (index, scope) in info.scopes.iter().enumerate() {
        if scope.is_empty() || scope.chars().any(char::is_whitespace) {
            return Err(format!(
                "scope {scope:?} must be non-empty and contain no whitespace"
            ));
        }
        if info.scopes[..index].contains(scope) {
            return Err(format!("duplicate scope \"{scope}\""));
        }
    }
    if let Some(provider) = &info.auth_provider {
        if provider.is_empty() || provider.chars().any(char::is_whitespace) {
            return Err(format!(
                "auth provider {provider:?} must be non-empty and contain no whitespace"
            ));
        }
        if !info.requires_auth && info.scopes.is_empty() {
            return Err(format!(
                "auth provider \"{provider}\" is named, but the tool requires no authorization"
            ));
        }
    }
    for (index, key) in info.secrets.iter().enumerate() {
        if key.is_empty() || key.chars().any(char::is_whitespace) {
            return Err(format!(
                "secret key {key:?} must be non-empty and contain no whitespace"
            ));
        }
        if info.secrets[..index]
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(key))
        {
            return Err(format!(
                "duplicate secret \"{key}\" (keys match without regard to case)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_tool_name;

    #[test]
    fn tool_names_follow_toolkit_dot_tool() {
        assert!(check_tool_name("MyApp.Calculator").is_ok());
        assert!(check_tool_name("A1.b_2").is_ok());
        for bad in [
            "Calculator",
            "My App.Calc",
            "MyApp.2Calc",
            "A.B.C",
            ".Calc",
            "MyApp.",
            "É.x",
        ] {
            assert!(check_tool_name(bad).is_err(), "{bad} should be refused");
        }
        let long = format!("A.{}", "b".repeat(63));
        assert!(
            check_tool_name(&long)
                .expect_err("too long")
                .contains("at most 64")
        );
    }
}
