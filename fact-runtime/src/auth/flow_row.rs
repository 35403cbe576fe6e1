//! A row of table `fact_oauth_flows` (`sql_flows.rs`): what is kept in the clear, to find and
//! expire flows, and what is sealed (`seal.rs`), bound to the row, so that nothing in the table
//! lets a reader complete a flow or move one to another user.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::auth::seal::{OpenError, Sealer};
use crate::auth::sql_flows::{FLOWS_TABLE, store_error};
use crate::auth::{AuthError, AuthorizationFlow, FlowStatus};

const AAD_PREFIX: &[u8] = b"fact_oauth_flows/v1\0";

/// The columns [`Stored::read_from`] reads, in order.
pub(super) const COLUMNS: &str = "user_id, tool_name, expires_at, state, reason, key_id, sealed";

/// What a row is found by: the flow id never reaches the table.
pub(super) fn flow_key(flow_id: &str) -> String {
    Sha256::digest(flow_id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(super) fn millis(time: Duration) -> i64 {
    i64::try_from(time.as_millis()).unwrap_or(i64::MAX)
}

/// A row, its sealed part still sealed.
pub(super) struct Stored {
    pub(super) key: String,
    pub(super) user_id: String,
    pub(super) tool_name: String,
    pub(super) expires_at: i64,
    pub(super) state: String,
    pub(super) reason: Option<String>,
    pub(super) key_id: String,
    pub(super) sealed: String,
}

/// The sealed part of a row.
#[derive(Serialize, Deserialize)]
pub(super) struct Sealed {
    pub(super) flow_id: String,
    pub(super) authorization_url: String,
    pub(super) scopes: Vec<String>,
    /// Erased once the flow is claimed.
    pub(super) verifier: Option<String>,
}

impl Stored {
    pub(super) fn read(row: &AnyRow, key: String) -> Result<Self, AuthError> {
        Self::read_from(row, key, 0)
    }

    /// The row whose [`COLUMNS`] start at column `first`.
    pub(super) fn read_from(row: &AnyRow, key: String, first: usize) -> Result<Self, AuthError> {
        let bad = |error: sqlx::Error| store_error("bad row in table fact_oauth_flows", &error);
        Ok(Self {
            key,
            user_id: row.try_get(first).map_err(bad)?,
            tool_name: row.try_get(first + 1).map_err(bad)?,
            expires_at: row.try_get(first + 2).map_err(bad)?,
            state: row.try_get(first + 3).map_err(bad)?,
            reason: row.try_get(first + 4).map_err(bad)?,
            key_id: row.try_get(first + 5).map_err(bad)?,
            sealed: row.try_get(first + 6).map_err(bad)?,
        })
    }

    pub(super) fn expires_at(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.expires_at).unwrap_or(0))
    }

    /// Whether the flow may be claimed at `now`, or why not.
    pub(super) fn claimable(&self, now: Duration) -> Result<(), AuthError> {
        if self.state != "pending" {
            Err(AuthError::FlowUsed)
        } else if now >= self.expires_at() {
            Err(AuthError::FlowExpired {
                user_id: self.user_id.clone(),
                tool_name: self.tool_name.clone(),
            })
        } else {
            Ok(())
        }
    }

    pub(super) fn status(&self) -> Result<FlowStatus, AuthError> {
        Ok(match self.state.as_str() {
            "pending" => FlowStatus::Pending,
            "exchanging" => FlowStatus::Exchanging,
            "completed" => FlowStatus::Completed,
            "failed" => FlowStatus::Failed(self.reason.clone().unwrap_or_default()),
            other => {
                return Err(AuthError::Store(format!(
                    "an authorization flow in table {FLOWS_TABLE} has the state '{other}'; expected pending, exchanging, completed or failed"
                )));
            }
        })
    }

    /// The associated data that binds the sealed part to this row.
    fn aad(&self) -> Vec<u8> {
        let mut aad = AAD_PREFIX.to_vec();
        for part in [
            self.key.as_bytes(),
            self.user_id.as_bytes(),
            self.tool_name.as_bytes(),
            self.expires_at.to_string().as_bytes(),
        ] {
            aad.extend_from_slice(part);
            aad.push(0);
        }
        aad
    }

    pub(super) fn seal(&self, sealer: &Sealer, sealed: &Sealed) -> Result<String, AuthError> {
        let plaintext = serde_json::to_vec(sealed).map_err(|error| {
            AuthError::Store(format!("cannot encode an authorization flow: {error}"))
        })?;
        sealer.seal(&self.aad(), &plaintext)
    }

    pub(super) fn open(&self, sealer: &Sealer) -> Result<Sealed, AuthError> {
        let fail = |reason: &str| {
            AuthError::Store(format!(
                "cannot read the authorization flow of user '{}' for tool '{}': {reason}",
                self.user_id, self.tool_name
            ))
        };
        let plaintext = sealer
            .open(&self.aad(), &self.key_id, &self.sealed)
            .map_err(|error| match error {
                OpenError::OtherKey => fail(
                    "it was stored under a different SECRET_KEY (every replica must have the same); start a new one",
                ),
                OpenError::Altered => fail("the row was altered; start a new one"),
            })?;
        serde_json::from_slice(&plaintext)
            .map_err(|_| fail("it decrypts but is not a flow this version understands"))
    }

    pub(super) fn flow(&self, sealed: Sealed) -> AuthorizationFlow {
        AuthorizationFlow {
            flow_id: sealed.flow_id,
            authorization_url: sealed.authorization_url,
            expires_at: self.expires_at(),
            user_id: self.user_id.clone(),
            tool_name: self.tool_name.clone(),
            scopes: sealed.scopes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn stored(user: &str) -> Stored {
        Stored {
            key: flow_key("state-1"),
            user_id: user.to_owned(),
            tool_name: "Docs.Read".to_owned(),
            expires_at: 1_700_000_600_000,
            state: "pending".to_owned(),
            reason: None,
            key_id: String::new(),
            sealed: String::new(),
        }
    }

    fn sealed() -> Sealed {
        Sealed {
            flow_id: "state-1".to_owned(),
            authorization_url: "https://idp.test/authorize?state=state-1".to_owned(),
            scopes: vec!["docs.read".to_owned()],
            verifier: Some("verifier-in-the-clear".to_owned()),
        }
    }

    #[test]
    fn the_row_holds_neither_the_flow_id_nor_the_verifier_in_the_clear() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut row = stored("ada");
        row.sealed = row.seal(&sealer, &sealed()).expect("seal");
        row.key_id = sealer.key_id().to_owned();
        assert_eq!(row.key.len(), 64);
        for column in [&row.key, &row.sealed] {
            assert!(!column.contains("state-1"), "{column}");
            assert!(!column.contains("verifier"), "{column}");
        }
        let opened = row.open(&sealer).expect("opens");
        assert_eq!(opened.verifier.as_deref(), Some("verifier-in-the-clear"));
        assert_eq!(row.flow(opened).flow_id, "state-1");
    }

    #[test]
    fn a_flow_moved_to_another_user_or_expiry_does_not_open() {
        let sealer = Sealer::new(SECRET).expect("key");
        let mut row = stored("ada");
        row.sealed = row.seal(&sealer, &sealed()).expect("seal");
        row.key_id = sealer.key_id().to_owned();
        let mut moved = stored("mallory");
        moved.sealed.clone_from(&row.sealed);
        moved.key_id.clone_from(&row.key_id);
        let error = moved.open(&sealer).err().expect("bound to the user");
        assert!(error.to_string().contains("the row was altered"), "{error}");
        row.expires_at += 3_600_000;
        assert!(row.open(&sealer).is_err(), "bound to the expiry");
    }

    #[test]
    fn an_unknown_state_is_a_store_error_naming_the_expected_ones() {
        let mut row = stored("ada");
        row.state = "weird".to_owned();
        let error = row.status().expect_err("unknown state");
        assert!(
            error.to_string().contains("expected pending, exchanging"),
            "{error}"
        );
    }
}
