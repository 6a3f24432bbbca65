//! DDP over a websocket at `/websocket`: enough of Rocket.Chat's realtime API for the published
//! Hubot adapters (hubot-rocketchat 2.0.0 on @rocket.chat/sdk 0.1 and asteroid 0.6.1, and 1.0.12)
//! and the presence that follows their sessions.
//!
//! Sources (see the ledger in README.md): Meteor's DDP spec and ddp-server (framing of `connect`,
//! `ping`, `sub`, `method`, heartbeats), accounts-base / accounts-password (login, resume, the
//! observer that closes a connection whose token is removed), Rocket.Chat's streamer
//! (`stream-room-messages`, `__my_messages__`), its methods (getRoomIdByNameOrId, joinRoom,
//! getRoomNameById, sendMessage) and its presence (connectionStatus, PR #32500).
//!
//! Layout: [`frontdoor`] owns the public port and hands websocket upgrades to [`session`],
//! everything else to tiny_http; [`methods`] holds the DDP methods, [`streams`] the stream
//! subscriptions; this file keeps the shared
//! [`Hub`] (live sessions → presence) and the REST routes that read it.

pub mod frontdoor;
pub mod methods;
pub mod session;
pub mod streams;
#[cfg(test)]
mod tests_notify;

use crate::{ok, sha256_hex, ApiErr, Req, Sim, State};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Meteor ddp-server livedata_server.js: `heartbeatInterval: 15000, heartbeatTimeout: 15000`.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// Live DDP sessions, shared by every connection thread and the REST handlers.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<HubState>,
}

#[derive(Default)]
struct HubState {
    next: u64,
    /// session number → the user logged in on it (None: connected, not logged in).
    sessions: HashMap<u64, Option<String>>,
    /// user id → when its last logged-in session went away (ms since the epoch).
    offline_since: HashMap<String, u64>,
    /// user id → its last successful DDP login (ms since the epoch).
    last_login: HashMap<String, u64>,
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new websocket session; returns its number.
    pub fn open(&self) -> u64 {
        let mut h = self.lock();
        h.next += 1;
        let n = h.next;
        h.sessions.insert(n, None);
        n
    }

    /// How many websocket sessions were opened since the start (test inspection).
    pub fn opened(&self) -> u64 {
        self.lock().next
    }

    /// The session logged in (Some) or out (None).
    pub fn set_user(&self, n: u64, uid: Option<String>, now: u64) {
        let mut h = self.lock();
        let old = h.sessions.get(&n).cloned().flatten();
        if let Some(u) = &uid {
            h.last_login.insert(u.clone(), now);
        }
        h.sessions.insert(n, uid);
        if let Some(o) = old {
            mark_offline_if_last(&mut h, &o, now);
        }
    }

    /// The session ended (closed by either side or after missed heartbeats).
    pub fn close(&self, n: u64, now: u64) {
        let mut h = self.lock();
        if let Some(Some(uid)) = h.sessions.remove(&n) {
            mark_offline_if_last(&mut h, &uid, now);
        }
    }

    /// Rocket.Chat's `statusConnection`: online while at least one logged-in session lives.
    pub fn online(&self, uid: &str) -> bool {
        self.lock()
            .sessions
            .values()
            .any(|u| u.as_deref() == Some(uid))
    }

    pub fn offline_since(&self, uid: &str) -> Option<u64> {
        self.lock().offline_since.get(uid).copied()
    }

    pub fn last_login(&self, uid: &str) -> Option<u64> {
        self.lock().last_login.get(uid).copied()
    }

    /// Live sessions (any user), for `/_sim/`-style inspection in tests.
    pub fn session_count(&self) -> usize {
        self.lock().sessions.len()
    }
}

fn mark_offline_if_last(h: &mut HubState, uid: &str, now: u64) {
    if !h.sessions.values().any(|u| u.as_deref() == Some(uid)) {
        h.offline_since.insert(uid.to_string(), now);
    }
}

/// Heartbeat interval (= timeout, as Meteor's defaults): `RC_SIM_DDP_HEARTBEAT` (e.g. `2s`) in
/// rc-sim's environment, else 15 s. Tests shorten it to show a frozen client going offline.
pub fn heartbeat(sim: &Sim) -> Duration {
    sim.cfg
        .env
        .get("RC_SIM_DDP_HEARTBEAT")
        .and_then(|v| crate::parse_duration(v).ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_HEARTBEAT)
}

