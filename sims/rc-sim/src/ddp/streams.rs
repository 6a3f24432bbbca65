//! Rocket.Chat's streams over DDP (apps/meteor/server/modules/streamer/streamer.module.ts):
//! `stream-room-messages` for the Hubot adapters and `stream-notify-all` /
//! `public-settings-changed` for rc-bootstrap's 6.x admin wait. A subscription keeps a cursor
//! into what the state has recorded (`State::messages`, `State::setting_changes`); the session
//! loop asks for what is due every tick (session.rs).

use super::methods::{can_access, ddp_message};
use crate::{Message, State};
use serde_json::{json, Value};

const STREAM: &str = "stream-room-messages";
const MY_MESSAGES: &str = "__my_messages__";
/// notifications.module.ts: `streamAll` (Streamer 'notify-all'), allowRead('all').
const NOTIFY_ALL: &str = "stream-notify-all";
const PUBLIC_SETTINGS: &str = "public-settings-changed";

struct StreamSub {
    id: String,
    /// STREAM or NOTIFY_ALL.
    collection: &'static str,
    event: String,
    /// Index of the first entry not yet looked at: in `State::messages` (STREAM) or
    /// `State::setting_changes` (NOTIFY_ALL).
    cursor: usize,
}

/// The stream subscriptions of one session.
#[derive(Default)]
pub struct Streams {
    subs: Vec<StreamSub>,
}

impl Streams {
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    pub fn unsubscribe(&mut self, id: &Value) {
        self.subs.retain(|s| json!(s.id) != *id);
    }

    /// The answer to `sub <name> <params>` when `name` is a stream; None otherwise.
    pub fn subscribe(
        &mut self,
        st: &State,
        uid: Option<&str>,
        id: &Value,
        name: &str,
        params: &[Value],
    ) -> Option<Vec<Value>> {
        let (collection, cursor) = match name {
            STREAM => (STREAM, st.messages.len()),
            // Only changes made after the subscription are pushed (no initial state).
            NOTIFY_ALL => (NOTIFY_ALL, st.setting_changes.len()),
            _ => return None,
        };
        let event = params.first().and_then(Value::as_str).unwrap_or("");
        if event.is_empty() {
            return Some(vec![streamer_refusal(id, "invalid-event-name")]);
        }
        let allowed = match collection {
            // allowRead: `__my_messages__` 'all'; a room id needs access to the room.
            STREAM => event == MY_MESSAGES || can_access(st, event, uid),
            // allowRead('all') for every event but private-settings-changed, which needs a
            // logged-in user with a settings permission; rc-sim never emits it.
            _ => event != "private-settings-changed" || uid.is_some(),
        };
        if !allowed {
            return Some(vec![streamer_refusal(id, "not-allowed")]);
        }
        self.subs.push(StreamSub {
            id: id
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| id.to_string()),
            collection,
            event: event.to_string(),
            cursor,
        });
        let mut out = vec![];
        // "Collection compatibility": sendAdded(subscriptionName, 'id', {eventName}).
        if use_collection(params.get(1)) {
            out.push(json!({"msg": "added", "collection": collection, "id": "id",
                "fields": {"eventName": event}}));
        }
        out.push(json!({"msg": "ready", "subs": [id]}));
        Some(out)
    }

    /// The `changed` messages due since the last call, in order.
    pub fn due(&mut self, st: &State, uid: Option<&str>) -> Vec<Value> {
        let mut out = vec![];
        for sub in &mut self.subs {
            if sub.collection == NOTIFY_ALL {
                // listeners.module.ts watch.settings: notifyAllInThisInstance(
                // 'public-settings-changed', clientAction, value) — 'updated' for an update.
                if sub.event == PUBLIC_SETTINGS {
                    for change in st.setting_changes.iter().skip(sub.cursor) {
                        out.push(
                            json!({"msg": "changed", "collection": NOTIFY_ALL, "id": "id",
                            "fields": {"eventName": PUBLIC_SETTINGS, "args": ["updated", change]}}),
                        );
                    }
                }
                sub.cursor = st.setting_changes.len();
                continue;
            }
            if sub.cursor > st.messages.len() {
                sub.cursor = st.messages.len();
            }
            for m in &st.messages[sub.cursor..] {
                if let Some(args) = stream_args(st, &sub.event, m, uid) {
                    out.push(json!({"msg": "changed", "collection": STREAM, "id": "id",
                        "fields": {"eventName": sub.event, "args": args}}));
                }
            }
            sub.cursor = st.messages.len();
        }
        out
    }
}

/// streamer.module.ts _publish: the second param is `useCollection` (boolean) or
/// `{useCollection, args}`.
fn use_collection(param: Option<&Value>) -> bool {
    match param {
        Some(Value::Bool(b)) => *b,
        Some(o) => o.get("useCollection") == Some(&json!(true)),
        None => false,
    }
}

/// The Streamer's refusals: core-services' `MeteorError(error)` (`super(String(error))`, no
/// reason), so the client gets `{error, message: error}` and no `reason`
/// (docs/reviews/rc-sim-ddp.md row 13; second-reading-ddp-settings.md reads `[error]` as the
/// message: the two readings disagree on that text, nobody here reads it).
fn streamer_refusal(id: &Value, error: &str) -> Value {
    json!({"msg": "nosub", "id": id, "error": {"isClientSafe": true, "error": error,
        "message": error, "errorType": "Meteor.Error"}})
}

/// The `args` of one stream event, or None when the subscriber may not see it.
/// `__my_messages__`: notifications.module.ts allowEmit → `[message, {roomParticipant, roomType,
/// roomName}]`, nothing without a user or room access; a room id: `[message]`.
fn stream_args(st: &State, event: &str, m: &Message, uid: Option<&str>) -> Option<Value> {
    if m.extra.get("_hidden") == Some(&json!(true)) {
        return None;
    }
    if event == MY_MESSAGES {
        let uid = uid?;
        let ri = st.room_idx_by_id(&m.rid)?;
        if !can_access(st, &m.rid, Some(uid)) {
            return None;
        }
        let r = &st.rooms[ri];
        let meta = json!({"roomParticipant": st.sub(&r.id, uid).is_some(),
            "roomType": r.t, "roomName": r.name});
        return Some(json!([ddp_message(m), meta]));
    }
    (m.rid == event).then(|| json!([ddp_message(m)]))
}
