//! One error type for every way a Rocket.Chat call can fail, and its classification into the
//! sidecar exit codes.
//!
//! Rocket.Chat answers errors in two shapes (apps/meteor/app/api/server/ApiClass.ts):
//! * `API.v1.failure(e.message, e.error, …)` → 400 `{success:false, error:"<reason> [<id>]",
//!   errorType:"<id>", details}` (a Meteor.Error's `message` is `reason [id]`), or
//!   `failure("User not found.")` → `{success:false, error:"User not found."}`;
//! * while `applyBreakingChanges` is false the login route and the "You must be logged in"
//!   answer also carry `status:"error"`, `error:<id or number>`, `message`, `details`: on 7.x
//!   (`shouldBreakInVersion('8.0.0')`) and again from 8.0.1 (`'9.0.0'`, PR #38155), so 8.1 too.
//!   Only 8.0.0 sent the bare `{success:false, error:"unauthorized"}`, still read here.
//!   6.x (Restivus) sends `{status:"error", error, message}` without `success`.
//!
//! Both are read into [`RcError`] { status, error id, message }.

use serde_json::Value;
use sidecar::Failure;
use std::fmt;
use std::time::Duration;

#[derive(Clone, PartialEq)]
pub struct RcError {
    /// HTTP status; 0 when no HTTP answer came (refused, reset, timeout, DNS).
    pub status: u16,
    /// Rocket.Chat's error id (`error-room-not-found`, `totp-required`, …), empty if none.
    pub error: String,
    /// The human message, without the ` [id]` suffix Meteor adds.
    pub message: String,
    /// `details` as sent (password policy reasons, 2FA method, rate-limit timing).
    pub details: Option<Value>,
    /// What was called: `POST /api/v1/login` (never a query string, never a token).
    pub endpoint: String,
    /// For 429: how long the server asked us to wait.
    pub retry_after: Option<Duration>,
    /// Where the failure came from, decided when it happened (never re-read from the text).
    pub origin: Origin,
}

/// What kind of failure an [`RcError`] is, set where it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An HTTP answer; `json`: a JSON object (Rocket.Chat's own shape), not a bare status page.
    /// `login_refused`: the login route refused the credentials (an HTTP 403 there, see
    /// [`RcError::refused_login`]).
    Answer { json: bool, login_refused: bool },
    /// No connection at all (refused, unreachable): nothing reached the server.
    NoConnection,
    /// The exchange broke (reset, timeout, DNS, unreadable answer).
    Transport,
    /// The server's TLS certificate is not trusted: final, no retry changes it.
    Certificate,
}

impl fmt::Debug for RcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RcError({self})")
    }
}

