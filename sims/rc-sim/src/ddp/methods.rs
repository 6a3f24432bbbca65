//! DDP messages of one session: `connect`, `ping`, `sub`/`unsub`, and the methods the Hubot
//! adapters call. Pure state machine (no socket): [`Conn::handle`] turns one client message into
//! the server messages to send, [`Conn::due`] yields the stream events that are due.

use super::streams::Streams;
use crate::{now_ms, random_id, sha256_hex, Message, Sim, State, Version};
use serde_json::{json, Value};

/// Meteor ddp-common: `SUPPORTED_DDP_VERSIONS = ['1', 'pre2', 'pre1']` (asteroid 0.6.1's ddp.js
/// asks for `pre2`).
const SUPPORTED: &[&str] = &["1", "pre2", "pre1"];
/// accounts-base: `DEFAULT_LOGIN_EXPIRATION_DAYS = 90` (Rocket.Chat's Accounts_LoginExpiration
/// default is 90 days too).
const LOGIN_EXPIRATION_MS: u64 = 90 * 24 * 3600 * 1000;
pub struct Conn {
    n: u64,
    session: Option<String>,
    user: Option<(String, String)>,
    streams: Streams,
    /// Set when the server must drop the connection after sending (failed `connect`).
    pub closing: bool,
}