/// `GET /api/v1/users.getPresence` (apps/meteor/app/api/server/v1/users.ts): for the caller
/// itself (no userId/username/user, or the caller's own) `{presence, connectionStatus,
/// lastLogin}`; for another user only `{presence}`.
pub fn h_users_get_presence(
    sim: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let q = |k: &str| req.query.get(k).filter(|v| !v.is_empty()).cloned();
    let target = match (q("userId"), q("username").or_else(|| q("user"))) {
        (None, None) => uid.to_string(),
        (Some(id), _) => id,
        (None, Some(name)) => match st.user_idx_by_username(&name) {
            Some(i) => st.users[i].id.clone(),
            None => return Err(invalid_user()),
        },
    };
    let Some(idx) = st.user_idx_by_id(&target) else {
        return Err(invalid_user());
    };
    let online = sim.ddp.online(&target);
    let status = if online { "online" } else { "offline" };
    if target != uid {
        return ok(json!({"presence": status}));
    }
    let mut v = json!({"presence": status, "connectionStatus": status});
    // Users.updateLastLoginById runs on every login (REST or DDP): the newest login token's
    // time, or the newest DDP login, whichever is later.
    let token_login = st.users[idx].tokens.iter().map(|t| t.when).max();
    let last = token_login.max(sim.ddp.last_login(&target));
    if let Some(ms) = last {
        v["lastLogin"] = json!(crate::iso(ms));
    }
    ok(v)
}

/// apps/meteor/app/api/server/helpers/getUserFromParams.ts
fn invalid_user() -> ApiErr {
    crate::meteor_err(
        "error-invalid-user",
        "The required \"userId\" or \"username\" param provided does not match any users",
        None,
    )
}

/// `POST /api/v1/users.removeOtherTokens` → Meteor `removeOtherTokens`
/// (packages/accounts-base/accounts_server.js): every login token but the caller's is pulled;
/// DDP sessions that used one of them are then closed by their own token check
/// ([`session`]), as Meteor's observer on `services.resume.loginTokens` does.
pub fn h_users_remove_other_tokens(
    _: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let mine = sha256_hex(
        req.headers
            .get("x-auth-token")
            .map(String::as_str)
            .unwrap_or(""),
    );
    if let Some(i) = st.user_idx_by_id(uid) {
        st.users[i].tokens.retain(|t| t.hashed == mine);
    }
    ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::frontdoor::is_websocket_line;
    use super::Hub;

    #[test]
    fn online_while_any_logged_in_session_of_the_user_lives() {
        let hub = Hub::default();
        let a = hub.open();
        let b = hub.open();
        assert!(
            !hub.online("u1"),
            "connected but not logged in does not count"
        );
        hub.set_user(a, Some("u1".into()), 10);
        hub.set_user(b, Some("u1".into()), 20);
        assert_eq!(hub.last_login("u1"), Some(20));
        hub.close(a, 30);
        assert!(hub.online("u1"), "the second session still lives");
        assert_eq!(hub.offline_since("u1"), None);
        hub.set_user(b, None, 40); // logout
        assert!(!hub.online("u1"));
        assert_eq!(hub.offline_since("u1"), Some(40));
        hub.close(b, 50);
        assert_eq!(hub.offline_since("u1"), Some(40), "already offline");
        assert_eq!(hub.session_count(), 0);
    }

    #[test]
    fn only_websocket_paths_are_taken_from_tiny_http() {
        assert!(is_websocket_line("GET /websocket HTTP/1.1\r"));
        assert!(is_websocket_line("GET /websocket?x=1 HTTP/1.1"));
        assert!(is_websocket_line(
            "GET /sockjs/123/abcdefgh/websocket HTTP/1.1"
        ));
        assert!(!is_websocket_line("POST /websocket HTTP/1.1"));
        assert!(!is_websocket_line("GET /api/v1/me HTTP/1.1"));
        assert!(!is_websocket_line("GET /websocketx HTTP/1.1"));
        assert!(!is_websocket_line("GET /sockjs/info HTTP/1.1"));
        assert!(!is_websocket_line(""));
    }
}
