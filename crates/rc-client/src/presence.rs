//! `GET /api/v1/users.getPresence` for the session's own user (apps/meteor/app/api/server/v1/users.ts:
//! with no `userId`/`username` the caller gets `{presence, connectionStatus, lastLogin}`).

use crate::{Client, RcError};
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Presence {
    /// The user's status (may be a status the user declared, with no connection behind it).
    pub presence: Option<String>,
    /// `statusConnection`: online while one of the user's logged-in DDP sessions lives.
    #[serde(rename = "connectionStatus")]
    pub connection_status: Option<String>,
    #[serde(rename = "lastLogin")]
    pub last_login: Option<String>,
}

impl Client {
    /// One authenticated GET with the current session (no login, nothing written).
    pub fn own_presence(&self) -> Result<Presence, RcError> {
        let endpoint = "GET /api/v1/users.getPresence";
        let v = self.call("GET", "/api/v1/users.getPresence", &[], None, &[])?;
        serde_json::from_value(v)
            .map_err(|e| RcError::transport(endpoint, format!("unexpected answer: {e}")))
    }
}
