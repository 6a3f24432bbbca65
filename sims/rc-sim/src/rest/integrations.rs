//! REST: integrations.* for incoming webhooks.

use crate::*;
use serde_json::{json, Value};

/// addIncomingIntegration.ts / updateIncomingIntegration.ts: with `scriptEnabled === true` and
/// a non-blank script, compileIntegrationScript() sets `scriptCompiled` or, on a syntax error,
/// `scriptError` (and no scriptCompiled). Babel is not available here: the script is stored
/// untranspiled after the same syntax check as the `skipTranspile` path (validateOnly).
pub(crate) fn compile_script(sim: &Sim, integ: &mut Integration) {
    let src = integ
        .script
        .as_ref()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !integ.script_on() || src.trim().is_empty() {
        return;
    }
    match sim.engine().check_syntax(&src) {
        Ok(None) => {
            integ.script_compiled = Some(src);
            integ.script_error = None;
        }
        Ok(Some(err)) => {
            integ.script_compiled = None;
            integ.script_error = Some(err);
        }
        Err(e) => {
            // Cannot check without node: keep the script; running it will fail the same way.
            eprintln!(
                "{}",
                json!({"msg": "integration script not checked", "error": e})
            );
            integ.script_compiled = Some(src);
            integ.script_error = None;
        }
    }
}

/// packages/rest-typings/src/v1/integrations/IntegrationsCreateProps.ts (webhook-incoming
/// branch, additionalProperties: false). Older snapshots lack overrideDestinationChannelEnabled
/// and scriptEngine; the newer schema (in apps/meteor/app/api/server/v1/integrations.ts)
/// has both.
pub fn incoming_fields(v: Version) -> Vec<&'static str> {
    let mut f = vec![
        "type",
        "username",
        "channel",
        "scriptEnabled",
        "script",
        "name",
        "enabled",
        "alias",
        "avatar",
        "emoji",
    ];
    if v != Version::V6_13 {
        f.push("overrideDestinationChannelEnabled");
        f.push("scriptEngine");
    }
    f
}

pub(crate) fn int_manage_any(st: &State, uid: &str) -> bool {
    [
        "manage-outgoing-integrations",
        "manage-own-outgoing-integrations",
        "manage-incoming-integrations",
        "manage-own-incoming-integrations",
    ]
    .iter()
    .any(|p| st.has_permission(uid, p, None))
}

