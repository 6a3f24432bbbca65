//! The parts of Rocket.Chat's answers the sidecars read (packages/core-typings IUser, IRoom,
//! ISubscription, IIncomingIntegration). Unknown fields are ignored, missing optional ones default.

use serde::Deserialize;
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Email {
    pub address: String,
    #[serde(default)]
    pub verified: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub emails: Vec<Email>,
    #[serde(default)]
    pub active: Option<bool>,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
    pub fn has_verified_email(&self) -> bool {
        self.emails.iter().any(|e| e.verified)
    }
}

/// `t`: `c` public channel, `p` private group, `d` direct message (IRoom).
#[derive(Debug, Clone, Deserialize)]
pub struct Room {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub t: String,
    /// Read-only room: only holders of `post-readonly` (admin, owner, moderator) or users in
    /// `unmuted` may post (app/authorization/server/functions/canSendMessage.ts).
    #[serde(default)]
    pub ro: bool,
    #[serde(default)]
    pub muted: Vec<String>,
    #[serde(default)]
    pub unmuted: Vec<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    #[serde(default)]
    pub rid: String,
    /// Room roles: `owner`, `moderator`, `leader`.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Subscription {
    pub fn may_post_readonly(&self) -> bool {
        self.roles.iter().any(|r| r == "owner" || r == "moderator")
    }
}

#[derive(Clone, Deserialize)]
pub struct Integration {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub username: Option<String>,
    /// A string in old servers, an array of `#room`/`@user` in newer ones.
    #[serde(default)]
    pub channel: Value,
    #[serde(rename = "scriptEnabled", default)]
    pub script_enabled: bool,
    #[serde(default)]
    pub script: Option<String>,
    /// The secret part of the webhook URL.
    #[serde(default)]
    pub token: Option<String>,
    /// Set by integrations.create/.update when the script does not compile
    /// (app/integrations/server/lib/validateScriptEngine / compileIntegrationScript:
    /// `{name, message, stack}`); the answer is still 200 and the hook then posts raw payloads.
    #[serde(rename = "scriptError", default)]
    pub script_error: Option<Value>,
}

impl Integration {
    /// `name: message` of the script's compile error, if the server reported one.
    pub fn script_error_text(&self) -> Option<String> {
        let e = self.script_error.as_ref().filter(|e| !e.is_null())?;
        let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (name, message) = (field("name"), field("message"));
        Some(match (name.is_empty(), message.is_empty()) {
            (_, true) => sidecar::exit::one_line(&e.to_string()),
            (true, false) => message,
            (false, false) => format!("{name}: {message}"),
        })
    }

    pub fn channels(&self) -> Vec<String> {
        match &self.channel {
            Value::String(s) => s.split(',').map(|c| c.trim().to_string()).collect(),
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Debug for Integration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Integration")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("enabled", &self.enabled)
            .field("username", &self.username)
            .field("channel", &self.channel)
            .field("script_enabled", &self.script_enabled)
            .field("script_len", &self.script.as_ref().map(String::len))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// What rc-bootstrap wants an incoming webhook to be. Only the fields every supported server
/// version's schema accepts (rest-typings IntegrationsCreateProps: additionalProperties false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingWebhook {
    pub name: String,
    pub username: String,
    /// `#room`.
    pub channel: String,
    pub script: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomKind {
    /// Public channel: `channels.*`.
    Channel,
    /// Private group: `groups.*`.
    Group,
}

impl RoomKind {
    pub fn prefix(self) -> &'static str {
        match self {
            RoomKind::Channel => "channels",
            RoomKind::Group => "groups",
        }
    }
    /// The answer's field holding the room (`channel` / `group`).
    pub fn field(self) -> &'static str {
        match self {
            RoomKind::Channel => "channel",
            RoomKind::Group => "group",
        }
    }
    pub fn noun(self) -> &'static str {
        match self {
            RoomKind::Channel => "public channel",
            RoomKind::Group => "private group",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_channel_in_both_shapes_and_debug_hides_token() {
        let old: Integration = serde_json::from_value(serde_json::json!({
            "_id": "i1", "type": "webhook-incoming", "name": "gitlab", "channel": "#ops",
            "token": "s3cr3t", "scriptEnabled": true, "script": "x"
        }))
        .unwrap();
        assert_eq!(old.channels(), vec!["#ops"]);
        let new: Integration = serde_json::from_value(serde_json::json!({
            "_id": "i1", "type": "webhook-incoming", "name": "gitlab", "channel": ["#ops"], "token": "s3cr3t"
        }))
        .unwrap();
        assert_eq!(new.channels(), vec!["#ops"]);
        assert!(!format!("{new:?}").contains("s3cr3t"));
    }

    #[test]
    fn room_and_subscription_defaults() {
        let r: Room = serde_json::from_value(serde_json::json!({"_id": "r", "t": "p"})).unwrap();
        assert!(!r.ro && r.muted.is_empty());
        assert_eq!(r.t, "p");
        let s: Subscription =
            serde_json::from_value(serde_json::json!({"rid": "r", "roles": ["moderator"]}))
                .unwrap();
        assert!(s.may_post_readonly());
    }
}
