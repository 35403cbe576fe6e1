//! [`ApiKeys`]: who may call the server, and as which user ([`KeyHolder`]).

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// The environment variable holding `key:user` pairs (`key:*` for a key that may act for any
/// user), comma-separated.
pub const API_KEYS_ENV: &str = "FACT_API_KEYS";
/// The environment variable naming a file of `key:user` lines.
pub const API_KEYS_FILE_ENV: &str = "FACT_API_KEYS_FILE";
/// The shortest key accepted: shorter keys are guessable.
pub const MIN_KEY_LENGTH: usize = 16;
/// The user of a key that may act for any user: `FACT_API_KEYS=KEY:*`.
pub const ANY_USER: &str = "*";

/// The API keys a server accepts (`Authorization: Bearer <key>`; under `/arcade` also the
/// bare `Authorization: <key>` that Arcade's clients send), each mapped to who its calls run
/// as ([`KeyHolder`]).
///
/// A key of a user (`key:ada`) runs every call as that user: a request cannot name another.
/// A key of [`ANY_USER`] (`key:*`, Arcade's "project key") may name the end user of each call
/// in the Engine API's `user_id` (docs/ARCHITECTURE.md, "Engine API"); its calls that name
/// none, and all its calls on FACT's own API (which has no `user_id`), run with no user.
///
/// Only SHA-256 digests of the keys are kept, and a presented key is compared with every one
/// of them in constant time, so neither the memory of the process nor the time of a refusal
/// tells anything about a key. `Debug` shows the users, never the keys.
///
/// ```
/// use fact_runtime::server::{ApiKeys, KeyHolder};
///
/// let keys = ApiKeys::parse("k3y-for-ada-0123456789:ada, k3y-for-bob-0123456789:bob")?;
/// assert_eq!(keys.authenticate("k3y-for-bob-0123456789"), Some(KeyHolder::User("bob")));
/// assert_eq!(keys.authenticate("k3y-for-bob-012345678"), None);
/// assert!(ApiKeys::parse("short:ada").is_err());
///
/// let project = ApiKeys::parse("project-k3y-0123456789:*")?;
/// assert_eq!(project.authenticate("project-k3y-0123456789"), Some(KeyHolder::AnyUser));
/// # Ok::<(), fact_runtime::server::ApiKeyError>(())
/// ```
#[derive(Clone, Default)]
pub struct ApiKeys {
    entries: Arc<[KeyEntry]>,
}

struct KeyEntry {
    digest: [u8; 32],
    /// A user id, or [`ANY_USER`].
    user: Arc<str>,
}

/// Who the calls of a key run as: what [`ApiKeys::authenticate`] finds for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyHolder<'a> {
    /// Every call runs as this user; a request naming another user is refused.
    User(&'a str),
    /// A key of [`ANY_USER`]: an Engine API request names the user in `user_id`; without
    /// one, and on FACT's own API, the call runs with no user.
    AnyUser,
}

/// Why a set of API keys was refused. Messages name the entry by position and user, never by
/// key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// An entry is not `key:user`, or its key or user is malformed.
    #[error("API key entry {entry} in {source_name}: {problem}")]
    Malformed {
        /// Where the entries came from (`FACT_API_KEYS`, a file path).
        source_name: String,
        /// The 1-based position of the entry.
        entry: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// The same key appears twice.
    #[error("API key entry {entry} in {source_name} repeats an earlier key")]
    Duplicate {
        /// Where the entries came from.
        source_name: String,
        /// The 1-based position of the repeat.
        entry: usize,
    },
    /// A source of keys was given but holds none (blank, or only separators and comments):
    /// a mistake, such as a variable set from an empty secret, never a way to mean "no
    /// authentication".
    #[error(
        "{source_name} holds no API keys (it is blank, or only commas and comments): give key:user entries, or leave it unset; FACT_ALLOW_ANONYMOUS=true is the one way to serve without keys"
    )]
    Empty {
        /// Where the entries came from.
        source_name: String,
    },
    /// The keys file could not be read.
    #[error("cannot read the API keys file {path}: {problem}")]
    File {
        /// The file's path.
        path: String,
        /// The I/O error.
        problem: String,
    },
}

