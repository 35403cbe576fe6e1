//! [`EnvironmentSummary`]: the variables FACT reads, grouped, as safe to print at start-up.
//!
//! Every variable FACT reads is listed once here, with its group and how its value may be
//! shown (docs/ARCHITECTURE.md, "Environment"). The summary shows the variables that are set,
//! by group and then by name, and names the unset ones on one line, so that a deployment's
//! start-up log says what it runs with however many variables there are.

use std::ffi::OsStr;
use std::fmt;

use super::api_keys::{API_KEYS_ENV, API_KEYS_FILE_ENV, ApiKeys};

/// What a variable configures, in the order the summary prints the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum VariableGroup {
    /// How the server listens and what it lets through: address, limits, timeouts, MCP, logs.
    Server,
    /// Quotas: rate limits per user and per tool.
    Limits,
    /// Where FACT keeps its own state: the database, Redis, the audit log's durability.
    Stores,
    /// Remote execution on the Arcade Engine.
    Remote,
    /// Who may call, and the credentials FACT holds: API keys, OAuth2, the encryption key.
    Security,
    /// The standard tools' own settings: file roots, the SQL tools' database and limits.
    Tools,
}

impl VariableGroup {
    /// The group's name as printed.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Limits => "limits",
            Self::Stores => "stores",
            Self::Remote => "remote",
            Self::Security => "security",
            Self::Tools => "tools",
        }
    }
}

impl fmt::Display for VariableGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a variable's value may be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// As it is.
    Plain,
    /// Only whether it is set.
    Secret,
    /// As a URL without its credentials and query values.
    Url,
    /// `FACT_API_KEYS`: how many keys, for which users.
    ApiKeys,
}

use Shown::{ApiKeys as Keys, Plain, Secret, Url};
use VariableGroup::{Limits, Remote, Security, Server, Stores, Tools};

/// Every variable FACT reads. A variable added to the code is added here, or the start-up log
/// never mentions it.
const VARIABLES: &[(&str, VariableGroup, Shown)] = &[
    ("FACT_ADDR", Server, Plain),
    ("FACT_METRICS_PUBLIC", Server, Plain),
    ("FACT_MAX_BODY_BYTES", Server, Plain),
    ("FACT_REQUEST_TIMEOUT_SECS", Server, Plain),
    ("FACT_MAX_BATCH_CALLS", Server, Plain),
    ("FACT_HEADER_READ_TIMEOUT_SECS", Server, Plain),
    ("FACT_BODY_READ_TIMEOUT_SECS", Server, Plain),
    ("FACT_MAX_CONNECTIONS", Server, Plain),
    ("FACT_MAX_CONNECTIONS_PER_ADDRESS", Server, Plain),
    ("FACT_MAX_RESPONSE_BYTES", Server, Plain),
    ("FACT_MAX_BATCH_RESPONSE_BYTES", Server, Plain),
    ("FACT_SHUTDOWN_GRACE_SECS", Server, Plain),
    ("FACT_MCP_ALLOWED_HOSTS", Server, Plain),
    ("FACT_MCP_USER", Server, Plain),
    ("RUST_LOG", Server, Plain),
    ("DEBUG", Server, Plain),
    ("FACT_RATE_LIMIT_PER_MINUTE", Limits, Plain),
    ("FACT_RATE_LIMIT_BURST", Limits, Plain),
    ("FACT_RATE_LIMIT_BY_USER", Limits, Plain),
    ("FACT_RATE_LIMIT_TOOLS", Limits, Plain),
    ("FACT_RATE_LIMIT_ON_STORE_ERROR", Limits, Plain),
    ("DATABASE_URL", Stores, Url),
    ("REDIS_URL", Stores, Url),
    ("FACT_AUDIT_DURABILITY", Stores, Plain),
    ("ARCADE_API_KEY", Remote, Secret),
    ("ARCADE_BASE_URL", Remote, Url),
    (crate::arcade::EXECUTION_MODE_ENV, Remote, Plain),
    (crate::arcade::TOOLKITS_ENV, Remote, Plain),
    (crate::arcade::REFRESH_SECONDS_ENV, Remote, Plain),
    (crate::arcade::worker::WORKER_SECRET_ENV, Remote, Secret),
    (API_KEYS_ENV, Security, Keys),
    (API_KEYS_FILE_ENV, Security, Plain),
    ("FACT_ALLOW_ANONYMOUS", Security, Plain),
    ("SECRET_KEY", Security, Secret),
    ("ALLOWED_HOSTS", Security, Plain),
    ("OAUTH_CLIENT_ID", Security, Plain),
    ("OAUTH_CLIENT_SECRET", Security, Secret),
    ("OAUTH_AUTHORIZATION_URL", Security, Url),
    ("OAUTH_TOKEN_URL", Security, Url),
    ("OAUTH_REDIRECT_URI", Security, Url),
    ("FACT_FS_ROOTS", Tools, Plain),
    ("FACT_SQL_DATABASE_URL", Tools, Url),
    ("FACT_SQL_ALLOWED_TABLES", Tools, Plain),
    ("FACT_SQL_STATEMENT_TIMEOUT", Tools, Plain),
    ("FACT_SQL_MAX_RESULT_BYTES", Tools, Plain),
    ("FACT_SQL_MAX_CONNECTIONS", Tools, Plain),
    ("FACT_SQL_MAX_STATEMENTS_PER_USER", Tools, Plain),
];

