//! The blocking client: one base URL, one deadline, an optional session.

use crate::error::RcError;
use crate::types::{IncomingWebhook, Integration, Room, RoomKind, Subscription, User};
/// Kept at its old path (rc-probe's cli.rs calls it there).
pub use crate::url::webhook_info_url;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sidecar::{Deadline, Secret};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A logged-in session: sent as `X-User-Id` / `X-Auth-Token` (ApiClass.authenticatedRoute).
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    pub user_id: String,
    pub token: Secret,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Session({}, token ***)", self.user_id)
    }
}

/// Login result: the session and the user's own record (`data.me`).
#[derive(Debug, Clone)]
pub struct Login {
    pub session: Session,
    pub me: User,
}

/// One HTTP exchange: `shown_path` is what errors name (never a token).
#[derive(Clone, Copy)]
struct Exchange<'a> {
    method: &'a str,
    url: &'a str,
    shown_path: &'a str,
    query: &'a [(&'a str, &'a str)],
    body: Option<&'a Value>,
    headers: &'a [(&'a str, String)],
    authenticated: bool,
}

/// Progress callback for rate-limiter waits.
type WaitHook = Box<dyn Fn(&str)>;

pub struct Client {
    base: String,
    agent: ureq::Agent,
    deadline: Deadline,
    /// Longest single HTTP exchange, so that one stuck call leaves time for a retry.
    call_cap: Duration,
    session: Option<Session>,
    on_wait: Option<WaitHook>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("session", &self.session)
            .finish()
    }
}