/// `Meteor.Error(error, reason, details)` as sent in `result.error` / `nosub.error`
/// (ddp-server livedata_server.js wrapInternalException keeps client-safe errors).
pub fn meteor_error(error: Value, reason: &str, details: Option<Value>) -> Value {
    let code = match &error {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut e = json!({"isClientSafe": true, "error": error, "reason": reason,
        "message": format!("{reason} [{code}]"), "errorType": "Meteor.Error"});
    if let Some(d) = details {
        e["details"] = d;
    }
    e
}

fn result(id: &Value, r: Result<Value, Value>) -> Vec<Value> {
    match r {
        // ddp-server: a method's `updated` follows its `result` once its writes are visible.
        Ok(v) => {
            let mut res = json!({"msg": "result", "id": id});
            if !v.is_null() {
                res["result"] = v;
            }
            vec![res, json!({"msg": "updated", "methods": [id]})]
        }
        Err(e) => vec![
            json!({"msg": "result", "id": id, "error": e}),
            json!({"msg": "updated", "methods": [id]}),
        ],
    }
}

impl Conn {
    pub fn new(n: u64, _sim: &Sim) -> Conn {
        Conn {
            n,
            session: None,
            user: None,
            streams: Streams::default(),
            closing: false,
        }
    }

    pub fn connected(&self) -> bool {
        self.session.is_some()
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|(u, _)| u.as_str())
    }

    pub fn handle(&mut self, sim: &Sim, m: &Value) -> Vec<Value> {
        let msg = m.get("msg").and_then(Value::as_str).unwrap_or("");
        if self.session.is_none() {
            if msg != "connect" {
                return vec![
                    json!({"msg": "error", "reason": "Must connect first", "offendingMessage": m}),
                ];
            }
            // DDP.md "Establishing a DDP Connection": the best version by the client's `support`
            // order that the server speaks must be the proposed one, else `failed` + close.
            let version = m.get("version").and_then(Value::as_str).unwrap_or("");
            // livedata_server.js _handleConnect: `support` must be an array of strings that
            // contains `version`, else `failed` with the server's preferred version.
            let support = m.get("support").and_then(Value::as_array);
            let valid = support.is_some_and(|a| {
                a.iter().all(Value::is_string) && a.iter().any(|v| v.as_str() == Some(version))
            });
            if !valid {
                self.closing = true;
                return vec![json!({"msg": "failed", "version": SUPPORTED[0]})];
            }
            let best = m
                .get("support")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .find(|v| SUPPORTED.contains(v))
                .unwrap_or(SUPPORTED[0]);
            if version != best || !SUPPORTED.contains(&version) {
                self.closing = true;
                return vec![json!({"msg": "failed", "version": best})];
            }
            let s = random_id(17);
            self.session = Some(s.clone());
            return vec![json!({"msg": "connected", "session": s})];
        }
        let id = m.get("id").cloned().unwrap_or(Value::Null);
        match msg {
            "ping" => {
                let mut p = json!({"msg": "pong"});
                if !id.is_null() {
                    p["id"] = id;
                }
                vec![p]
            }
            "pong" => vec![],
            "sub" => self.sub(sim, &id, m),
            "unsub" => {
                self.streams.unsubscribe(&id);
                vec![json!({"msg": "nosub", "id": id})]
            }
            "method" => {
                let name = m.get("method").and_then(Value::as_str).unwrap_or("");
                let params = m
                    .get("params")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let r = self.method(sim, name, &params);
                result(&id, r)
            }
            "connect" => {
                vec![json!({"msg": "error", "reason": "Already connected", "offendingMessage": m})]
            }
            _ => vec![json!({"msg": "error", "reason": "Bad request", "offendingMessage": m})],
        }
    }

    fn sub(&mut self, sim: &Sim, id: &Value, m: &Value) -> Vec<Value> {
        let name = m.get("name").and_then(Value::as_str).unwrap_or("");
        let params = m
            .get("params")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        match name {
            // accounts-base accounts_server.js: published to everyone (no oauth services here).
            "meteor.loginServiceConfiguration" => vec![json!({"msg": "ready", "subs": [id]})],
            _ => {
                let st = sim.lock();
                let uid = self.user.as_ref().map(|(u, _)| u.clone());
                if let Some(out) = self
                    .streams
                    .subscribe(&st, uid.as_deref(), id, name, &params)
                {
                    return out;
                }
                // ddp-server: an unknown publication answers nosub with a 404 Meteor.Error.
                vec![nosub(
                    id,
                    json!(404),
                    &format!("Subscription '{name}' not found"),
                )]
            }
        }
    }

    fn method(&mut self, sim: &Sim, name: &str, params: &[Value]) -> Result<Value, Value> {
        match name {
            "login" => self.login(sim, params.first().unwrap_or(&Value::Null)),
            "logout" => {
                if let Some((uid, hashed)) = self.user.take() {
                    let mut st = sim.lock();
                    if let Some(i) = st.user_idx_by_id(&uid) {
                        st.users[i].tokens.retain(|t| t.hashed != hashed);
                    }
                    sim.ddp.set_user(self.n, None, now_ms());
                }
                Ok(Value::Null)
            }
            // Each method starts with check() on its argument, then the login check.
            "getRoomIdByNameOrId" => {
                let p = string_arg(params)?;
                let uid = self.require_user("getRoomIdByNameOrId")?;
                let st = sim.lock();
                get_room_id(&st, p, &uid)
            }
            "getRoomNameById" => {
                let p = string_arg(params)?;
                let uid = self.require_user("getRoomNameById")?;
                let st = sim.lock();
                get_room_name(&st, p, &uid)
            }
            "joinRoom" => {
                let p = string_arg(params)?;
                let uid = self.require_user("joinRoom")?;
                let mut st = sim.lock();
                join_room(&mut st, p, &uid)
            }
            "sendMessage" => {
                let p = params
                    .first()
                    .filter(|v| v.is_object())
                    .ok_or_else(match_failed)?;
                let uid = self.require_user("sendMessage")?;
                let mut st = sim.lock();
                send_message(&mut st, p, &uid)
            }
            other => Err(meteor_error(
                json!(404),
                &format!("Method '{other}' not found"),
                None,
            )),
        }
    }

    /// Rocket.Chat methods start with `if (!userId) throw new Meteor.Error('error-invalid-user',
    /// 'Invalid user', { method })`.
    fn require_user(&self, method: &str) -> Result<String, Value> {
        self.user_id().map(str::to_string).ok_or_else(|| {
            meteor_error(
                json!("error-invalid-user"),
                "Invalid user",
                Some(json!({"method": method})),
            )
        })
    }

    fn login(&mut self, sim: &Sim, opts: &Value) -> Result<Value, Value> {
        let r = {
            let mut st = sim.lock();
            let v = st.version;
            login(sim, &mut st, opts).map_err(|e| override_login_error(v, e))
        };
        match r {
            Ok((uid, token, when, kind)) => {
                self.user = Some((uid.clone(), sha256_hex(&token)));
                sim.ddp.set_user(self.n, Some(uid.clone()), now_ms());
                Ok(json!({"id": uid, "token": token,
                    "tokenExpires": {"$date": when + LOGIN_EXPIRATION_MS}, "type": kind}))
            }
            Err(e) => Err(e),
        }
    }

    /// accounts_server.js: the connection is closed when the token it logged in with is removed
    /// from the user (REST logout, removeOtherTokens, password change, user deleted).
    pub fn token_revoked(&self, sim: &Sim) -> bool {
        let Some((uid, hashed)) = &self.user else {
            return false;
        };
        let st = sim.lock();
        match st.user_idx_by_id(uid) {
            Some(i) => !st.users[i].tokens.iter().any(|t| &t.hashed == hashed),
            None => true,
        }
    }

    /// Stream events due on this session: every message stored since the last call that a
    /// subscription may see (REST, webhook or DDP alike: all land in `State::messages`), and
    /// every public setting changed since (streams.rs).
    pub fn due(&mut self, sim: &Sim) -> Vec<Value> {
        if self.streams.is_empty() {
            return vec![];
        }
        let st = sim.lock();
        let uid = self.user.as_ref().map(|(u, _)| u.as_str());
        self.streams.due(&st, uid)
    }
}

