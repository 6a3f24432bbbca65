//! REST: channels.*, groups.*, rooms.info, subscriptions.getOne.

use crate::*;
use serde_json::{json, Value};

/// The channels.* and groups.* twins of one endpoint: the same code for public ("c") and
/// private ("p") rooms; `room` answers the room under `channel` / `group`, as Rocket.Chat does.
macro_rules! per_room_type {
    ($c:ident, $g:ident: room $call:expr) => {
        per_room_type!(@ $c, "c", |st, i| ok(json!({"channel": room_json(st, &st.rooms[i])})), $call);
        per_room_type!(@ $g, "p", |st, i| ok(json!({"group": room_json(st, &st.rooms[i])})), $call);
    };
    ($c:ident, $g:ident: $call:expr) => {
        per_room_type!(@ $c, "c", |_, r| Ok(r), $call);
        per_room_type!(@ $g, "p", |_, r| Ok(r), $call);
    };
    (@ $name:ident, $t:literal, |$st2:pat_param, $r:ident| $answer:expr, $call:expr) => {
        pub(crate) fn $name(
            _: &Sim,
            st: &mut State,
            req: &Req,
            uid: &str,
        ) -> Result<Value, ApiErr> {
            let call: fn(&mut State, &Req, &str, &'static str) -> Result<_, ApiErr> = $call;
            let $r = call(st, req, uid, $t)?;
            let $st2 = &*st;
            $answer
        }
    };
}

/// apps/meteor/app/lib/server/functions/createRoom.ts + app/utils/server/lib/getValidRoomName.ts
pub(crate) fn create_room(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    reject_unknown(
        &req.body,
        &[
            "name",
            "members",
            "readOnly",
            "extraData",
            "customFields",
            "excludeSelf",
        ],
    )?;
    let name = str_field(&req.body, "name")
        .ok_or_else(|| invalid_params("must have required property 'name'"))?;
    let perm = if t == "c" { "create-c" } else { "create-p" };
    if !st.has_permission(uid, perm, None) {
        // channels.ts (id 58521006345): `e.message === 'unauthorized'` → API.v1.forbidden(),
        // whose default error is `unauthorized` while `applyBreakingChanges` is false (8.1 too:
        // apps/meteor/server/api/ApiClass.ts @ 0358e0dc, config.rs); 6.x: API.v1.unauthorized().
        return Err(ApiErr {
            status: 403,
            body: json!({"success": false, "error": "unauthorized"}),
        });
    }
    // getValidRoomName.ts (id 1338652500): the name regex and validateName() (validateName.ts
    // @ 462bf029: the lowercased name against Accounts_SystemBlockedUsernameList split on ',')
    // → error-invalid-room-name; then a room with that name → error-archived-duplicate-name
    // when archived, else error-duplicate-channel-name.
    let system = st.setting_str("Accounts_SystemBlockedUsernameList");
    let lower = name.to_lowercase();
    let reserved = !system.is_empty() && system.split(',').any(|b| b == lower);
    let details = json!({"function": "RocketChat.getValidRoomName", "channel_name": name});
    if !valid_name(&name) || reserved {
        return Err(meteor_err(
            "error-invalid-room-name",
            &format!("{name} is not a valid room name."),
            Some(details),
        ));
    }
    if let Some(ri) = st.room_idx_by_name(&name) {
        let (code, reason) = if st.rooms[ri].archived {
            (
                "error-archived-duplicate-name",
                format!("There's an archived channel with name {name}"),
            )
        } else {
            (
                "error-duplicate-channel-name",
                format!("A channel with name '{name}' exists"),
            )
        };
        return Err(meteor_err(code, &reason, Some(details)));
    }
    let owner = st
        .user_idx_by_id(uid)
        .map(|i| st.users[i].username.clone())
        .unwrap_or_default();
    let mut members: Vec<String> = vec![];
    if let Some(arr) = req.body.get("members").and_then(Value::as_array) {
        for m in arr.iter().filter_map(Value::as_str) {
            let i = st
                .user_idx_by_username(m)
                .ok_or_else(|| meteor_err("error-invalid-user", "Invalid user", None))?;
            members.push(st.users[i].id.clone());
        }
    }
    let id = random_id(17);
    st.rooms.push(Room {
        id: id.clone(),
        name,
        t: t.into(),
        owner: (uid.to_string(), owner),
        ts: now_ms(),
        ro: req
            .body
            .get("readOnly")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        muted: vec![],
        unmuted: vec![],
        default: false,
        archived: false,
    });
    // createRoom(): the creator is subscribed with the owner role.
    if req.body.get("excludeSelf").and_then(Value::as_bool) != Some(true) {
        add_sub(st, &id, uid, vec!["owner".into()]);
    }
    for m in members {
        add_sub(st, &id, &m, vec![]);
    }
    Ok(st.rooms.len() - 1)
}

per_room_type!(h_channels_create, h_groups_create: room |st, req, uid, t| create_room(st, req, uid, t));

/// The room a `roomId` or `roomName` parameter names (None: no such room). Without either, the
/// endpoint's own error id (channels/groups and rooms.info spell it differently upstream).
fn room_by_param(st: &State, req: &Req, missing: &str) -> Result<Option<usize>, ApiErr> {
    if let Some(id) = req.param("roomId") {
        Ok(st.room_idx_by_id(&id))
    } else if let Some(n) = req.param("roomName") {
        Ok(st.room_idx_by_name(&n))
    } else {
        Err(meteor_err(
            missing,
            "The parameter \"roomId\" or \"roomName\" is required",
            None,
        ))
    }
}

/// apps/meteor/app/api/server/v1/channels.ts findChannelByIdOrName /
/// groups.ts findPrivateGroupByIdOrName (a group is only visible to its members).
pub(crate) fn find_room(st: &State, req: &Req, t: &str, uid: &str) -> Result<usize, ApiErr> {
    let idx = room_by_param(st, req, "error-room-param-not-provided")?;
    let what = if t == "c" { "channel" } else { "group" };
    let not_found = || {
        meteor_err(
            "error-room-not-found",
            &format!(
                "The required \"roomId\" or \"roomName\" param provided does not match any {what}"
            ),
            None,
        )
    };
    let idx = idx.filter(|i| st.rooms[*i].t == t).ok_or_else(not_found)?;
    if t == "p" && st.sub(&st.rooms[idx].id, uid).is_none() {
        return Err(not_found());
    }
    Ok(idx)
}

per_room_type!(h_channels_info, h_groups_info: room |st, req, uid, t| find_room(st, req, t, uid));

/// apps/meteor/app/api/server/v1/rooms.ts rooms.info: findRoomByIdOrName() throws
/// `error-room-not-found` for an unknown room and, with its default `checkedArchived = true`
/// (6.x, 7.x), `error-room-archived` before any access check; newer code passes
/// `checkedArchived: false` (here 8.1). Then `API.v1.failure('not-allowed', 'Not Allowed')`
/// when the caller cannot read it: error and errorType the other way round from a Meteor.Error.
pub(crate) fn h_rooms_info(
    _sim: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let idx = room_by_param(st, req, "error-roomid-param-not-provided")?;
    let Some(i) = idx else {
        return Err(meteor_err(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any channel",
            None,
        ));
    };
    // findRoomByIdOrName's `checkedArchived` defaults to true; rooms.info passes `false` only
    // since PR #41085 (merged 2026-06-25, after 8.1.0), so every emulated line refuses it.
    if st.rooms[i].archived {
        return Err(meteor_err(
            "error-room-archived",
            &format!("The channel, {}, is archived", st.rooms[i].name),
            None,
        ));
    }
    let readable = st.rooms[i].t == "c" || st.sub(&st.rooms[i].id, uid).is_some();
    if !readable {
        return Err(ApiErr {
            status: 400,
            body: json!({"success": false, "error": "not-allowed", "errorType": "Not Allowed"}),
        });
    }
    ok(json!({"room": room_json(st, &st.rooms[i])}))
}

/// apps/meteor/app/lib/server/functions/addUserToRoom.ts: adding an existing member is a no-op.
pub(crate) fn invite(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = st.rooms[ri].id.clone();
    let target = user_from_params(st, req)?;
    let tid = st.users[target].id.clone();
    let any = if t == "c" {
        "add-user-to-any-c-room"
    } else {
        "add-user-to-any-p-room"
    };
    let joined_ok = st.sub(&rid, uid).is_some()
        && st.has_permission(uid, "add-user-to-joined-room", Some(&rid));
    if !joined_ok && !st.has_permission(uid, any, None) {
        return Err(meteor_err(
            "error-not-allowed",
            "Not allowed",
            Some(json!({"method": "addUsersToRoom"})),
        ));
    }
    add_sub(st, &rid, &tid, vec![]);
    Ok(ri)
}

per_room_type!(h_channels_invite, h_groups_invite: room |st, req, uid, t| invite(st, req, uid, t));

/// channels.setReadOnly / groups.setReadOnly -> saveRoomSettings 'readOnly' (set-readonly).
pub(crate) fn set_ro(st: &mut State, req: &Req, uid: &str, t: &str) -> Result<usize, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let ro = req
        .body
        .get("readOnly")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid_params("must have required property 'readOnly'"))?;
    let rid = st.rooms[ri].id.clone();
    if !st.has_permission(uid, "set-readonly", Some(&rid)) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Editing room is not allowed",
            Some(json!({"method": "saveRoomSettings", "action": "Editing_room"})),
        ));
    }
    if st.rooms[ri].ro == ro {
        return Err(failure(
            "The channel read only setting is the same as what it would be changed to.",
        ));
    }
    st.rooms[ri].ro = ro;
    Ok(ri)
}

