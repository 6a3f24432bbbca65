//! The data model: users, rooms, subscriptions, messages, integrations, and the state that
//! holds them; plus their JSON views.

use crate::*;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Instant;

#[derive(Clone, Debug)]
pub struct LoginToken {
    pub hashed: String,
    pub when: u64,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub name: String,
    pub emails: Vec<(String, bool)>,
    /// sha256 hex of the password: Meteor clients send this digest, the server bcrypts it.
    pub password_digest: Option<String>,
    pub roles: Vec<String>,
    pub active: bool,
    pub kind: String,
    pub created_at: u64,
    pub tokens: Vec<LoginToken>,
    pub email2fa: bool,
    /// Last generated e-mail 2FA code (the real server mails it; exposed via /_sim/).
    pub email_code: Option<String>,
    pub require_password_change: bool,
}

#[derive(Clone, Debug)]
pub struct Room {
    pub id: String,
    pub name: String,
    pub t: String,
    pub owner: (String, String),
    pub ts: u64,
    pub ro: bool,
    pub muted: Vec<String>,
    /// Read-only rooms: users unmuted by hand, who may post (canSendMessage.ts).
    pub unmuted: Vec<String>,
    pub default: bool,
    /// Set only through the test route /_sim/rooms/<name>/archive.
    pub archived: bool,
}

#[derive(Clone, Debug)]
pub struct Subscription {
    pub id: String,
    pub rid: String,
    pub uid: String,
    pub roles: Vec<String>,
    pub ts: u64,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub id: String,
    pub rid: String,
    pub msg: String,
    pub uid: String,
    pub username: String,
    pub ts: u64,
    pub extra: Value,
}

pub struct State {
    pub version: Version,
    pub settings: Map<String, Value>,
    pub users: Vec<User>,
    pub rooms: Vec<Room>,
    pub subs: Vec<Subscription>,
    pub messages: Vec<Message>,
    pub integrations: Vec<Integration>,
    pub rate: HashMap<String, RateRule>,
    /// server_events: failed/successful logins for the brute-force protection.
    pub logins: login_block::Events,
    pub started: Instant,
    pub max_tokens: usize,
    /// 2FA remembered after a good code: (hashed login token, IP, user agent) → until (ms).
    pub two_factor_until: HashMap<String, u64>,
    /// Changes of public settings, in order, as `{_id, value}` (settings.rs update_setting):
    /// what `public-settings-changed` subscribers are pushed (ddp/methods.rs).
    pub setting_changes: Vec<Value>,
}

pub(crate) fn user_json(u: &User, full: bool) -> Value {
    let mut v = json!({
        "_id": u.id, "username": u.username, "name": u.name, "type": u.kind,
        "status": "offline", "active": u.active, "utcOffset": 0,
        "roles": u.roles, "createdAt": iso(u.created_at), "_updatedAt": iso(u.created_at),
    });
    if full {
        v["emails"] = Value::Array(
            u.emails
                .iter()
                .map(|(a, ver)| json!({"address": a, "verified": ver}))
                .collect(),
        );
        if u.require_password_change {
            v["requirePasswordChange"] = json!(true);
        }
    }
    v
}

pub(crate) fn room_json(st: &State, r: &Room) -> Value {
    let count = st.subs.iter().filter(|s| s.rid == r.id).count();
    let msgs = st.messages.iter().filter(|m| m.rid == r.id).count();
    let mut v = json!({
        "_id": r.id, "name": r.name, "fname": r.name, "t": r.t, "usersCount": count,
        "msgs": msgs, "ts": iso(r.ts), "_updatedAt": iso(r.ts), "ro": r.ro,
        "default": r.default, "sysMes": true, "muted": r.muted,
    });
    if !r.unmuted.is_empty() {
        v["unmuted"] = json!(r.unmuted);
    }
    if r.archived {
        v["archived"] = json!(true);
    }
    if !r.owner.0.is_empty() {
        v["u"] = json!({"_id": r.owner.0, "username": r.owner.1});
    }
    v
}

pub(crate) fn sub_json(st: &State, s: &Subscription) -> Value {
    let r = st.room_idx_by_id(&s.rid).map(|i| &st.rooms[i]);
    let u = st.user_idx_by_id(&s.uid).map(|i| &st.users[i]);
    let mut v = json!({
        "_id": s.id, "rid": s.rid, "name": r.map(|r| r.name.clone()), "fname": r.map(|r| r.name.clone()),
        "t": r.map(|r| r.t.clone()), "u": {"_id": s.uid, "username": u.map(|u| u.username.clone())},
        "open": true, "alert": false, "unread": 0, "ts": iso(s.ts), "ls": iso(s.ts), "_updatedAt": iso(s.ts),
    });
    if !s.roles.is_empty() {
        v["roles"] = json!(s.roles);
    }
    v
}

pub(crate) fn message_json(m: &Message) -> Value {
    let mut v = json!({
        "_id": m.id, "rid": m.rid, "msg": m.msg, "ts": iso(m.ts), "_updatedAt": iso(m.ts),
        "u": {"_id": m.uid, "username": m.username},
    });
    if let (Some(o), Value::Object(extra)) = (v.as_object_mut(), &m.extra) {
        for (k, val) in extra {
            o.insert(k.clone(), val.clone());
        }
    }
    v
}

