//! [`AuditDurability`]: when a call's answer may leave relative to its audit record's commit.

use std::fmt;
use std::str::FromStr;

use super::AuditError;

/// The environment variable `fact serve` reads the durability from (docs/ARCHITECTURE.md).
pub const AUDIT_DURABILITY_ENV: &str = "FACT_AUDIT_DURABILITY";

/// What an answered call promises about its audit record.
///
/// - [`Queued`](Self::Queued): the record is handed to the writer before the answer is
///   returned, and written behind it. Fastest; a process killed before its writer caught up
///   loses the records still queued. The library's default, as before durability modes.
/// - [`Answered`](Self::Answered): the answer is returned only once its record is committed by
///   the sink. Records are group-committed (one transaction holds every record waiting at the
///   time), so concurrency keeps throughput. While the writer is failing, calls are refused up
///   front (503 `ServiceUnavailableError`, the tool never runs), and a call whose tool ran but
///   whose record is not committed within
///   [`commit_timeout`](super::AuditConfig::commit_timeout) is answered 503
///   `AuditUnavailableError` (its record is written when the database returns). `fact serve`'s
///   default.
///
/// Spelled `queued` and `answered` in `FACT_AUDIT_DURABILITY`:
///
/// ```
/// use fact_runtime::audit::AuditDurability;
///
/// assert_eq!("answered".parse::<AuditDurability>().ok(), Some(AuditDurability::Answered));
/// assert_eq!(AuditDurability::Queued.to_string(), "queued");
/// assert!("durable".parse::<AuditDurability>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditDurability {
    /// Answer once the record is queued; write it behind the answer.
    #[default]
    Queued,
    /// Answer only once the record is committed.
    Answered,
}

impl AuditDurability {
    /// The mode's name in `FACT_AUDIT_DURABILITY`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Answered => "answered",
        }
    }

    /// `FACT_AUDIT_DURABILITY`, or `None` when it is not set.
    ///
    /// # Errors
    ///
    /// [`AuditError::InvalidConfig`] naming the variable when it is set to anything but
    /// `answered` or `queued` (or is not Unicode).
    pub fn from_env() -> Result<Option<Self>, AuditError> {
        match std::env::var(AUDIT_DURABILITY_ENV) {
            Ok(value) => value.parse().map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(invalid("(not Unicode)")),
        }
    }
}

impl fmt::Display for AuditDurability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditDurability {
    type Err = AuditError;

    /// `answered` or `queued`, ignoring case and surrounding blanks.
    fn from_str(value: &str) -> Result<Self, AuditError> {
        let trimmed = value.trim();
        [Self::Queued, Self::Answered]
            .into_iter()
            .find(|mode| mode.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| invalid(&format!("`{trimmed}`")))
    }
}

fn invalid(got: &str) -> AuditError {
    AuditError::InvalidConfig(format!(
        "{AUDIT_DURABILITY_ENV} must be `answered` or `queued`, got {got}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_modes_parse_ignoring_case_and_blanks() {
        for (text, mode) in [
            ("answered", AuditDurability::Answered),
            ("queued", AuditDurability::Queued),
            (" Answered ", AuditDurability::Answered),
            ("QUEUED", AuditDurability::Queued),
        ] {
            assert_eq!(text.parse::<AuditDurability>().ok(), Some(mode), "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_refused_naming_the_variable_and_the_choices() {
        for text in ["", "durable", "answered,queued", "1"] {
            let Err(AuditError::InvalidConfig(message)) = text.parse::<AuditDurability>() else {
                panic!("{text:?} was accepted");
            };
            assert!(message.contains("FACT_AUDIT_DURABILITY"), "{message}");
            assert!(message.contains("`answered` or `queued`"), "{message}");
            assert!(message.contains(&format!("`{}`", text.trim())), "{message}");
        }
    }

    #[test]
    fn names_read_back_as_their_mode() {
        for mode in [AuditDurability::Queued, AuditDurability::Answered] {
            assert_eq!(mode.to_string().parse::<AuditDurability>().ok(), Some(mode));
        }
    }

    #[test]
    fn the_library_default_is_queued() {
        assert_eq!(AuditDurability::default(), AuditDurability::Queued);
    }
}
