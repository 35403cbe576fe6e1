//! The secrets a caller hands to a call ([`CallOptions::secret`](crate::CallOptions::secret):
//! an Arcade Engine sends a tool's secrets with each call), of which a tool sees only those it
//! declares ([`ToolContext::secret`](crate::ToolContext::secret)). A value is never written
//! out: `Debug` names the keys alone, and nothing here is `Serialize` (docs/ARCHITECTURE.md,
//! "Arcade worker").

use std::fmt;
use std::sync::Arc;

/// Keyed secret values; keys match without regard to ASCII case, as Arcade's do.
#[derive(Clone, Default)]
pub(crate) struct Secrets {
    entries: Arc<[(String, String)]>,
}

impl Secrets {
    /// `entries`, the later of two with the same key winning.
    pub(crate) fn new(entries: Vec<(String, String)>) -> Self {
        let mut kept: Vec<(String, String)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            match kept
                .iter_mut()
                .find(|(known, _)| known.eq_ignore_ascii_case(&key))
            {
                Some(entry) => entry.1 = value,
                None => kept.push((key, value)),
            }
        }
        Self {
            entries: kept.into(),
        }
    }

    /// These secrets and `key`'s `value`, which replaces any of the same key.
    pub(crate) fn with(&self, key: String, value: String) -> Self {
        let mut entries = self.entries.to_vec();
        entries.push((key, value));
        Self::new(entries)
    }

    /// The value of `key`, when held.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    /// The secrets of `declared` keys only, for a tool that declares them.
    pub(crate) fn only(&self, declared: &[String]) -> Self {
        if declared.is_empty() || self.entries.is_empty() {
            return Self::default();
        }
        Self {
            entries: self
                .entries
                .iter()
                .filter(|(key, _)| declared.iter().any(|d| d.eq_ignore_ascii_case(key)))
                .cloned()
                .collect(),
        }
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.entries.iter().map(|(key, _)| key))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets::new(vec![
            ("API_KEY".to_owned(), "first".to_owned()),
            ("Region".to_owned(), "eu".to_owned()),
            ("api_key".to_owned(), "second".to_owned()),
        ])
    }

    #[test]
    fn keys_match_without_regard_to_case_and_the_later_value_wins() {
        let secrets = secrets();
        assert_eq!(secrets.get("Api_Key"), Some("second"));
        assert_eq!(secrets.get("REGION"), Some("eu"));
        assert_eq!(secrets.get("missing"), None);
    }

    #[test]
    fn a_tool_sees_only_the_keys_it_declares() {
        let seen = secrets().only(&["region".to_owned()]);
        assert_eq!(seen.get("Region"), Some("eu"));
        assert_eq!(seen.get("API_KEY"), None);
        assert_eq!(secrets().only(&[]).get("Region"), None);
    }

    #[test]
    fn debug_names_the_keys_and_never_a_value() {
        let text = format!("{:?}", secrets());
        assert!(
            text.contains("API_KEY") && text.contains("Region"),
            "{text}"
        );
        assert!(!text.contains("second") && !text.contains("eu\""), "{text}");
    }
}