/// `sha256-hex(password)`: the `x-2fa-code` for `x-2fa-method: password`
/// (app/2fa/server/code/PasswordCheckFallback.ts checks it as a sha-256 digest).
pub fn password_digest(password: &Secret) -> String {
    let digest = Sha256::digest(password.expose().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Milliseconds to wait from `X-RateLimit-Reset` (an absolute epoch-ms time:
/// `new Date().getTime() + timeToReset` in ApiClass.enforceRateLimit), else from the
/// "You must wait N seconds" message, else one second.
pub fn rate_limit_wait(reset_header: Option<&str>, message: &str, now_ms: u128) -> Duration {
    if let Some(reset) = reset_header.and_then(|h| h.trim().parse::<u128>().ok()) {
        return Duration::from_millis(reset.saturating_sub(now_ms).min(3_600_000) as u64);
    }
    if let Some(pos) = message.find("wait ") {
        let digits: String = message[pos + 5..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(secs) = digits.parse::<u64>() {
            return Duration::from_secs(secs.min(3600));
        }
    }
    Duration::from_secs(1)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn transport_message(t: &ureq::Transport) -> String {
    // Display of ureq's error includes the URL; a webhook URL holds its token, so build our own.
    let mut text = t.kind().to_string();
    if let Some(m) = t.message() {
        text.push_str(": ");
        text.push_str(m);
    }
    let mut source = std::error::Error::source(t);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Client {
    /// `base` must come from [`normalize_base_url`].
    pub fn new(base: &str, deadline: Deadline) -> Client {
        let mut builder = ureq::AgentBuilder::new()
            .user_agent(concat!("coquelicot-rc-client/", env!("CARGO_PKG_VERSION")))
            .redirects(0);
        if let Some(config) = crate::tls::process_config() {
            builder = builder.tls_config(config);
        }
        let agent = builder.build();
        Client {
            base: base.to_string(),
            agent,
            deadline,
            call_cap: Duration::from_secs(30),
            session: None,
            on_wait: None,
        }
    }

    /// Told (for a progress line) whenever the client sleeps for the rate limiter.
    pub fn on_wait(&mut self, f: impl Fn(&str) + 'static) {
        self.on_wait = Some(Box::new(f));
    }

    pub fn set_session(&mut self, session: Option<Session>) {
        self.session = session;
    }

    /// One REST call. Waits out 429s when the server's reset time fits in the deadline.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        headers: &[(&str, String)],
    ) -> Result<Value, RcError> {
        let url = format!("{}{}", self.base, path);
        self.send(&Exchange {
            method,
            url: &url,
            shown_path: path,
            query,
            body,
            headers,
            authenticated: true,
        })
    }

    fn send(&self, x: &Exchange) -> Result<Value, RcError> {
        let Exchange {
            method,
            url,
            shown_path,
            query,
            body,
            headers,
            authenticated,
        } = *x;
        let endpoint = format!("{method} {shown_path}");
        loop {
            if self.deadline.expired() {
                return Err(RcError::transport(
                    &endpoint,
                    "deadline reached before the call",
                ));
            }
            let mut req = self
                .agent
                .request(method, url)
                .timeout(self.deadline.timeout(self.call_cap));
            for (k, v) in query {
                req = req.query(k, v);
            }
            if authenticated {
                if let Some(s) = &self.session {
                    req = req
                        .set("X-User-Id", &s.user_id)
                        .set("X-Auth-Token", s.token.expose());
                }
            }
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let result = match body {
                Some(b) => req.send_json(b),
                None => req.call(),
            };
            let err = match result {
                Ok(resp) => {
                    let status = resp.status();
                    let text = resp.into_string().map_err(|e| {
                        RcError::transport(&endpoint, format!("reading the answer: {e}"))
                    })?;
                    // Logout answers an empty 200 since Restivus was removed (see logout()).
                    if text.trim().is_empty() && (200..300).contains(&status) {
                        return Ok(Value::Object(Default::default()));
                    }
                    let value: Value = serde_json::from_str(&text).map_err(|_| {
                        let mut e = RcError::from_body(&endpoint, status, &text);
                        e.message = format!(
                            "HTTP {status} but not JSON (is --url a Rocket.Chat server?): {}",
                            e.message
                        );
                        e
                    })?;
                    if value.get("success") == Some(&Value::Bool(false)) {
                        return Err(RcError::from_body(&endpoint, status, &text));
                    }
                    return Ok(value);
                }
                Err(ureq::Error::Status(status, resp)) => {
                    let reset = resp.header("X-RateLimit-Reset").map(str::to_string);
                    let text = resp.into_string().unwrap_or_default();
                    let mut e = RcError::from_body(&endpoint, status, &text);
                    if e.is_rate_limited() {
                        e.retry_after =
                            Some(rate_limit_wait(reset.as_deref(), &e.message, now_ms()));
                    }
                    e
                }
                Err(ureq::Error::Transport(t)) => match crate::tls::certificate_problem(&t) {
                    Some(problem) => RcError::certificate(&endpoint, problem),
                    None => RcError {
                        origin: if t.kind() == ureq::ErrorKind::ConnectionFailed {
                            crate::error::Origin::NoConnection
                        } else {
                            crate::error::Origin::Transport
                        },
                        ..RcError::transport(&endpoint, transport_message(&t))
                    },
                },
            };
            if let Some(wait) = err.retry_after {
                // A little past the reset, so the next call lands in the new window.
                let wait = wait + Duration::from_millis(50);
                if wait < self.deadline.remaining() {
                    if let Some(cb) = &self.on_wait {
                        cb(&format!(
                            "rate limited on {endpoint}: waiting {} as the server asks",
                            sidecar::duration::display(wait)
                        ));
                    }
                    std::thread::sleep(wait);
                    continue;
                }
            }
            return Err(err);
        }
    }

    fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        field: &str,
    ) -> Result<T, RcError> {
        let v = self.call("GET", path, query, None, &[])?;
        extract(&format!("GET {path}"), v, field)
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: Value,
        field: &str,
    ) -> Result<T, RcError> {
        let v = self.call("POST", path, &[], Some(&body), &[])?;
        extract(&format!("POST {path}"), v, field)
    }

    /// `GET /api/info` (no auth, not rate limited: it is not on a versioned API).
    pub fn info(&self) -> Result<Option<String>, RcError> {
        let v = self.call("GET", "/api/info", &[], None, &[])?;
        Ok(v.get("version").and_then(Value::as_str).map(str::to_string))
    }

    /// `POST /api/v1/login` with `{user, password}`; sets the session on success.
    pub fn login(&mut self, user: &str, password: &Secret) -> Result<Login, RcError> {
        let body = json!({ "user": user, "password": password.expose() });
        let v = self
            .call("POST", "/api/v1/login", &[], Some(&body), &[])
            .map_err(RcError::refused_login)?;
        let endpoint = "POST /api/v1/login";
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let user_id: String = extract(endpoint, data.clone(), "userId")?;
        let token: String = extract(endpoint, data.clone(), "authToken")?;
        let me: User = match data.get("me") {
            Some(me) if me.is_object() => serde_json::from_value(me.clone())
                .map_err(|e| RcError::transport(endpoint, format!("unexpected answer: {e}")))?,
            _ => User {
                id: user_id.clone(),
                username: Some(user.to_string()),
                roles: Vec::new(),
                emails: Vec::new(),
                active: None,
            },
        };
        let session = Session {
            user_id,
            token: Secret::new(token),
        };
        self.session = Some(session.clone());
        Ok(Login { session, me })
    }

    /// `POST /api/v1/logout`: removes this session's token from the user. Clears the session.
    /// Restivus releases answer `{status:"success", data:{message}}` (no `success` field); since
    /// its removal (PR #34999) an empty 200 (the action's result is not a `{statusCode, body}` route
    /// result): both are success.
    pub fn logout(&mut self) -> Result<(), RcError> {
        if self.session.is_none() {
            return Ok(());
        }
        let r = self.call("POST", "/api/v1/logout", &[], Some(&json!({})), &[]);
        self.session = None;
        r.map(|_| ())
    }

    /// `GET /api/v1/me`: validates the session and returns the user (with roles).
    pub fn me(&self) -> Result<User, RcError> {
        let v = self.call("GET", "/api/v1/me", &[], None, &[])?;
        serde_json::from_value(v)
            .map_err(|e| RcError::transport("GET /api/v1/me", format!("unexpected answer: {e}")))
    }

    /// `GET /api/v1/users.info?username=`; `None` when there is no such user.
    pub fn user_info(&self, username: &str) -> Result<Option<User>, RcError> {
        match self.get("/api/v1/users.info", &[("username", username)], "user") {
            Ok(u) => Ok(Some(u)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/users.create` for a bot (rest-typings UserCreateParamsPOST).
    pub fn create_bot_user(
        &self,
        username: &str,
        email: &str,
        password: &Secret,
    ) -> Result<User, RcError> {
        let body = json!({
            "username": username,
            "email": email,
            "name": username,
            "password": password.expose(),
            "roles": ["bot"],
            // A bot must not land in #general & co.
            "joinDefaultChannels": false,
            "requirePasswordChange": false,
            "sendWelcomeEmail": false,
            // A verified email + Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In turns on
            // email 2FA, after which a password login answers totp-required.
            "verified": false,
        });
        self.post("/api/v1/users.create", body, "user")
    }

    /// `POST /api/v1/users.register` (public registration; the first user becomes admin).
    pub fn register_user(
        &self,
        username: &str,
        email: &str,
        password: &Secret,
        name: &str,
    ) -> Result<User, RcError> {
        let body = json!({ "username": username, "email": email, "pass": password.expose(), "name": name });
        self.post("/api/v1/users.register", body, "user")
    }

    /// `POST /api/v1/users.update` (twoFactorRequired: sent with `x-2fa-method: password` and
    /// `x-2fa-code: sha256-hex(<caller's password>)`).
    pub fn update_user(
        &self,
        user_id: &str,
        data: Value,
        caller_password: &Secret,
    ) -> Result<User, RcError> {
        let body = json!({ "userId": user_id, "data": data });
        let headers = [
            ("x-2fa-method", "password".to_string()),
            ("x-2fa-code", password_digest(caller_password)),
        ];
        let v = self.call("POST", "/api/v1/users.update", &[], Some(&body), &headers)?;
        extract("POST /api/v1/users.update", v, "user")
    }

    /// `GET /api/v1/rooms.info?roomName=` (any room type the caller can see).
    pub fn room_info(&self, name: &str) -> Result<Option<Room>, RcError> {
        match self.get("/api/v1/rooms.info", &[("roomName", name)], "room") {
            Ok(r) => Ok(Some(r)),
            // rooms.info (apps/meteor/app/api/server/v1/rooms.ts): `error-room-not-found` for an
            // unknown room; `failure('not-allowed', 'Not Allowed')` for one the caller cannot
            // read, i.e. error "not-allowed" and errorType "Not Allowed" (swapped).
            Err(e) if e.is_not_found() || e.is_not_allowed() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /api/v1/{channels|groups}.info?roomName=`.
    pub fn kind_info(&self, kind: RoomKind, name: &str) -> Result<Option<Room>, RcError> {
        let field = kind.field();
        let path = format!("/api/v1/{}.info", kind.prefix());
        match self.get(&path, &[("roomName", name)], field) {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/{channels|groups}.create {name, members, readOnly}`.
    pub fn create_room(
        &self,
        kind: RoomKind,
        name: &str,
        members: &[&str],
        read_only: bool,
    ) -> Result<Room, RcError> {
        let field = kind.field();
        let body = json!({ "name": name, "members": members, "readOnly": read_only });
        self.post(&format!("/api/v1/{}.create", kind.prefix()), body, field)
    }

    /// `POST /api/v1/{channels|groups}.<action>` whose answer carries nothing we need.
    fn room_call(&self, kind: RoomKind, action: &str, body: Value) -> Result<(), RcError> {
        let path = format!("/api/v1/{}.{action}", kind.prefix());
        self.call("POST", &path, &[], Some(&body), &[]).map(|_| ())
    }

    /// `POST /api/v1/{channels|groups}.invite {roomId, userId}`; inviting a member again succeeds.
    pub fn invite(&self, kind: RoomKind, room_id: &str, user_id: &str) -> Result<(), RcError> {
        let body = json!({ "roomId": room_id, "userId": user_id });
        self.room_call(kind, "invite", body)
    }

    /// `POST /api/v1/{channels|groups}.setReadOnly {roomId, readOnly}`.
    pub fn set_read_only(
        &self,
        kind: RoomKind,
        room_id: &str,
        read_only: bool,
    ) -> Result<(), RcError> {
        let body = json!({ "roomId": room_id, "readOnly": read_only });
        self.room_call(kind, "setReadOnly", body)
    }

    /// `POST /api/v1/{channels|groups}.addModerator {roomId, userId}`: moderators hold
    /// `post-readonly` in that room.
    pub fn add_moderator(
        &self,
        kind: RoomKind,
        room_id: &str,
        user_id: &str,
    ) -> Result<(), RcError> {
        let body = json!({ "roomId": room_id, "userId": user_id });
        self.room_call(kind, "addModerator", body)
    }

    /// `GET /api/v1/subscriptions.getOne?roomId=`: the caller's subscription, `None` when not a
    /// member (the server answers `{subscription: null}`).
    pub fn subscription(&self, room_id: &str) -> Result<Option<Subscription>, RcError> {
        let v = self.call(
            "GET",
            "/api/v1/subscriptions.getOne",
            &[("roomId", room_id)],
            None,
            &[],
        )?;
        match v.get("subscription") {
            None | Some(Value::Null) => Ok(None),
            Some(s) => serde_json::from_value(s.clone()).map(Some).map_err(|e| {
                RcError::transport(
                    "GET /api/v1/subscriptions.getOne",
                    format!("unexpected answer: {e}"),
                )
            }),
        }
    }

    /// `GET /api/v1/integrations.list`, every page.
    pub fn integrations(&self) -> Result<Vec<Integration>, RcError> {
        let mut all = Vec::new();
        loop {
            let offset = all.len().to_string();
            let v = self.call(
                "GET",
                "/api/v1/integrations.list",
                &[("offset", &offset), ("count", "100")],
                None,
                &[],
            )?;
            let page: Vec<Integration> =
                extract("GET /api/v1/integrations.list", v.clone(), "integrations")?;
            let total = v.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
            let got = page.len();
            all.extend(page);
            if got == 0 || all.len() >= total {
                return Ok(all);
            }
        }
    }

    /// `POST /api/v1/integrations.create` (type webhook-incoming), only the fields every version's
    /// schema accepts.
    pub fn create_incoming(&self, hook: &IncomingWebhook) -> Result<Integration, RcError> {
        let mut body = json!({
            "type": "webhook-incoming",
            "name": hook.name,
            "enabled": true,
            "username": hook.username,
            "channel": hook.channel,
            "scriptEnabled": hook.script.is_some(),
        });
        if let Some(script) = &hook.script {
            body["script"] = Value::String(script.clone());
        }
        self.post("/api/v1/integrations.create", body, "integration")
    }

    /// `PUT /api/v1/integrations.update`. `with_username`: send the posting user too (7.x+
    /// take it; on 6.x changing it needs remove + create, see rc-bootstrap).
    pub fn update_incoming(
        &self,
        id: &str,
        hook: &IncomingWebhook,
        with_username: bool,
    ) -> Result<Integration, RcError> {
        let mut body = json!({
            "type": "webhook-incoming",
            "integrationId": id,
            "name": hook.name,
            "enabled": true,
            "channel": hook.channel,
            "scriptEnabled": hook.script.is_some(),
        });
        if with_username {
            body["username"] = Value::String(hook.username.clone());
        }
        if let Some(script) = &hook.script {
            body["script"] = Value::String(script.clone());
        }
        let v = self.call("PUT", "/api/v1/integrations.update", &[], Some(&body), &[])?;
        extract("PUT /api/v1/integrations.update", v, "integration")
    }

    /// `POST /api/v1/integrations.remove {type, integrationId}`.
    pub fn remove_integration(&self, id: &str, kind: &str) -> Result<(), RcError> {
        let body = json!({ "type": kind, "integrationId": id });
        self.call("POST", "/api/v1/integrations.remove", &[], Some(&body), &[])
            .map(|_| ())
    }

    /// Checks an incoming-webhook URL without posting: `GET /hooks/info/<id>/<any>/<token>`
    /// answers `{success:true}` for a valid id+token and posts nothing
    /// (app/integrations/server/api/api.ts, integrationInfoRest). The 4-segment form: since
    /// Restivus was removed (PR #34999) routes match in registration order and the 3-segment
    /// `info/<id>/<token>` is taken by `:integrationId/:userId/:token` (the webhook itself, with
    /// integrationId "info"); `info/:integrationId/:userId/:token` is reached on every router.
    /// The URL may live on another host than `--url` (the public ROOT_URL).
    pub fn webhook_info(&self, hook_url: &str) -> Result<(), RcError> {
        let (info_url, shown) = crate::url::webhook_info_url(hook_url).ok_or_else(|| {
            RcError::transport(
                "GET /hooks/info",
                "the webhook URL is not of the form <ROOT_URL>/hooks/<id>/<token>",
            )
        })?;
        self.send(&Exchange {
            method: "GET",
            url: &info_url,
            shown_path: &shown,
            query: &[],
            body: None,
            headers: &[],
            // The hook's own token authenticates it: no session headers to another host.
            authenticated: false,
        })
        .map(|_| ())
    }
}

fn extract<T: DeserializeOwned>(endpoint: &str, mut v: Value, field: &str) -> Result<T, RcError> {
    let inner = v.get_mut(field).map(Value::take).unwrap_or(Value::Null);
    serde_json::from_value(inner).map_err(|e| {
        RcError::transport(
            endpoint,
            format!("unexpected answer (field {field:?}: {e}); is this Rocket.Chat?"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_factor_code_is_sha256_hex() {
        assert_eq!(
            password_digest(&Secret::new("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn rate_limit_wait_prefers_the_reset_header() {
        assert_eq!(
            rate_limit_wait(Some("10500"), "", 10_000),
            Duration::from_millis(500)
        );
        assert_eq!(rate_limit_wait(Some("9000"), "", 10_000), Duration::ZERO);
        assert_eq!(
            rate_limit_wait(None, "Please slow down. You must wait 12 seconds before", 0),
            Duration::from_secs(12)
        );
        assert_eq!(rate_limit_wait(None, "", 0), Duration::from_secs(1));
    }

    #[test]
    fn session_debug_hides_the_token() {
        let s = Session {
            user_id: "u1".into(),
            token: Secret::new("T0KEN"),
        };
        assert!(!format!("{s:?}").contains("T0KEN"));
    }

    #[test]
    fn unreachable_server_is_a_transport_error_without_the_url_secret() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let c = Client::new(
            &format!("http://127.0.0.1:{port}"),
            Deadline::after(Duration::from_secs(2)),
        );
        let e = c.info().unwrap_err();
        assert_eq!(e.status, 0);
        assert!(e.is_unavailable());
        let e = c
            .webhook_info(&format!(
                "http://127.0.0.1:{port}/hooks/id1/SUPERSECRETTOKEN"
            ))
            .unwrap_err();
        assert!(!e.to_string().contains("SUPERSECRETTOKEN"), "{e}");
    }
}
