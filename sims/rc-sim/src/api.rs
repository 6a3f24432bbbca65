//! The REST plumbing every area shares: the request and response values and the error
//! shapes of api.ts (Meteor.Error, failure(), forbidden()).

use serde_json::{json, Value};
use std::collections::HashMap;

/// One failed API call: HTTP status + JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiErr {
    pub status: u16,
    pub body: Value,
}

/// `throw new Meteor.Error(code, reason, details)` inside an endpoint becomes
/// `API.v1.failure(e.message, e.error, stack, e)`: Meteor.Error's message is
/// `"<reason> [<code>]"` (apps/meteor/app/api/server/api.ts, failure()).
pub fn meteor_err(code: &str, reason: &str, details: Option<Value>) -> ApiErr {
    let mut body =
        json!({"success": false, "error": format!("{reason} [{code}]"), "errorType": code});
    if let Some(d) = details {
        body["details"] = d;
    }
    ApiErr { status: 400, body }
}

/// PasswordPolicyError(message, error, reasons) is not a Meteor.Error: failure(e.message,
/// e.error, …) sends its message as is, without Meteor's " [<code>]" suffix.
pub(crate) fn policy_err(message: &str, details: Option<Value>) -> ApiErr {
    let mut e = meteor_err("error-password-policy-not-met", message, details);
    e.body["error"] = json!(message);
    e
}

/// `API.v1.failure('plain message')` (api.ts failure() with a string result).
pub fn failure(msg: &str) -> ApiErr {
    ApiErr {
        status: 400,
        body: json!({"success": false, "error": msg}),
    }
}

/// Permission failures on `permissionsRequired` routes: 403 `[error-unauthorized]` on every
/// emulated line. The 8.x middleware (apps/meteor/server/api/v1/middlewares/permissions.ts
/// @ a1167b28) sends that text in both `applyBreakingChanges` branches; the 7.x one threw
/// `error-forbidden` only under the flag, which is false on 7.10 and 8.1 (config.rs).
pub(crate) fn no_permission() -> ApiErr {
    ApiErr {
        status: 403,
        body: json!({"success": false,
            "error": "User does not have the permissions required for this action [error-unauthorized]"}),
    }
}

/// A parsed HTTP request, independent of the HTTP library (unit-testable).
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub raw_body: String,
    pub ip: String,
    /// Query string as sent (without `?`), for the script's `request.url`.
    pub raw_query: String,
}

impl Req {
    pub(crate) fn header(&self, k: &str) -> Option<&str> {
        self.headers.get(k).map(String::as_str)
    }
    pub(crate) fn param(&self, k: &str) -> Option<String> {
        let v = if self.method == "GET" {
            self.query.get(k).map(|s| Value::String(s.clone()))
        } else {
            self.body.get(k).cloned()
        };
        match v {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: String,
}

impl Resp {
    pub(crate) fn json(status: u16, v: Value) -> Resp {
        Resp {
            status,
            headers: vec![],
            content_type: "application/json".into(),
            body: v.to_string(),
        }
    }
}

pub(crate) fn ok(mut v: Value) -> Result<Value, ApiErr> {
    if let Some(o) = v.as_object_mut() {
        o.insert("success".into(), json!(true));
    }
    Ok(v)
}

pub(crate) fn invalid_params(msg: &str) -> ApiErr {
    // api.ts: Meteor.Error('invalid-params', ajv errors joined by '\n ').
    meteor_err("invalid-params", msg, None)
}

pub(crate) fn reject_unknown(body: &Value, allowed: &[&str]) -> Result<(), ApiErr> {
    let Some(o) = body.as_object() else {
        return Err(invalid_params("must be object"));
    };
    if o.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

pub(crate) fn str_field(b: &Value, k: &str) -> Option<String> {
    b.get(k).and_then(Value::as_str).map(str::to_string)
}
