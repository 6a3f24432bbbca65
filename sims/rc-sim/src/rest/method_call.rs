//! REST: method.call/muteUserInRoom and unmuteUserInRoom (apps/meteor/app/api/server/v1/misc.ts).

use crate::*;
use serde_json::{json, Value};

/// method.call/:method (apps/meteor/app/api/server/v1/misc.ts): DDP message in `message`,
/// DDP result out as a JSON string; method errors are reported inside `message`.
pub(crate) fn method_call(
    st: &mut State,
    req: &Req,
    uid: &str,
    mute: bool,
) -> Result<Value, ApiErr> {
    let msg = str_field(&req.body, "message")
        .ok_or_else(|| invalid_params("must have required property 'message'"))?;
    let ddp: Value = serde_json::from_str(&msg).map_err(|_| failure("Invalid message"))?;
    let id = ddp.get("id").cloned().unwrap_or(json!("1"));
    let p = ddp
        .get("params")
        .and_then(|p| p.get(0))
        .cloned()
        .unwrap_or(json!({}));
    let rid = str_field(&p, "rid").unwrap_or_default();
    let username = str_field(&p, "username").unwrap_or_default();
    let result: Result<(), (String, String)> = (|| {
        // apps/meteor/server/methods/muteUserInRoom.ts
        if !st.has_permission(uid, "mute-user", Some(&rid)) {
            return Err(("error-not-allowed".into(), "Not allowed".into()));
        }
        // muteUserInRoom.ts @ 16a239a8: room, then the subscription found BY USERNAME, then
        // the user: an unknown username is `error-user-not-in-room`.
        let ri = st
            .room_idx_by_id(&rid)
            .ok_or(("error-invalid-room".to_string(), "Invalid room".to_string()))?;
        let not_in_room = || {
            (
                "error-user-not-in-room".to_string(),
                "User is not in this room".to_string(),
            )
        };
        let ui = st.user_idx_by_username(&username).ok_or_else(not_in_room)?;
        let tid = st.users[ui].id.clone();
        if st.sub(&rid, &tid).is_none() {
            return Err(not_in_room());
        }
        // Rooms model (id 11533250558): mute = $addToSet muted + $pull unmuted, in a read-only
        // room only $pull unmuted; unmute = $pull muted, in a read-only room also $addToSet
        // unmuted (the user may then post there).
        let name = st.users[ui].username.clone();
        let room = &mut st.rooms[ri];
        room.unmuted.retain(|m| m != &name);
        if mute {
            if !room.ro && !room.muted.contains(&name) {
                room.muted.push(name);
            }
        } else {
            room.muted.retain(|m| m != &name);
            if room.ro {
                room.unmuted.push(name);
            }
        }
        Ok(())
    })();
    let out = match result {
        Ok(()) => json!({"msg": "result", "id": id, "result": true}),
        Err((code, reason)) => json!({"msg": "result", "id": id, "error": {
            "isClientSafe": true, "error": code, "reason": reason, "message": format!("{reason} [{code}]"), "errorType": "Meteor.Error"}}),
    };
    ok(json!({"message": out.to_string()}))
}

pub(crate) fn h_mute(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    method_call(st, req, uid, true)
}

pub(crate) fn h_unmute(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    method_call(st, req, uid, false)
}