/// One variable that is set, with its value as safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SetVariable {
    /// What it configures.
    pub group: VariableGroup,
    /// Its name.
    pub name: &'static str,
    /// Its value as safe to print: `(set, hidden)` for a secret, a URL without credentials or
    /// query values, the users of the API keys.
    pub shown: String,
}

/// The variables FACT reads, as safe to print: those set by group and then by name, and the
/// names of those unset.
///
/// ```
/// use fact_runtime::server::{EnvironmentSummary, VariableGroup};
///
/// let summary = EnvironmentSummary::from_lookup(|name| match name {
///     "FACT_ADDR" => Some("0.0.0.0:8080".to_owned()),
///     "DATABASE_URL" => Some("postgres://fact:hunter2@db/fact".to_owned()),
///     "SECRET_KEY" => Some("0123456789abcdef0123456789abcdef".to_owned()),
///     _ => None,
/// });
/// let lines: Vec<String> = summary.lines().collect();
/// assert_eq!(lines[0], "server: FACT_ADDR=0.0.0.0:8080");
/// assert_eq!(lines[1], "stores: DATABASE_URL=postgres://****@db/fact");
/// assert_eq!(lines[2], "security: SECRET_KEY=(set, hidden)");
/// assert!(lines[3].starts_with("unset: ALLOWED_HOSTS, ARCADE_API_KEY, "));
/// assert_eq!(summary.set()[0].group, VariableGroup::Server);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentSummary {
    set: Vec<SetVariable>,
    unset: Vec<&'static str>,
}

impl EnvironmentSummary {
    /// The summary of this process's environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| {
            std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
        })
    }

    /// The summary of the variables `lookup` gives: `Some(value)` for a set variable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut set = Vec::new();
        let mut unset = Vec::new();
        for &(name, group, shown) in VARIABLES {
            match lookup(name) {
                Some(value) => set.push(SetVariable {
                    group,
                    name,
                    shown: show(shown, &value, &lookup),
                }),
                // The keys may come from their file alone.
                None if shown == Keys && lookup(API_KEYS_FILE_ENV).is_some() => {
                    set.push(SetVariable {
                        group,
                        name,
                        shown: api_keys(None, &lookup),
                    });
                }
                None => unset.push(name),
            }
        }
        set.sort_by(|a, b| (a.group, a.name).cmp(&(b.group, b.name)));
        unset.sort_unstable();
        Self { set, unset }
    }

    /// The variables that are set, by group, then by name.
    pub fn set(&self) -> &[SetVariable] {
        &self.set
    }

    /// The names of the variables that are not set, sorted.
    pub fn unset(&self) -> &[&'static str] {
        &self.unset
    }

    /// The summary as log lines: `group: NAME=value` for each variable set, then one line
    /// `unset: NAME, NAME, ...` when any is unset.
    pub fn lines(&self) -> impl Iterator<Item = String> + '_ {
        let set = self
            .set
            .iter()
            .map(|variable| format!("{}: {}={}", variable.group, variable.name, variable.shown));
        let unset = (!self.unset.is_empty()).then(|| format!("unset: {}", self.unset.join(", ")));
        set.chain(unset)
    }
}

/// The variables FACT reads, as safe to print ([`EnvironmentSummary::from_env`]).
pub fn environment_summary() -> EnvironmentSummary {
    EnvironmentSummary::from_env()
}

fn show(shown: Shown, value: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    match shown {
        Plain => value.to_owned(),
        Secret => "(set, hidden)".to_owned(),
        Url => mask_url(value),
        Keys => api_keys(Some(value), lookup),
    }
}

/// How many API keys there are, and for whom; never the keys.
fn api_keys(spec: Option<&str>, lookup: &impl Fn(&str) -> Option<String>) -> String {
    let file = lookup(API_KEYS_FILE_ENV);
    match ApiKeys::from_sources(spec, file.as_deref().map(OsStr::new)) {
        Ok(keys) if keys.is_empty() => "(none)".to_owned(),
        Ok(keys) => format!(
            "{} key(s) for {}",
            keys.len(),
            keys.users().collect::<Vec<_>>().join(", ")
        ),
        Err(_) => "(invalid)".to_owned(),
    }
}