impl ApiKeys {
    /// No keys: every request to a protected endpoint is refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `key:user` entries separated by commas or new lines. Blank entries and lines
    /// starting with `#` are skipped. Keys are at least [`MIN_KEY_LENGTH`] characters of
    /// visible ASCII other than `,` and `:`; users are non-empty, of letters, digits and
    /// `._@-`, or [`ANY_USER`] (`*`) for a key that may act for any user.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError`] naming the first bad entry, or [`ApiKeyError::Empty`] when `spec` holds
    /// no entry at all ([`ApiKeys::new`] is the set of no keys).
    pub fn parse(spec: &str) -> Result<Self, ApiKeyError> {
        Self::new().with_entries(spec, "the API keys")
    }

    /// Reads the file at `path` as [`parse`](Self::parse) reads a string.
    ///
    /// # Errors
    ///
    /// [`ApiKeyError::File`] when it cannot be read, else as [`parse`](Self::parse) (an empty
    /// file is [`ApiKeyError::Empty`]).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ApiKeyError> {
        Self::new().with_file(path.as_ref())
    }

    /// The keys of `FACT_API_KEYS` and of the file named by `FACT_API_KEYS_FILE`, together.
    /// Neither set gives no keys (and a server then refuses to start unless told to serve
    /// anonymously); either one set but holding no key is an error, never "no keys".
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse) and [`from_file`](Self::from_file); a key in both is a
    /// duplicate; a set but blank `FACT_API_KEYS` or `FACT_API_KEYS_FILE` is
    /// [`ApiKeyError::Empty`].
    pub fn from_env() -> Result<Self, ApiKeyError> {
        Self::from_sources(
            std::env::var(API_KEYS_ENV).ok().as_deref(),
            std::env::var_os(API_KEYS_FILE_ENV).as_deref(),
        )
    }

    /// The keys of `FACT_API_KEYS`'s value and of the file `FACT_API_KEYS_FILE` names, each
    /// when set.
    pub(super) fn from_sources(
        spec: Option<&str>,
        file: Option<&OsStr>,
    ) -> Result<Self, ApiKeyError> {
        let mut keys = Self::new();
        if let Some(spec) = spec {
            keys = keys.with_entries(spec, API_KEYS_ENV)?;
        }
        if let Some(path) = file {
            if path.to_string_lossy().trim().is_empty() {
                return Err(ApiKeyError::Empty {
                    source_name: API_KEYS_FILE_ENV.to_owned(),
                });
            }
            keys = keys.with_file(Path::new(path))?;
        }
        Ok(keys)
    }

    /// These keys plus those of the file at `path`.
    fn with_file(self, path: &Path) -> Result<Self, ApiKeyError> {
        let text = std::fs::read_to_string(path).map_err(|error| ApiKeyError::File {
            path: path.display().to_string(),
            problem: error.to_string(),
        })?;
        self.with_entries(&text, &format!("the API keys file {}", path.display()))
    }

    /// These keys plus `key` for `user` ([`ANY_USER`] for a key that may act for any user).
    ///
    /// # Errors
    ///
    /// As [`parse`](Self::parse), for a malformed or repeated key.
    pub fn with_key(self, key: &str, user: &str) -> Result<Self, ApiKeyError> {
        self.with_entries(&format!("{key}:{user}"), "the given key")
    }

    fn with_entries(self, spec: &str, source_name: &str) -> Result<Self, ApiKeyError> {
        let mut entries: Vec<KeyEntry> = self
            .entries
            .iter()
            .map(|entry| KeyEntry {
                digest: entry.digest,
                user: Arc::clone(&entry.user),
            })
            .collect();
        let items: Vec<&str> = spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|item| !item.is_empty() && !item.starts_with('#'))
            .collect();
        if items.is_empty() {
            return Err(ApiKeyError::Empty {
                source_name: source_name.to_owned(),
            });
        }
        for (index, item) in items.into_iter().enumerate() {
            let entry = index + 1;
            let malformed = |problem: &str| ApiKeyError::Malformed {
                source_name: source_name.to_owned(),
                entry,
                problem: problem.to_owned(),
            };
            let (key, user) = item
                .rsplit_once(':')
                .ok_or_else(|| malformed("expected 'key:user'"))?;
            let (key, user) = (key.trim(), user.trim());
            check_key(key).map_err(|problem| malformed(&problem))?;
            check_user(user).map_err(|problem| malformed(&problem))?;
            let digest = digest(key);
            if entries.iter().any(|known| known.digest == digest) {
                return Err(ApiKeyError::Duplicate {
                    source_name: source_name.to_owned(),
                    entry,
                });
            }
            entries.push(KeyEntry {
                digest,
                user: Arc::from(user),
            });
        }
        Ok(Self {
            entries: entries.into(),
        })
    }

    /// Who the calls of `presented` run as, when it is one of the keys. Every key is
    /// compared, in constant time, whatever matches.
    pub fn authenticate(&self, presented: &str) -> Option<KeyHolder<'_>> {
        let presented = digest(presented);
        let mut found = None;
        for entry in self.entries.iter() {
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(&*entry.user);
            }
        }
        found.map(|user| {
            if user == ANY_USER {
                KeyHolder::AnyUser
            } else {
                KeyHolder::User(user)
            }
        })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The users the keys belong to, in order, repeats kept ([`ANY_USER`] for a key that may
    /// act for any user).
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|entry| &*entry.user)
    }
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("users", &self.users().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn check_key(key: &str) -> Result<(), String> {
    if key.chars().count() < MIN_KEY_LENGTH {
        return Err(format!(
            "the key is shorter than {MIN_KEY_LENGTH} characters"
        ));
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b',' && b != b':')
    {
        return Err("the key must be visible ASCII without ',' or ':'".to_owned());
    }
    Ok(())
}

fn check_user(user: &str) -> Result<(), String> {
    if user == ANY_USER {
        return Ok(());
    }
    check_user_id(user)
}

/// Whether `user` can be a user id: 1 to 128 letters, digits and `._@-`. The error does not
/// echo the text (a key written where the user belongs would be printed).
pub(crate) fn check_user_id(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("the user id is empty".to_owned());
    }
    if user.len() > 128 {
        return Err("the user id is longer than 128 characters".to_owned());
    }
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'))
    {
        // The text is not echoed: a key written where the user belongs would be printed.
        return Err("the user id may hold only letters, digits and '._@-'".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "ada-key-0123456789abcdef";
    const BOB: &str = "bob-key-0123456789abcdef";

    #[test]
    fn each_key_maps_to_its_user() {
        let keys = ApiKeys::parse(&format!("{ADA}:ada,{BOB}:bob")).expect("valid keys");
        assert_eq!(keys.len(), 2);
        assert_eq!(keys.authenticate(ADA), Some(KeyHolder::User("ada")));
        assert_eq!(keys.authenticate(BOB), Some(KeyHolder::User("bob")));
    }

    #[test]
    fn a_key_of_star_may_act_for_any_user_and_others_only_for_theirs() {
        let keys = ApiKeys::parse(&format!("{ADA}:*,{BOB}:bob")).expect("valid keys");
        assert_eq!(keys.authenticate(ADA), Some(KeyHolder::AnyUser));
        assert_eq!(keys.authenticate(BOB), Some(KeyHolder::User("bob")));
        assert_eq!(keys.users().collect::<Vec<_>>(), ["*", "bob"]);
    }

    #[test]
    fn star_is_a_whole_user_never_part_of_one() {
        for user in ["**", "*ada", "ada*", "a*b"] {
            let error = ApiKeys::parse(&format!("{ADA}:{user}"))
                .map(|_| ())
                .expect_err("refused");
            assert!(
                error.to_string().contains("may hold only"),
                "{user}: {error}"
            );
        }
    }

    #[test]
    fn unknown_empty_and_prefix_keys_are_refused() {
        let keys = ApiKeys::parse(&format!("{ADA}:ada")).expect("valid keys");
        assert_eq!(keys.authenticate(""), None);
        assert_eq!(keys.authenticate(&ADA[..ADA.len() - 1]), None);
        assert_eq!(keys.authenticate(&format!("{ADA}x")), None);
        assert_eq!(ApiKeys::new().authenticate(ADA), None);
    }

    #[test]
    fn files_take_one_entry_per_line_with_comments() {
        let keys = ApiKeys::parse(&format!("# operators\n{ADA}:ada\n\n  {BOB}:bob  \n"))
            .expect("valid keys");
        assert_eq!(keys.users().collect::<Vec<_>>(), ["ada", "bob"]);
    }

    #[test]
    fn malformed_entries_are_named_by_position_without_the_key() {
        let cases = [
            (format!("{ADA}:ada,nokeyhere"), 2, "expected 'key:user'"),
            ("short:ada".to_owned(), 1, "shorter than 16"),
            (format!("{ADA}:"), 1, "user id is empty"),
            (format!("{ADA}:ada {BOB}"), 1, "may hold only"),
            (format!("{ADA} x:ada"), 1, "visible ASCII"),
        ];
        for (spec, entry, problem) in cases {
            let error = ApiKeys::parse(&spec).expect_err("refused");
            let message = error.to_string();
            assert!(message.contains(&format!("entry {entry}")), "{message}");
            assert!(message.contains(problem), "{message}");
            assert!(!message.contains(ADA), "{message}");
            assert!(!message.contains(BOB), "{message}");
        }
    }

    #[test]
    fn a_repeated_key_is_refused() {
        let error = ApiKeys::parse(&format!("{ADA}:ada,{ADA}:bob"))
            .map(|_| ())
            .expect_err("refused");
        assert!(matches!(error, ApiKeyError::Duplicate { entry: 2, .. }));
    }

    /// Each spelling of "nothing" that a template or an empty secret produces.
    const BLANK: &[&str] = &[
        "",
        " ",
        ",",
        " , ,",
        "\n\n",
        "# keys go here\n",
        ",\n# none\n , ",
    ];

    #[test]
    fn a_spec_without_any_key_is_refused_not_read_as_no_keys() {
        for spec in BLANK {
            let error = ApiKeys::parse(spec).map(|_| ()).expect_err("refused");
            assert!(
                matches!(error, ApiKeyError::Empty { .. }),
                "{spec:?}: {error}"
            );
            assert!(error.to_string().contains("holds no API keys"), "{error}");
        }
    }

    #[test]
    fn a_blank_fact_api_keys_is_refused_naming_the_variable() {
        for spec in BLANK {
            let error = ApiKeys::from_sources(Some(spec), None)
                .map(|_| ())
                .expect_err("refused");
            let message = error.to_string();
            assert!(
                message.starts_with("FACT_API_KEYS holds no API keys"),
                "{message}"
            );
            assert!(message.contains("FACT_ALLOW_ANONYMOUS"), "{message}");
        }
    }

    #[test]
    fn an_empty_keys_file_or_a_blank_file_variable_is_refused() {
        let dir = std::env::temp_dir().join(format!("fact-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("empty-keys");
        for text in BLANK {
            std::fs::write(&path, text).expect("written");
            let error = ApiKeys::from_file(&path).map(|_| ()).expect_err("refused");
            assert!(
                matches!(error, ApiKeyError::Empty { .. }),
                "{text:?}: {error}"
            );
            let from_env = ApiKeys::from_sources(None, Some(path.as_os_str()))
                .map(|_| ())
                .expect_err("refused");
            assert!(from_env.to_string().contains("empty-keys"), "{from_env}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        for blank in ["", "  "] {
            let error = ApiKeys::from_sources(None, Some(OsStr::new(blank)))
                .map(|_| ())
                .expect_err("refused");
            assert!(
                error.to_string().starts_with("FACT_API_KEYS_FILE holds no"),
                "{error}"
            );
        }
    }

    #[test]
    fn unset_sources_give_no_keys_and_a_set_one_its_keys() {
        let none = ApiKeys::from_sources(None, None).expect("nothing set");
        assert!(none.is_empty());
        let one = ApiKeys::from_sources(Some(&format!("{ADA}:ada")), None).expect("one key");
        assert_eq!(one.users().collect::<Vec<_>>(), ["ada"]);
    }

    #[test]
    fn debug_shows_users_not_keys() {
        let keys = ApiKeys::parse(&format!("{ADA}:ada")).expect("valid keys");
        let debug = format!("{keys:?}");
        assert!(debug.contains("ada"), "{debug}");
        assert!(!debug.contains(ADA), "{debug}");
    }
}