pub(crate) fn me_json(st: &State, idx: usize) -> Value {
    let mut v = user_json(&st.users[idx], true);
    v["settings"] = json!({"preferences": {}});
    v
}

pub(crate) fn add_sub(st: &mut State, rid: &str, uid: &str, roles: Vec<String>) {
    if st.sub(rid, uid).is_none() {
        st.subs.push(Subscription {
            id: random_id(17),
            rid: rid.to_string(),
            uid: uid.to_string(),
            roles,
            ts: now_ms(),
        });
    }
}

impl State {
    pub fn new(cfg: &Config) -> State {
        let root = cfg
            .root_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{}", cfg.port));
        let mut settings = default_settings(cfg.version, &root);
        if let Some(n) = cfg.rate_limit_calls {
            settings.insert(
                "API_Enable_Rate_Limiter_Limit_Calls_Default".into(),
                json!(n),
            );
        }
        if let Some(w) = cfg.rate_limit_window {
            settings.insert(
                "API_Enable_Rate_Limiter_Limit_Time_Default".into(),
                json!(w.as_millis() as u64),
            );
        }
        for (k, v) in &cfg.settings {
            settings.insert(k.clone(), setting_value(v));
        }
        // apps/meteor/app/settings/server/functions/overwriteSetting.ts:
        // OVERWRITE_SETTING_<id>=value wins over stored values at start.
        for (k, v) in &cfg.env {
            if let Some(id) = k.strip_prefix("OVERWRITE_SETTING_") {
                settings.insert(id.to_string(), setting_value(v));
            }
        }
        // apps/meteor/server/lib/accounts.ts: MAX_RESUME_LOGIN_TOKENS env, default 50.
        let max_tokens = cfg
            .env
            .get("MAX_RESUME_LOGIN_TOKENS")
            .and_then(|v| v.parse().ok())
            .filter(|n: &usize| *n > 0)
            .unwrap_or(50);
        let mut st = State {
            version: cfg.version,
            settings,
            users: vec![],
            rooms: vec![],
            subs: vec![],
            messages: vec![],
            integrations: vec![],
            rate: HashMap::new(),
            logins: login_block::Events::default(),
            started: Instant::now(),
            max_tokens,
            two_factor_until: HashMap::new(),
            setting_changes: vec![],
        };
        // apps/meteor/server/startup/initialData.ts: the GENERAL room and rocket.cat (bot).
        st.rooms.push(Room {
            id: "GENERAL".into(),
            name: "general".into(),
            t: "c".into(),
            owner: (String::new(), String::new()),
            ts: now_ms(),
            ro: false,
            muted: vec![],
            unmuted: vec![],
            default: true,
            archived: false,
        });
        st.users.push(User {
            id: "rocket.cat".into(),
            username: "rocket.cat".into(),
            name: "Rocket.Cat".into(),
            emails: vec![],
            password_digest: None,
            roles: vec!["bot".into()],
            active: true,
            kind: "bot".into(),
            created_at: now_ms(),
            tokens: vec![],
            email2fa: false,
            email_code: None,
            require_password_change: false,
        });
        st
    }

    pub fn user_idx_by_id(&self, id: &str) -> Option<usize> {
        self.users.iter().position(|u| u.id == id)
    }

    pub fn user_idx_by_username(&self, name: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.username.eq_ignore_ascii_case(name))
    }

    pub(crate) fn user_idx_by_email(&self, email: &str) -> Option<usize> {
        self.users
            .iter()
            .position(|u| u.emails.iter().any(|(a, _)| a.eq_ignore_ascii_case(email)))
    }

    pub fn room_idx_by_name(&self, name: &str) -> Option<usize> {
        self.rooms.iter().position(|r| r.name == name)
    }

    pub fn room_idx_by_id(&self, id: &str) -> Option<usize> {
        self.rooms.iter().position(|r| r.id == id)
    }

    pub fn sub(&self, rid: &str, uid: &str) -> Option<&Subscription> {
        self.subs.iter().find(|s| s.rid == rid && s.uid == uid)
    }

    /// apps/meteor/app/authorization/server/functions/hasPermission.ts: global roles of the
    /// user plus, for a room scope, the roles of the user's subscription (owner, moderator).
    pub fn has_permission(&self, uid: &str, perm: &str, rid: Option<&str>) -> bool {
        let allowed = permission_roles(perm);
        let Some(u) = self.user_idx_by_id(uid).map(|i| &self.users[i]) else {
            return false;
        };
        if u.roles.iter().any(|r| allowed.contains(&r.as_str())) {
            return true;
        }
        if let Some(rid) = rid {
            if let Some(s) = self.sub(rid, uid) {
                return s.roles.iter().any(|r| allowed.contains(&r.as_str()));
            }
        }
        false
    }

    pub(crate) fn admin_exists(&self) -> bool {
        self.users
            .iter()
            .any(|u| u.roles.iter().any(|r| r == "admin"))
    }
}