/// `url` as safe to print: credentials (user and password, since a token may sit in either)
/// become `****`, and so does every query value (`?password=...`, `?api_key=...`); the
/// fragment is dropped. Text that is not a URL is not shown, in case it holds a secret in a
/// shape not recognised.
fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(set, not a URL)".to_owned();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let masked = parsed.set_username("****").is_ok() && parsed.set_password(None).is_ok();
        if !masked {
            return "(set, not shown)".to_owned();
        }
    }
    if parsed.query().is_some() {
        let keys: Vec<String> = parsed
            .query_pairs()
            .map(|(key, _)| key.into_owned())
            .collect();
        parsed
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|key| (key.as_str(), "****")));
    }
    parsed.set_fragment(None);
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn summary(set: &[(&str, &str)]) -> EnvironmentSummary {
        let values: HashMap<String, String> = set
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        EnvironmentSummary::from_lookup(|name| values.get(name).cloned())
    }

    #[test]
    fn url_credentials_and_query_values_are_masked() {
        for (url, shown) in [
            (
                "postgres://fact:secret@db:5432/fact",
                "postgres://****@db:5432/fact",
            ),
            (
                "postgres://db/fact?password=secret&sslmode=require",
                "postgres://db/fact?password=****&sslmode=****",
            ),
            ("redis://:hunter2@redis:6379/0", "redis://****@redis:6379/0"),
            ("sqlite://fact.db", "sqlite://fact.db"),
            ("https://token@host/#frag", "https://****@host/"),
            ("not a url with a secret", "(set, not a URL)"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
    }

    #[test]
    fn set_variables_come_by_group_then_name_and_unset_ones_on_one_line() {
        let summary = summary(&[
            ("SECRET_KEY", "k"),
            ("FACT_FS_ROOTS", "/data"),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("FACT_SHUTDOWN_GRACE_SECS", "5"),
            ("DATABASE_URL", "sqlite://fact.db"),
            ("FACT_ADDR", "0.0.0.0:8080"),
        ]);
        let lines: Vec<String> = summary.lines().collect();
        assert_eq!(
            lines[..6],
            [
                "server: FACT_ADDR=0.0.0.0:8080",
                "server: FACT_SHUTDOWN_GRACE_SECS=5",
                "stores: DATABASE_URL=sqlite://fact.db",
                "stores: REDIS_URL=redis://127.0.0.1:6379",
                "security: SECRET_KEY=(set, hidden)",
                "tools: FACT_FS_ROOTS=/data",
            ]
        );
        assert_eq!(lines.len(), 7, "{lines:#?}");
        let unset = &lines[6];
        assert!(unset.starts_with("unset: "), "{unset}");
        let names: Vec<&str> = unset["unset: ".len()..].split(", ").collect();
        assert_eq!(names.len(), VARIABLES.len() - 6);
        assert!(names.is_sorted(), "{names:?}");
        assert!(!names.contains(&"FACT_ADDR"));
        assert!(names.contains(&"OAUTH_CLIENT_SECRET"));
    }

    #[test]
    fn secrets_show_only_that_they_are_set() {
        let summary = summary(&[
            ("ARCADE_API_KEY", "arc_live_secret"),
            ("OAUTH_CLIENT_SECRET", "client-secret"),
            ("SECRET_KEY", "encryption-key"),
        ]);
        let text: String = summary.lines().collect::<Vec<_>>().join("\n");
        for secret in ["arc_live_secret", "client-secret", "encryption-key"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(
            text.contains("remote: ARCADE_API_KEY=(set, hidden)"),
            "{text}"
        );
        assert!(
            text.contains("security: OAUTH_CLIENT_SECRET=(set, hidden)"),
            "{text}"
        );
    }

    #[test]
    fn api_keys_show_their_users_never_the_keys() {
        let summary = summary(&[(
            API_KEYS_ENV,
            "key-0123456789abcdef:ada,key-fedcba9876543210:bob",
        )]);
        let line = summary.lines().next().unwrap_or_default();
        assert_eq!(line, "security: FACT_API_KEYS=2 key(s) for ada, bob");
        let summary = summary_of_invalid();
        assert_eq!(
            summary.lines().next().unwrap_or_default(),
            "security: FACT_API_KEYS=(invalid)"
        );
    }

    fn summary_of_invalid() -> EnvironmentSummary {
        summary(&[(API_KEYS_ENV, "short:ada")])
    }

    #[test]
    fn nothing_set_is_one_line_naming_every_variable() {
        let summary = summary(&[]);
        let lines: Vec<String> = summary.lines().collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(summary.unset().len(), VARIABLES.len());
    }

    #[test]
    fn every_variable_is_listed_once() {
        let mut names: Vec<&str> = VARIABLES.iter().map(|(name, _, _)| *name).collect();
        names.sort_unstable();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a variable is listed twice");
    }
}