fn nosub(id: &Value, error: Value, reason: &str) -> Value {
    json!({"msg": "nosub", "id": id, "error": meteor_error(error, reason, None)})
}

/// A stored message as DDP carries it: EJSON dates (`{"$date": ms}`), which the SDK reads as
/// `message.ts.$date`; the emulator's own `_sim` bookkeeping stripped.
pub fn ddp_message(m: &Message) -> Value {
    let mut v = crate::message_json(m);
    if let Some(o) = v.as_object_mut() {
        o.remove("_sim");
        o.insert("ts".into(), json!({"$date": m.ts}));
        o.insert("_updatedAt".into(), json!({"$date": m.ts}));
    }
    v
}

/// canAccessRoom (apps/meteor/app/authorization/server/functions/canAccessRoom.ts), as far as
/// emulated: public channels for anyone logged in (view-c-room), other rooms for members.
pub(super) fn can_access(st: &State, rid: &str, uid: Option<&str>) -> bool {
    let (Some(uid), Some(ri)) = (uid, st.room_idx_by_id(rid)) else {
        return false;
    };
    st.rooms[ri].t == "c" || st.sub(rid, uid).is_some()
}

fn not_allowed(method: &str) -> Value {
    meteor_error(
        json!("error-not-allowed"),
        "Not allowed",
        Some(json!({"method": method})),
    )
}

/// apps/meteor/server/methods/getRoomIdByNameOrId.ts: by id, then by name; missing or not
/// accessible → error-not-allowed.
fn get_room_id(st: &State, key: &str, uid: &str) -> Result<Value, Value> {
    let ri = st
        .room_idx_by_id(key)
        .or_else(|| st.room_idx_by_name(key))
        .ok_or_else(|| not_allowed("getRoomIdByNameOrId"))?;
    let rid = st.rooms[ri].id.clone();
    if !can_access(st, &rid, Some(uid)) {
        return Err(not_allowed("getRoomIdByNameOrId"));
    }
    Ok(json!(rid))
}

/// apps/meteor/server/methods/getRoomNameById.ts: missing room → error-not-allowed; public
/// rooms and rooms the user is in → the name.
fn get_room_name(st: &State, rid: &str, uid: &str) -> Result<Value, Value> {
    let ri = st
        .room_idx_by_id(rid)
        .ok_or_else(|| not_allowed("getRoomNameById"))?;
    if !can_access(st, rid, Some(uid)) {
        return Err(not_allowed("getRoomNameById"));
    }
    Ok(json!(st.rooms[ri].name))
}

/// apps/meteor/app/lib/server/methods/joinRoom.ts: unknown room → error-invalid-room; a room
/// the user may not access → error-not-allowed; joining adds the subscription and the `uj`
/// system message (addUserToRoom); joining again changes nothing and answers no result.
fn join_room(st: &mut State, rid: &str, uid: &str) -> Result<Value, Value> {
    let ri = st.room_idx_by_id(rid).ok_or_else(|| {
        meteor_error(
            json!("error-invalid-room"),
            "Invalid room",
            Some(json!({"method": "joinRoom"})),
        )
    })?;
    if st.sub(rid, uid).is_some() {
        // addUserToRoom returns undefined for a member: the result carries no `result` field.
        return Ok(Value::Null);
    }
    if st.rooms[ri].t != "c" {
        return Err(not_allowed("joinRoom"));
    }
    crate::add_sub(st, rid, uid, vec![]);
    if let Some(ui) = st.user_idx_by_id(uid) {
        let username = st.users[ui].username.clone();
        st.messages.push(Message {
            id: random_id(17),
            rid: rid.to_string(),
            msg: username.clone(),
            uid: uid.to_string(),
            username,
            ts: now_ms(),
            extra: json!({"t": "uj", "groupable": false}),
        });
    }
    Ok(json!(true))
}