/// apps/meteor/app/integrations/server/methods/incoming/addIncomingIntegration.ts
pub(crate) fn h_int_create(
    sim: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let b = &req.body;
    if b.get("type").and_then(Value::as_str) != Some("webhook-incoming") {
        if b.get("type").and_then(Value::as_str) == Some("webhook-outgoing") {
            return Err(failure(
                "rc-sim emulates webhook-incoming integrations only",
            ));
        }
        return Err(invalid_params("must match exactly one schema in oneOf"));
    }
    let fields = incoming_fields(sim.cfg.version);
    if let Some(o) = b.as_object() {
        if o.keys().any(|k| !fields.contains(&k.as_str())) {
            return Err(invalid_params("must NOT have additional properties\n must have required property 'event'\n must match exactly one schema in oneOf"));
        }
    }
    for (f, is_bool) in [
        ("username", false),
        ("channel", false),
        ("scriptEnabled", true),
        ("name", false),
        ("enabled", true),
    ] {
        let good = match b.get(f) {
            Some(Value::Bool(_)) => is_bool,
            Some(Value::String(_)) => !is_bool,
            _ => false,
        };
        if !good {
            return Err(invalid_params(&format!("must have required property '{f}'\n must have required property 'event'\n must match exactly one schema in oneOf")));
        }
    }
    if !st.has_permission(uid, "manage-incoming-integrations", None)
        && !st.has_permission(uid, "manage-own-incoming-integrations", None)
    {
        return Err(meteor_err(
            "not_authorized",
            "Unauthorized",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let channel = str_field(b, "channel").unwrap_or_default();
    if channel.trim().is_empty() {
        return Err(meteor_err(
            "error-invalid-channel",
            "Invalid channel",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let channels: Vec<String> = channel.split(',').map(|c| c.trim().to_string()).collect();
    if channels
        .iter()
        .any(|c| !c.starts_with('#') && !c.starts_with('@'))
    {
        return Err(meteor_err(
            "error-invalid-channel-start-with-chars",
            "Invalid channel. Start with @ or #",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let username = str_field(b, "username").unwrap_or_default();
    if username.trim().is_empty() {
        return Err(meteor_err(
            "error-invalid-username",
            "Invalid username",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    }
    let Some(ui) = st.users.iter().position(|u| u.username == username) else {
        return Err(meteor_err(
            "error-invalid-user",
            "Invalid user",
            Some(json!({"method": "addIncomingIntegration"})),
        ));
    };
    for c in &channels {
        let name = &c[1..];
        let found = if c.starts_with('#') {
            st.room_idx_by_id(name)
                .or_else(|| st.room_idx_by_name(name))
                .is_some()
        } else {
            st.user_idx_by_id(name)
                .or_else(|| st.user_idx_by_username(name))
                .is_some()
        };
        if !found {
            return Err(meteor_err(
                "error-invalid-room",
                "Invalid room",
                Some(json!({"method": "addIncomingIntegration"})),
            ));
        }
    }
    // Side effect: the posting user gets the `bot` role (addUserRolesAsync(user._id, ['bot'])).
    if !st.users[ui].roles.iter().any(|r| r == "bot") {
        st.users[ui].roles.push("bot".into());
    }
    let creator = st.user_idx_by_id(uid).map(|i| st.users[i].username.clone());
    let mut integ = Integration {
        id: random_id(17),
        token: random_id(48),
        user_id: st.users[ui].id.clone(),
        channel: channels,
        created_at: iso(now_ms()),
        updated_at: iso(now_ms()),
        created_by: (uid.to_string(), creator),
        ..Integration::default()
    };
    // The body holds only schema fields (checked above); `channel` is the list just built.
    for (k, v) in b.as_object().into_iter().flatten() {
        if k != "channel" {
            integ.set(k, v.clone());
        }
    }
    if sim.cfg.version != Version::V6_13 {
        integ.script_engine.get_or_insert(json!("isolated-vm"));
        integ
            .override_destination_channel_enabled
            .get_or_insert(json!(false));
    }
    compile_script(sim, &mut integ);
    let out = integ.to_json();
    st.integrations.push(integ);
    ok(json!({"integration": out}))
}

/// apps/meteor/app/api/server/v1/integrations.ts integrations.list with getPaginationItems
/// (apps/meteor/app/api/server/helpers/getPaginationItems.ts: `count` defaults to
/// API_Default_Count 50 and is capped at API_Upper_Count_Limit 100); the answer's `count` and
/// `items` are the page length, `total` all matches.
pub(crate) fn h_int_list(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    if !int_manage_any(st, uid) {
        return Err(no_permission());
    }
    // helpers/getPaginationItems.ts @ 721a1541: count absent → 50, above 100 → 100, 0 →
    // unlimited while API_Allow_Infinite_Count (else 50); a negative count passes through
    // (a negative Mongo limit returns |n| documents).
    let num = |k: &str| req.query.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    let offset = num("offset").unwrap_or(0).max(0) as usize;
    let count = match num("count").map(|c| c.min(100)) {
        None => 50,
        Some(0) if st.setting_bool("API_Allow_Infinite_Count") => usize::MAX,
        Some(0) => 50,
        Some(c) => c.unsigned_abs() as usize,
    };
    // sort { ts: -1 } on a field integrations do not carry (addIncomingIntegration stores
    // `_createdAt`): the collection's natural order, i.e. insertion, oldest first.
    let total = st.integrations.len();
    let page: Vec<Value> = st
        .integrations
        .iter()
        .skip(offset)
        .take(count)
        .map(Integration::to_json)
        .collect();
    let n = page.len();
    ok(json!({"integrations": page, "offset": offset, "items": n, "count": n, "total": total}))
}

pub(crate) fn h_int_get(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let id = req
        .param("integrationId")
        .ok_or_else(|| failure("The query parameter \"integrationId\" is required."))?;
    if !int_manage_any(st, uid) {
        return Err(no_permission());
    }
    // apps/meteor/app/api/server/lib/integrations.ts findOneIntegration
    let i = st
        .integrations
        .iter()
        .find(|i| i.id == id)
        .map(Integration::to_json)
        .ok_or_else(|| failure("The integration does not exists."))?;
    ok(json!({"integration": i}))
}

/// apps/meteor/app/integrations/server/methods/incoming/updateIncomingIntegration.ts
/// (7.x snapshot id 480781737, newest @ 022f9b07; late-6.x compiled id 11614982106) behind
/// IntegrationsUpdateProps.ts @ 11acb516 (incoming: required integrationId, type, channel,
/// scriptEnabled, name, enabled; other fields accepted).
pub(crate) fn h_int_update(
    sim: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let b = &req.body;
    if b.get("type").and_then(Value::as_str) != Some("webhook-incoming") {
        return Err(failure("Invalid integration type."));
    }
    for f in [
        "integrationId",
        "channel",
        "scriptEnabled",
        "name",
        "enabled",
    ] {
        if b.get(f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    let fields = incoming_fields(sim.cfg.version);
    // validateChannels() runs first.
    let channel = str_field(b, "channel").unwrap_or_default();
    if channel.trim().is_empty()
        || channel
            .split(',')
            .any(|c| !c.trim().starts_with('#') && !c.trim().starts_with('@'))
    {
        return Err(meteor_err(
            "error-invalid-channel",
            "Invalid channel",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let id = str_field(b, "integrationId").unwrap_or_default();
    let found = st.integrations.iter().position(|i| i.id == id);
    // manage-incoming-integrations, or manage-own-incoming-integrations for one's own.
    let own = found.is_some_and(|ii| st.integrations[ii].created_by.0 == uid);
    let allowed = st.has_permission(uid, "manage-incoming-integrations", None)
        || (own && st.has_permission(uid, "manage-own-incoming-integrations", None));
    if !allowed {
        return Err(meteor_err(
            "not_authorized",
            "Unauthorized",
            Some(json!({"method": "updateIncomingIntegration"})),
        ));
    }
    let Some(ii) = found else {
        return Err(failure("No integration found."));
    };
    // Only schema fields are stored (integrationId is the key, not a field).
    let updates: Vec<(&String, &Value)> = b
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| k.as_str() != "integrationId" && fields.contains(&k.as_str()))
        .collect();
    let mut post_as = None;
    if let Some(un) = updates
        .iter()
        .find(|(k, _)| k.as_str() == "username")
        .and_then(|(_, v)| v.as_str())
    {
        // Late 6.x: `...('username' in integration && { username: integration.username })`
        // stores the name as given; userId (the posting user) is unchanged.
        if sim.cfg.version != Version::V6_13 {
            // 7.x: `{ username: user.username, userId: user._id }` of the found user.
            let ui = st
                .users
                .iter()
                .position(|u| u.username == un)
                .ok_or_else(|| {
                    meteor_err(
                        "error-invalid-post-as-user",
                        "Invalid Post As User",
                        Some(json!({"method": "updateIncomingIntegration"})),
                    )
                })?;
            if !st.users[ui].roles.iter().any(|r| r == "bot") {
                st.users[ui].roles.push("bot".into());
            }
            post_as = Some((st.users[ui].username.clone(), st.users[ui].id.clone()));
        }
    }
    let integ = &mut st.integrations[ii];
    for (k, v) in updates {
        integ.set(k, v.clone());
    }
    integ.channel = channel.split(',').map(|c| c.trim().to_string()).collect();
    if let Some((username, id)) = post_as {
        integ.username = json!(username);
        integ.user_id = id;
    }
    integ.updated_at = iso(now_ms());
    compile_script(sim, integ);
    ok(json!({"integration": integ.to_json()}))
}

pub(crate) fn h_int_remove(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    if !int_manage_any(st, uid) {
        return Err(no_permission());
    }
    match str_field(&req.body, "type").as_deref() {
        Some("webhook-incoming") => {
            let id = str_field(&req.body, "integrationId").ok_or_else(|| {
                meteor_err(
                    "Match.Error",
                    "Match error: Missing key 'integrationId'",
                    None,
                )
            })?;
            let Some(ii) = st.integrations.iter().position(|i| i.id == id) else {
                return Err(failure("No integration found."));
            };
            let integ = st.integrations.remove(ii);
            ok(json!({"integration": integ.to_json()}))
        }
        _ => Err(failure("Invalid integration type.")),
    }
}