impl fmt::Display for RcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == 0 {
            return write!(f, "{}: {}", self.endpoint, self.message);
        }
        write!(f, "{}: HTTP {}", self.endpoint, self.status)?;
        if !self.error.is_empty() {
            write!(f, " {}", self.error)?;
        }
        if !self.message.is_empty() && self.message != self.error {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for RcError {}

impl RcError {
    pub fn transport(endpoint: &str, message: impl Into<String>) -> Self {
        RcError {
            status: 0,
            error: String::new(),
            message: message.into(),
            details: None,
            endpoint: endpoint.to_string(),
            retry_after: None,
            origin: Origin::Transport,
        }
    }

    /// A TLS certificate problem: final (exit 3), see [`RcError::failure`].
    pub fn certificate(endpoint: &str, message: impl Into<String>) -> Self {
        RcError {
            origin: Origin::Certificate,
            ..Self::transport(endpoint, message)
        }
    }

    /// Reads an error answer of either shape (or a proxy's HTML page).
    pub fn from_body(endpoint: &str, status: u16, body: &str) -> Self {
        let mut e = RcError {
            status,
            error: String::new(),
            message: String::new(),
            details: None,
            endpoint: endpoint.to_string(),
            retry_after: None,
            origin: Origin::Answer {
                json: false,
                login_refused: false,
            },
        };
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(body) else {
            let text = sidecar::exit::one_line(body);
            e.message = if text.is_empty() || text.starts_with('<') {
                reason_phrase(status).to_string()
            } else {
                sidecar::text::server(&text)
            };
            return e;
        };
        e.origin = Origin::Answer {
            json: true,
            login_refused: false,
        };
        let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_string);
        let error_field = match obj.get("error") {
            Some(Value::String(s)) => Some(s.clone()),
            // Legacy-shape login failures carry Meteor's numeric error: 403 "Incorrect password"
            // on 6.x, 401 "Incorrect login or password" on 8.1 (loginErrorMessageOverride.ts).
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        if let Some(id) = text("errorType") {
            e.error = id;
            e.message = error_field.or_else(|| text("message")).unwrap_or_default();
        } else {
            match error_field {
                // An id has no spaces: `totp-required`, `unauthorized`, `error-invalid-user`.
                Some(s)
                    if !s.contains(char::is_whitespace)
                        && !s.chars().all(|c| c.is_ascii_digit()) =>
                {
                    e.error = s;
                    e.message = text("message")
                        .or_else(|| text("reason"))
                        .unwrap_or_default();
                }
                Some(s) => {
                    e.message = text("message").or_else(|| text("reason")).unwrap_or(s);
                }
                None => {
                    e.message = text("message")
                        .or_else(|| text("reason"))
                        .unwrap_or_default()
                }
            }
        }
        if let Some(stripped) = strip_id_suffix(&e.message, &e.error) {
            e.message = stripped;
        }
        if e.message.is_empty() {
            e.message = reason_phrase(status).to_string();
        }
        // Server text is data: control characters escaped, bounded length.
        e.message = sidecar::text::server(&e.message);
        e.error = sidecar::text::server(&e.error);
        e.details = obj.get("details").filter(|d| !d.is_null()).cloned();
        e
    }

    /// `API.v1.failure('not-allowed', 'Not Allowed')` (rooms.info): `error` holds the id and
    /// `errorType` the text, the other way round from a Meteor.Error.
    pub fn is_not_allowed(&self) -> bool {
        self.error == "not-allowed"
            || (self.error == "Not Allowed" && self.message == "not-allowed")
    }

    /// Brute-force protection refusing a login (accounts.ts validateLoginAttempt):
    /// `Some("user")` / `Some("ip")`, named on 6.x, 7.x and 8.1 (legacy fields). Only 8.0.0's
    /// bare `unauthorized` hides it: not recognisable there.
    pub fn login_block(&self) -> Option<&'static str> {
        match self.error.as_str() {
            "error-login-blocked-for-user" => Some("user"),
            "error-login-blocked-for-ip" => Some("ip"),
            _ => None,
        }
    }

    pub fn is_rate_limited(&self) -> bool {
        self.status == 429 || self.error == "error-too-many-requests"
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self.origin, Origin::NoConnection | Origin::Transport)
            || self.status >= 500
            || self.is_rate_limited()
    }

    /// A lookup that found nothing: `users.info` ("User not found."), `channels.info`
    /// (error-room-not-found), `rooms.info` (error-room-not-found; an unreadable room is
    /// `not-allowed` on every release: [`RcError::is_not_allowed`]).
    pub fn is_not_found(&self) -> bool {
        if !matches!(self.status, 400 | 404) {
            return false;
        }
        let id = self.error.as_str();
        let msg = self.message.to_ascii_lowercase();
        id.ends_with("not-found")
            || id == "error-invalid-user"
            || id == "error-invalid-room"
            || msg.contains("not found")
            || msg.contains("does not match any")
    }

    /// Login answer (legacy fields: every release but 8.0.0) for a user whose second factor is
    /// required (app/2fa/server/code/index.ts
    /// throws `Meteor.Error('totp-required', 'TOTP Required', {method, availableMethods})`).
    pub fn is_totp_required(&self) -> bool {
        self.error == "totp-required" || self.error == "totp-invalid"
    }

    /// Marks an answer of the login route: there a 403 is a refused login.
    pub fn refused_login(mut self) -> Self {
        if let Origin::Answer { json, .. } = self.origin {
            if self.status == 403 {
                self.origin = Origin::Answer {
                    json,
                    login_refused: true,
                };
            }
        }
        self
    }

    /// A bare 500 (no JSON body): what the post-Restivus router answers when a route throws
    /// outside its try/catch (ApiClass.ts, Hono's default error handler).
    pub fn is_bare_server_error(&self) -> bool {
        self.status == 500 && matches!(self.origin, Origin::Answer { json: false, .. })
    }

    /// A refused login: 401 (every release), or an HTTP 403 from the login route (marked by
    /// [`RcError::refused_login`]).
    pub fn is_auth_failure(&self) -> bool {
        self.status == 401
            || matches!(
                self.origin,
                Origin::Answer {
                    login_refused: true,
                    ..
                }
            )
    }

    /// The failing password-policy rules, from either shape: the old one-rule error id
    /// (`error-password-policy-not-met-minLength`) or the newer PasswordPolicyError with
    /// `details: [{error: "error-password-policy-not-met-minLength", …}]`.
    pub fn password_policy_rules(&self) -> Option<Vec<String>> {
        const PREFIX: &str = "error-password-policy-not-met";
        let mut rules = Vec::new();
        if let Some(Value::Array(items)) = &self.details {
            for item in items {
                if let Some(id) = item.get("error").and_then(Value::as_str) {
                    if let Some(rule) = id.strip_prefix(PREFIX) {
                        rules.push(describe_rule(rule.trim_start_matches('-')));
                    }
                }
            }
        }
        if rules.is_empty() {
            let rule = self.error.strip_prefix(PREFIX)?;
            rules.push(describe_rule(rule.trim_start_matches('-')));
        }
        Some(rules)
    }

    /// Classifies into the sidecar exit codes. `what` names the step ("creating bot user").
    pub fn failure(&self, what: &str) -> Failure {
        if let Some(rules) = self.password_policy_rules() {
            return Failure::usage(format!(
                "{what}: the password does not meet Rocket.Chat's password policy ({}); choose a \
                 password that does, or relax Accounts_Password_Policy_* on the server",
                rules.join("; ")
            ));
        }
        if self.origin == Origin::Certificate {
            // The message says which problem and what to do (tls.rs).
            return Failure::refused(format!(
                "{what}: certificate not trusted ({}): {}",
                self.endpoint, self.message
            ));
        }
        if matches!(self.origin, Origin::NoConnection | Origin::Transport) {
            return Failure::unavailable(format!("{what}: Rocket.Chat is not answering: {self}"));
        }
        if self.is_rate_limited() {
            let wait = self
                .retry_after
                .map(|d| {
                    format!(
                        " (the server asks to wait {})",
                        sidecar::duration::display(d)
                    )
                })
                .unwrap_or_default();
            return Failure::unavailable(format!(
                "{what}: rate limited by Rocket.Chat{wait}: {self}"
            ));
        }
        if self.status >= 500 {
            return Failure::unavailable(format!("{what}: Rocket.Chat is not ready: {self}"));
        }
        if self.error == "invalid-params" {
            return Failure::usage(format!(
                "{what}: the server rejected the request parameters: {self}"
            ));
        }
        match self.status {
            401 => Failure::refused(format!("{what}: authentication refused: {self}")),
            403 => Failure::refused(format!("{what}: not allowed (missing permission?): {self}")),
            404 => Failure::refused(format!(
                "{what}: not found: {self} (is --url a Rocket.Chat server, and recent enough?)"
            )),
            _ => Failure::refused(format!("{what}: {self}")),
        }
    }
}