/// apps/meteor/app/lib/server/methods/sendMessage.ts: canSendMessageAsync (room exists, the user
/// can access it — public channels without joining —, not read-only for the user, not muted),
/// then the stored message (with the client's `_id` when given) is the result. The method
/// rethrows only `error-not-allowed` (as `Meteor.Error('error-not-allowed', undefined)`): every
/// other refusal (unknown room, read-only, muted) is swallowed — no error, no result, nothing
/// stored (the real server sends the user an ephemeral message instead, not emulated).
fn send_message(st: &mut State, m: &Value, uid: &str) -> Result<Value, Value> {
    let Some(rid) = m.get("rid").and_then(Value::as_str) else {
        return Ok(Value::Null);
    };
    let text = m.get("msg").and_then(Value::as_str).unwrap_or("");
    let Some(ri) = st.room_idx_by_id(rid) else {
        return Ok(Value::Null);
    };
    if !can_access(st, rid, Some(uid)) {
        return Err(json!({"isClientSafe": true, "error": "error-not-allowed",
            "message": "[error-not-allowed]", "errorType": "Meteor.Error",
            "details": {"method": "sendMessage"}}));
    }
    let Some(ui) = st.user_idx_by_id(uid) else {
        return Ok(Value::Null);
    };
    let username = st.users[ui].username.clone();
    let read_only = st.rooms[ri].ro && !st.has_permission(uid, "post-readonly", Some(rid));
    if read_only || st.rooms[ri].muted.iter().any(|u| u == &username) {
        return Ok(Value::Null);
    }
    let id = m
        .get("_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| random_id(17));
    let mut extra = serde_json::Map::new();
    for k in [
        "bot",
        "alias",
        "emoji",
        "avatar",
        "attachments",
        "groupable",
    ] {
        if let Some(v) = m.get(k) {
            extra.insert(k.to_string(), v.clone());
        }
    }
    let stored = Message {
        id,
        rid: rid.to_string(),
        msg: text.to_string(),
        uid: uid.to_string(),
        username,
        ts: now_ms(),
        extra: Value::Object(extra),
    };
    let out = ddp_message(&stored);
    st.messages.push(stored);
    Ok(out)
}

/// `check(arg, String)` on the first parameter.
fn string_arg(params: &[Value]) -> Result<&str, Value> {
    params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(match_failed)
}

/// check() failures: `Match.Error` → Meteor.Error(400, 'Match failed').
fn match_failed() -> Value {
    meteor_error(json!(400), "Match failed", None)
}

/// The `login` method: Meteor's password and resume handlers (accounts-password
/// password_server.js, accounts-base accounts_server.js) plus Rocket.Chat's validateLoginAttempt
/// (inactive users) and 2FA (apps/meteor/app/2fa/server/loginHandler.ts). Ok = (user id, token,
/// token time, handler type).
fn login(
    sim: &Sim,
    st: &mut State,
    opts: &Value,
) -> Result<(String, String, u64, &'static str), Value> {
    let forbidden = |reason: &str| meteor_error(json!(403), reason, None);
    if !opts.is_object() {
        return Err(match_failed());
    }
    if let Some(tok) = opts.get("resume") {
        let tok = tok.as_str().ok_or_else(match_failed)?;
        let h = sha256_hex(tok);
        let found = st
            .users
            .iter()
            .enumerate()
            .find_map(|(i, u)| u.tokens.iter().find(|t| t.hashed == h).map(|t| (i, t.when)));
        let Some((idx, when)) = found else {
            return Err(forbidden(
                "You've been logged out by the server. Please log in again.",
            ));
        };
        check_active(st, idx)?;
        return Ok((st.users[idx].id.clone(), tok.to_string(), when, "resume"));
    }
    // Rocket.Chat 2FA clients wrap the password login: {totp: {login: {...}, code}}.
    let (inner, code) = match opts.get("totp") {
        Some(t) => (
            t.get("login").cloned().unwrap_or(Value::Null),
            t.get("code").and_then(Value::as_str).map(str::to_string),
        ),
        None => (opts.clone(), None),
    };
    let Some(password) = inner.get("password") else {
        return Err(meteor_error(
            json!(400),
            "Unrecognized options for login request",
            None,
        ));
    };
    let digest = match password {
        Value::String(p) => sha256_hex(p),
        Value::Object(o) => {
            // passwordValidator (password_server.js): `digest` a String of length 64 and
            // `algorithm: Match.OneOf('sha-256')`; anything else fails check() → Match failed.
            if o.get("algorithm").and_then(Value::as_str) != Some("sha-256") {
                return Err(match_failed());
            }
            let d = o
                .get("digest")
                .and_then(Value::as_str)
                .ok_or_else(match_failed)?;
            if d.chars().count() != 64 {
                return Err(match_failed());
            }
            d.to_lowercase()
        }
        _ => return Err(match_failed()),
    };
    // userQueryValidator: exactly one of id / username / email, non-empty strings.
    let user = inner
        .get("user")
        .and_then(Value::as_object)
        .ok_or_else(match_failed)?;
    let fields: Vec<(&String, &str)> = user
        .iter()
        .filter_map(|(k, v)| v.as_str().filter(|s| !s.is_empty()).map(|s| (k, s)))
        .collect();
    let [(field, value)] = fields.as_slice() else {
        return Err(match_failed());
    };
    let idx = match field.as_str() {
        "id" => st.user_idx_by_id(value),
        "username" => st.user_idx_by_username(value),
        "email" => st.user_idx_by_email(value),
        _ => return Err(match_failed()),
    };
    let Some(idx) = idx else {
        return Err(forbidden("User not found"));
    };
    let Some(stored) = st.users[idx].password_digest.clone() else {
        return Err(forbidden("User has no password set"));
    };
    if stored != digest {
        return Err(forbidden("Incorrect password"));
    }
    check_active(st, idx)?;
    if st.setting_bool("Accounts_TwoFactorAuthentication_Enabled") && sim.email_2fa_enabled(st, idx)
    {
        let details = json!({"method": "email", "codeGenerated": true,
            "emailOrUsername": st.users[idx].username, "availableMethods": ["email"]});
        match code {
            None => {
                if st.users[idx].email_code.is_none() {
                    st.users[idx].email_code = Some(crate::random_from(b"0123456789", 6));
                }
                return Err(meteor_error(
                    json!("totp-required"),
                    "TOTP Required",
                    Some(details),
                ));
            }
            Some(c) => {
                let digits: String = c.chars().filter(char::is_ascii_digit).collect();
                if st.users[idx].email_code.as_deref() != Some(digits.as_str()) {
                    return Err(meteor_error(
                        json!("totp-invalid"),
                        "TOTP Invalid",
                        Some(details),
                    ));
                }
                st.users[idx].email_code = None;
            }
        }
    }
    let token = st.add_login_token(idx);
    Ok((st.users[idx].id.clone(), token, now_ms(), "password"))
}

/// Rocket.Chat's apps/meteor/app/lib/server/lib/loginErrorMessageOverride wraps
/// `Accounts._runLoginHandlers`, so it rewrites what the login handlers answer (password, resume,
/// "Unrecognized options"), never what validateLoginAttempt throws later (totp-required,
/// error-user-is-not-activated) nor check()'s Match failed (not a Meteor.Error). Per line:
/// - 6.13: nothing. The `.js` @ 662116cc reads `result.error` off what `_runLoginHandlers`
///   returns, a Promise since Meteor 2.9 (async), so its "Incorrect password" → 403 "User not
///   found" never applies (PR #32086: "thwarting our efforts", fixed for 7.0 only): Meteor's own
///   403 texts come through, as on REST (auth.rs);
/// - `.ts` @ aa405742 (7.10): every handler Meteor.Error → 401 "User not found";
/// - 8.1: the same (the "Incorrect login or password" text of a `.ts` @ 37dee7b1 is in no
///   released file the second reading found: issue #37760's fix PRs were still open; auth.rs).
fn override_login_error(v: Version, e: Value) -> Value {
    let reason = e["reason"].as_str().unwrap_or("");
    if reason == "Match failed" || !e["error"].is_number() {
        return e;
    }
    match v {
        Version::V6_13 => e,
        Version::V7_10 | Version::V8_1 => meteor_error(json!(401), "User not found", None),
    }
}

/// apps/meteor/server/lib/accounts.ts validateLoginAttempt: deactivated users are refused.
fn check_active(st: &State, idx: usize) -> Result<(), Value> {
    if st.users[idx].active {
        return Ok(());
    }
    Err(meteor_error(
        json!("error-user-is-not-activated"),
        "User is not activated",
        Some(json!({"function": "Accounts.validateLoginAttempt"})),
    ))
}