per_room_type!(h_channels_ro, h_groups_ro: room |st, req, uid, t| set_ro(st, req, uid, t));

/// apps/meteor/server/methods/addRoomOwner.ts / addRoomModerator.ts
pub(crate) fn add_room_role(
    st: &mut State,
    req: &Req,
    uid: &str,
    t: &str,
    role: &str,
) -> Result<Value, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = st.rooms[ri].id.clone();
    let target = user_from_params(st, req)?;
    let tid = st.users[target].id.clone();
    let perm = if role == "owner" {
        "set-owner"
    } else {
        "set-moderator"
    };
    if !st.has_permission(uid, perm, Some(&rid)) {
        return Err(meteor_err("error-not-allowed", "Not allowed", None));
    }
    let Some(si) = st.subs.iter().position(|s| s.rid == rid && s.uid == tid) else {
        return Err(meteor_err(
            "error-user-not-in-room",
            "User is not in this room",
            None,
        ));
    };
    if st.subs[si].roles.iter().any(|r| r == role) {
        let (code, msg) = if role == "owner" {
            ("error-user-already-owner", "User is already an owner")
        } else {
            (
                "error-user-already-moderator",
                "User is already a moderator",
            )
        };
        return Err(meteor_err(code, msg, None));
    }
    st.subs[si].roles.push(role.to_string());
    ok(json!({}))
}

