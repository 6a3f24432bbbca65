//! The incoming-webhook integration document (addIncomingIntegration.ts /
//! updateIncomingIntegration.ts), typed.

use serde_json::{json, Map, Value};

/// One `webhook-incoming` integration. The fields the server sets, and those create checks,
/// have their types; a client field that updateIncomingIntegration stores as sent without a
/// type check (`name`, `enabled`, `scriptEnabled`, 6.x `username`, the optional ones) stays
/// the JSON value it was given, as the Mongo document keeps it.
#[derive(Clone, Debug, Default)]
pub struct Integration {
    /// `_id`.
    pub id: String,
    /// The secret in the hook URL.
    pub token: String,
    /// `userId`: the user the hook posts as.
    pub user_id: String,
    /// `channel`: the `#room` / `@user` targets.
    pub channel: Vec<String>,
    /// `_createdAt`, `_updatedAt` (ISO dates).
    pub created_at: String,
    pub updated_at: String,
    /// `_createdBy`: id and username (null when the creator is gone) of the creator.
    pub created_by: (String, Option<String>),
    pub name: Value,
    pub enabled: Value,
    pub script_enabled: Value,
    pub username: Value,
    pub script: Option<Value>,
    pub alias: Option<Value>,
    pub avatar: Option<Value>,
    pub emoji: Option<Value>,
    pub script_engine: Option<Value>,
    pub override_destination_channel_enabled: Option<Value>,
    /// compileIntegrationScript(): the checked script, or the syntax error.
    pub script_compiled: Option<String>,
    pub script_error: Option<Value>,
}

/// `integ.field` in JS for an optional field: `undefined` reads as null here.
fn or_null(v: &Option<Value>) -> &Value {
    v.as_ref().unwrap_or(&Value::Null)
}

impl Integration {
    /// Sets a client field by its JSON name (the schema's names; `type` is always
    /// `webhook-incoming`, `channel` is set by the caller). Returns false for other names.
    pub fn set(&mut self, key: &str, v: Value) -> bool {
        let slot = match key {
            "name" => &mut self.name,
            "enabled" => &mut self.enabled,
            "scriptEnabled" => &mut self.script_enabled,
            "username" => &mut self.username,
            "type" => return true,
            _ => {
                let opt = match key {
                    "script" => &mut self.script,
                    "alias" => &mut self.alias,
                    "avatar" => &mut self.avatar,
                    "emoji" => &mut self.emoji,
                    "scriptEngine" => &mut self.script_engine,
                    "overrideDestinationChannelEnabled" => {
                        &mut self.override_destination_channel_enabled
                    }
                    _ => return false,
                };
                *opt = Some(v);
                return true;
            }
        };
        *slot = v;
        true
    }

    /// `integration.enabled === true`.
    pub fn is_enabled(&self) -> bool {
        self.enabled == json!(true)
    }
    /// `integration.scriptEnabled === true`.
    pub fn script_on(&self) -> bool {
        self.script_enabled == json!(true)
    }
    /// `integration.overrideDestinationChannelEnabled === true`.
    pub fn may_override_channel(&self) -> bool {
        self.override_destination_channel_enabled == Some(json!(true))
    }
    pub fn alias(&self) -> &Value {
        or_null(&self.alias)
    }
    pub fn avatar(&self) -> &Value {
        or_null(&self.avatar)
    }
    pub fn emoji(&self) -> &Value {
        or_null(&self.emoji)
    }

    /// The document as the REST API returns it. Keys go in sorted order, so the bytes are
    /// the same whether or not serde_json keeps insertion order.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        let mut put = |k: &str, v: Value| {
            o.insert(k.to_string(), v);
        };
        put("_createdAt", json!(self.created_at));
        put(
            "_createdBy",
            json!({"_id": self.created_by.0, "username": self.created_by.1}),
        );
        put("_id", json!(self.id));
        put("_updatedAt", json!(self.updated_at));
        let optional = |v: &Option<Value>| v.clone();
        let fields: [(&str, Option<Value>); 16] = [
            ("alias", optional(&self.alias)),
            ("avatar", optional(&self.avatar)),
            ("channel", Some(json!(self.channel))),
            ("emoji", optional(&self.emoji)),
            ("enabled", Some(self.enabled.clone())),
            ("name", Some(self.name.clone())),
            (
                "overrideDestinationChannelEnabled",
                optional(&self.override_destination_channel_enabled),
            ),
            ("script", optional(&self.script)),
            (
                "scriptCompiled",
                self.script_compiled.clone().map(Value::from),
            ),
            ("scriptEnabled", Some(self.script_enabled.clone())),
            ("scriptEngine", optional(&self.script_engine)),
            ("scriptError", self.script_error.clone()),
            ("token", Some(json!(self.token))),
            ("type", Some(json!("webhook-incoming"))),
            ("userId", Some(json!(self.user_id))),
            ("username", Some(self.username.clone())),
        ];
        for (k, v) in fields {
            if let Some(v) = v {
                put(k, v);
            }
        }
        Value::Object(o)
    }
}