fn strip_id_suffix(message: &str, id: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    message
        .strip_suffix(&format!(" [{id}]"))
        .map(|m| m.trim_end().to_string())
}

fn describe_rule(rule: &str) -> String {
    // Rule ids of app/lib/server/lib/passwordPolicy / packages/password-policy.
    match rule {
        "minLength" => "too short (Accounts_Password_Policy_MinLength)".into(),
        "maxLength" => "too long (Accounts_Password_Policy_MaxLength)".into(),
        "repeatingCharacters" => {
            "too many repeated characters (Accounts_Password_Policy_ForbidRepeatingCharactersCount)"
                .into()
        }
        "oneLowercase" => "needs a lowercase letter".into(),
        "oneUppercase" => "needs an uppercase letter".into(),
        "oneNumber" => "needs a digit".into(),
        "oneSpecialCharacter" => "needs a special character".into(),
        "" => "rejected by the password policy".into(),
        other => format!("rule {other}"),
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    #[test]
    fn reads_the_failure_shape_with_error_type() {
        let e = RcError::from_body(
            "GET /api/v1/channels.info",
            400,
            r#"{"success":false,"error":"The required \"roomId\" or \"roomName\" param provided does not match any channel [error-room-not-found]","errorType":"error-room-not-found"}"#,
        );
        assert_eq!(e.error, "error-room-not-found");
        assert!(
            e.message.ends_with("does not match any channel"),
            "{}",
            e.message
        );
        assert!(e.is_not_found());
        assert_eq!(e.failure("x").exit, Exit::Refused);
    }

    #[test]
    fn reads_plain_failures_and_pre_8_login() {
        let e = RcError::from_body(
            "GET /api/v1/users.info",
            400,
            r#"{"success":false,"error":"User not found."}"#,
        );
        assert_eq!(e.error, "");
        assert_eq!(e.message, "User not found.");
        assert!(e.is_not_found());

        let pre8 = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"status":"error","success":false,"error":"totp-required","message":"TOTP Required","details":{"method":"email"}}"#,
        );
        assert!(pre8.is_totp_required());
        assert!(pre8.is_auth_failure());
        assert_eq!(pre8.failure("login").exit, Exit::Refused);

        let numeric = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"status":"error","success":false,"error":403,"message":"Incorrect password"}"#,
        );
        assert_eq!(numeric.error, "");
        assert_eq!(numeric.message, "Incorrect password");

        // 8.0.0 only (the 9.0.0 threshold came back in 8.0.1).
        let post8 = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"success":false,"error":"unauthorized"}"#,
        );
        assert_eq!(post8.error, "unauthorized");
        assert!(post8.is_auth_failure());
        assert!(!post8.is_totp_required());
    }

    #[test]
    fn server_text_is_escaped_and_bounded() {
        let e = RcError::from_body(
            "POST /api/v1/login",
            400,
            &serde_json::json!({"success": false, "error": format!("bad\u{1b}[2J\n{}", "x".repeat(5000))})
                .to_string(),
        );
        assert!(
            !e.message.contains('\u{1b}') && !e.message.contains('\n'),
            "{}",
            e.message
        );
        assert!(e.message.len() < 400, "{}", e.message.len());
        let html = RcError::from_body(
            "GET /x",
            404,
            &format!("Cannot GET /x\u{7}{}", "y".repeat(9000)),
        );
        assert!(!html.message.contains('\u{7}') && html.message.len() < 400);
    }

    #[test]
    fn untrusted_certificates_are_refused_not_retried() {
        let e = RcError::certificate(
            "GET /api/info",
            "the server's certificate is signed by an unknown issuer (unknown CA)",
        );
        assert!(!e.is_unavailable());
        let f = e.failure("Rocket.Chat at https://rc");
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message
                .contains("certificate not trusted (GET /api/info): the server's certificate"),
            "{f}"
        );
        let refused = RcError::transport("GET /api/info", "Connection Failed: Connection refused");
        assert!(refused.is_unavailable());
        assert_eq!(refused.failure("x").exit, Exit::Unavailable);
    }

    #[test]
    fn classifies_into_exit_codes() {
        let down = RcError::transport("GET /api/info", "connection refused");
        assert_eq!(down.failure("x").exit, Exit::Unavailable);
        let proxy = RcError::from_body("GET /api/info", 502, "<html>bad gateway</html>");
        assert_eq!(proxy.message, "Bad Gateway");
        assert_eq!(proxy.failure("x").exit, Exit::Unavailable);
        let limited = RcError::from_body(
            "POST /api/v1/login",
            429,
            r#"{"success":false,"error":"Error, too many requests. Please slow down. You must wait 60 seconds before trying this endpoint again. [error-too-many-requests]","errorType":"error-too-many-requests"}"#,
        );
        assert!(limited.is_rate_limited());
        assert_eq!(limited.failure("x").exit, Exit::Unavailable);
        let forbidden = RcError::from_body(
            "POST /api/v1/users.create",
            403,
            r#"{"success":false,"error":"unauthorized"}"#,
        );
        assert_eq!(forbidden.failure("x").exit, Exit::Refused);
        let invalid = RcError::from_body(
            "POST /api/v1/integrations.create",
            400,
            r#"{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}"#,
        );
        assert_eq!(invalid.failure("x").exit, Exit::Usage);
    }

    #[test]
    fn names_the_failing_password_rules_in_both_shapes() {
        let old = RcError::from_body(
            "POST /api/v1/users.create",
            400,
            r#"{"success":false,"error":"The password does not meet the minimum length password policy. [error-password-policy-not-met-minLength]","errorType":"error-password-policy-not-met-minLength"}"#,
        );
        let f = old.failure("creating bot");
        assert_eq!(f.exit, Exit::Usage);
        assert!(f.message.contains("too short"), "{}", f.message);

        let new = RcError::from_body(
            "POST /api/v1/users.create",
            400,
            r#"{"success":false,"error":"The password provided does not meet the server's password policy. [error-password-policy-not-met]","errorType":"error-password-policy-not-met","details":[{"error":"error-password-policy-not-met-oneUppercase","message":"x"},{"error":"error-password-policy-not-met-oneNumber","message":"y"}]}"#,
        );
        let f = new.failure("creating bot");
        assert!(f.message.contains("uppercase"), "{}", f.message);
        assert!(f.message.contains("digit"), "{}", f.message);
    }
}