per_room_type!(h_c_add_owner, h_g_add_owner: |st, req, uid, t| add_room_role(st, req, uid, t, "owner"));

per_room_type!(h_c_add_mod, h_g_add_mod: |st, req, uid, t| add_room_role(st, req, uid, t, "moderator"));

pub(crate) fn history(st: &State, req: &Req, uid: &str, t: &str) -> Result<Value, ApiErr> {
    let ri = find_room(st, req, t, uid)?;
    let rid = &st.rooms[ri].id;
    let mut msgs: Vec<Value> = st
        .messages
        .iter()
        .filter(|m| &m.rid == rid)
        .map(message_json)
        .collect();
    msgs.reverse(); // newest first, like loadHistory
    ok(json!({"messages": msgs}))
}

per_room_type!(h_channels_history, h_groups_history: |st, req, uid, t| history(st, req, uid, t));

/// apps/meteor/app/api/server/v1/subscriptions.ts subscriptions.getOne: null when absent.
pub(crate) fn h_sub_get_one(
    _: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let rid = req
        .param("roomId")
        .ok_or_else(|| invalid_params("must have required property 'roomId'"))?;
    let sub = st
        .sub(&rid, uid)
        .map(|s| sub_json(st, s))
        .unwrap_or(Value::Null);
    ok(json!({"subscription": sub}))
}
