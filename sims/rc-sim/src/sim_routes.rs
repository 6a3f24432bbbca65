//! `/_sim/...`: NOT Rocket.Chat. Test-only inspection routes.

use crate::*;
use serde_json::{json, Value};

impl Sim {
    /// NOT Rocket.Chat: inspection routes for tests.
    pub(crate) fn sim_route(&self, rest: &str) -> Resp {
        let mut st = self.lock();
        let parts: Vec<String> = rest.split('/').map(percent_decode).collect();
        match parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["users", name] => match st.user_idx_by_username(name) {
                Some(i) => {
                    let u = &st.users[i];
                    Resp::json(
                        200,
                        json!({
                            "_id": u.id, "username": u.username, "roles": u.roles,
                            "loginTokens": u.tokens.len(),
                            "emails": u.emails.iter().map(|(a, v)| json!({"address": a, "verified": v})).collect::<Vec<_>>(),
                            "2fa": {"email2fa": u.email2fa, "emailCode": u.email_code},
                            "active": u.active, "type": u.kind, "created_ms": u.created_at,
                        }),
                    )
                }
                None => Resp::json(404, json!({"error": "no such user"})),
            },
            ["rooms", name, "messages"] => match st.room_idx_by_name(name) {
                Some(i) => {
                    let rid = &st.rooms[i].id;
                    let msgs: Vec<Value> = st
                        .messages
                        .iter()
                        .filter(|m| &m.rid == rid)
                        .map(message_json)
                        .collect();
                    Resp::json(200, json!({"messages": msgs}))
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["rooms", name] => match st.room_idx_by_name(name) {
                Some(i) => {
                    let r = &st.rooms[i];
                    let members: Vec<Value> = st
                        .subs
                        .iter()
                        .filter(|s| s.rid == r.id)
                        .map(|s| {
                            let un = st
                                .user_idx_by_id(&s.uid)
                                .map(|i| st.users[i].username.clone());
                            json!({"username": un, "roles": s.roles})
                        })
                        .collect();
                    let mut v = room_json(&st, r);
                    v["members"] = json!(members);
                    Resp::json(200, v)
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["rooms", name, "archive"] => match st.room_idx_by_name(name) {
                Some(i) => {
                    st.rooms[i].archived = true;
                    Resp::json(200, json!({"archived": name}))
                }
                None => Resp::json(404, json!({"error": "no such room"})),
            },
            ["logins"] => Resp::json(
                200,
                json!({"failed": st.logins.failed_total, "succeeded": st.logins.ok_total}),
            ),
            ["settings"] => Resp::json(200, Value::Object(st.settings.clone())),
            ["ddp"] => Resp::json(200, json!({"opened": self.ddp.opened()})),
            ["integrations"] => Resp::json(200, {
                let list: Vec<Value> = st.integrations.iter().map(Integration::to_json).collect();
                json!({"integrations": list})
            }),
            _ => Resp::json(404, json!({"error": "unknown /_sim/ route"})),
        }
    }
}
