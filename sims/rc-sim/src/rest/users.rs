//! REST: me, logout, users.* (apps/meteor/app/api/server/v1/users.ts).

use crate::*;
use serde_json::{json, Value};

pub(crate) fn h_me(_: &Sim, st: &mut State, _: &Req, uid: &str) -> Result<Value, ApiErr> {
    let idx = st
        .user_idx_by_id(uid)
        .ok_or_else(|| failure("User not found"))?;
    ok(me_json(st, idx))
}

pub(crate) fn h_logout(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    // api.ts logout: $pull the hashed token of this request.
    let h = sha256_hex(req.header("x-auth-token").unwrap_or_default());
    if let Some(i) = st.user_idx_by_id(uid) {
        st.users[i].tokens.retain(|t| t.hashed != h);
    }
    // The logout action returns `{status, data}` itself, not API.v1.success(): no `success`
    // field. Post-Restivus routers read it as a route result (`{statusCode, body}`) that has
    // neither, so the answer is an empty 200 (see Sim::v1_route).
    Ok(json!({"status": "success", "data": {"message": "You've been logged out!"}}))
}

/// packages/rest-typings users.create schema (additionalProperties: false).
pub(crate) const USERS_CREATE_FIELDS: &[&str] = &[
    "email",
    "name",
    "password",
    "username",
    "active",
    "bio",
    "nickname",
    "statusText",
    "roles",
    "joinDefaultChannels",
    "requirePasswordChange",
    "setRandomPassword",
    "sendWelcomeEmail",
    "verified",
    "customFields",
    "fields",
    "settings",
];

pub(crate) fn h_users_create(
    _: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    reject_unknown(&req.body, USERS_CREATE_FIELDS)?;
    let b = &req.body;
    for f in ["email", "name", "password", "username"] {
        if str_field(b, f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    if !st.has_permission(uid, "create-user", None) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Adding user is not allowed",
            Some(json!({"method": "insertOrUpdateUser", "action": "Adding_user"})),
        ));
    }
    let roles: Option<Vec<String>> = b.get("roles").and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect()
    });
    let new = NewUser {
        username: str_field(b, "username").unwrap_or_default(),
        name: str_field(b, "name").unwrap_or_default(),
        email: str_field(b, "email").unwrap_or_default(),
        password: str_field(b, "password").unwrap_or_default(),
        verified: b.get("verified").and_then(Value::as_bool).unwrap_or(false),
        roles,
        active: b.get("active").and_then(Value::as_bool).unwrap_or(true),
    };
    let idx = create_user(st, new)?;
    if b.get("requirePasswordChange").and_then(Value::as_bool) == Some(true) {
        st.users[idx].require_password_change = true;
    }
    ok(json!({"user": user_json(&st.users[idx], true)}))
}

/// apps/meteor/app/api/server/v1/users.ts `users.register` (6.x/7.x async era, find_string
/// ids 108728258 / 11365695037): validateParams (username, email, pass, name), then the route's
/// own checks with plain failures — `validateUsername` → "The username provided is not valid",
/// checkUsernameAvailability (throws error-blocked-username; false → "Username is already in
/// use") — and only then the registerUser method (Disabled / Secret URL, checked against the
/// body's `secret` field), then the user itself.
pub(crate) fn h_users_register(
    _: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    let b = &req.body;
    for f in ["username", "email", "pass", "name"] {
        if str_field(b, f).is_none() {
            return Err(invalid_params(&format!(
                "must have required property '{f}'"
            )));
        }
    }
    if !uid.is_empty() {
        return Err(failure("Logged in users can not register again."));
    }
    let username = str_field(b, "username").unwrap_or_default();
    if !valid_name(&username) {
        return Err(failure("The username provided is not valid"));
    }
    if !st.username_available(&username)? {
        return Err(failure("Username is already in use"));
    }
    // apps/meteor/app/lib/server/methods/registerUser (registerUser method).
    match st.setting_str("Accounts_RegistrationForm").as_str() {
        "Disabled" => {
            return Err(meteor_err(
                "error-user-registration-disabled",
                "User registration is disabled",
                Some(json!({"method": "registerUser"})),
            ))
        }
        "Secret URL"
            if str_field(b, "secret")
                != Some(st.setting_str("Accounts_RegistrationForm_SecretURL")) =>
        {
            return Err(meteor_err(
                "error-user-registration-secret",
                "User registration is only allowed via Secret URL",
                Some(json!({"method": "registerUser"})),
            ))
        }
        _ => {}
    }
    let new = NewUser {
        username,
        name: str_field(b, "name").unwrap_or_default(),
        email: str_field(b, "email").unwrap_or_default(),
        password: str_field(b, "pass").unwrap_or_default(),
        verified: false,
        roles: None,
        active: true,
    };
    let idx = create_user(st, new)?;
    ok(json!({"user": user_json(&st.users[idx], false)}))
}

/// apps/meteor/app/api/server/helpers/getUserFromParams.ts
pub(crate) fn user_from_params(st: &State, req: &Req) -> Result<usize, ApiErr> {
    let idx = if let Some(id) = req.param("userId") {
        st.user_idx_by_id(&id)
    } else if let Some(un) = req.param("username") {
        st.user_idx_by_username(&un)
    } else {
        return Err(meteor_err(
            "error-user-param-not-provided",
            "The required \"userId\" or \"username\" param was not provided",
            None,
        ));
    };
    idx.ok_or_else(|| {
        meteor_err(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
            None,
        )
    })
}

/// apps/meteor/app/api/server/v1/users.ts users.info: an unknown user is
/// `API.v1.failure('User not found.')` (no errorType), not getUserFromParams' error.
pub(crate) fn h_users_info(_: &Sim, st: &mut State, req: &Req, uid: &str) -> Result<Value, ApiErr> {
    let idx = match user_from_params(st, req) {
        Err(e) if e.body["errorType"] == json!("error-invalid-user") => {
            return Err(failure("User not found."))
        }
        r => r?,
    };
    let full = st.has_permission(uid, "view-full-other-user-info", None) || st.users[idx].id == uid;
    ok(json!({"user": user_json(&st.users[idx], full)}))
}

pub(crate) fn h_users_update(
    _: &Sim,
    st: &mut State,
    req: &Req,
    uid: &str,
) -> Result<Value, ApiErr> {
    reject_unknown(&req.body, &["userId", "data", "confirmRelogin"])?;
    let target = str_field(&req.body, "userId")
        .ok_or_else(|| invalid_params("must have required property 'userId'"))?;
    let data = req
        .body
        .get("data")
        .cloned()
        .ok_or_else(|| invalid_params("must have required property 'data'"))?;
    reject_unknown(
        &data,
        &[
            "email",
            "name",
            "password",
            "username",
            "bio",
            "nickname",
            "statusText",
            "active",
            "type",
            "roles",
            "joinDefaultChannels",
            "requirePasswordChange",
            "sendWelcomeEmail",
            "verified",
            "customFields",
            "setRandomPassword",
            "status",
            "settings",
        ],
    )?;
    let idx = st
        .user_idx_by_id(&target)
        .ok_or_else(|| meteor_err("error-invalid-user", "Invalid user", None))?;
    if target != uid && !st.has_permission(uid, "edit-other-user-info", None) {
        return Err(meteor_err(
            "error-action-not-allowed",
            "Editing user is not allowed",
            Some(json!({"method": "insertOrUpdateUser", "action": "Editing_user"})),
        ));
    }
    if let Some(un) = str_field(&data, "username") {
        if !un.eq_ignore_ascii_case(&st.users[idx].username) && !st.username_available(&un)? {
            return Err(meteor_err(
                "error-field-unavailable",
                &format!("{un} is already in use :("),
                None,
            ));
        }
    }
    if let Some(pw) = str_field(&data, "password") {
        st.validate_password(&pw)?;
        st.users[idx].password_digest = Some(sha256_hex(&pw));
    }
    let u = &mut st.users[idx];
    if let Some(un) = str_field(&data, "username") {
        u.username = un;
    }
    if let Some(n) = str_field(&data, "name") {
        u.name = n;
    }
    if let Some(e) = str_field(&data, "email") {
        let verified = data
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        u.emails = vec![(e, verified)];
    } else if let Some(v) = data.get("verified").and_then(Value::as_bool) {
        for e in &mut u.emails {
            e.1 = v;
        }
    }
    if let Some(a) = data.get("active").and_then(Value::as_bool) {
        // users.update then calls setUserActiveStatus (apps/meteor/app/api/server/v1/users.ts;
        // app/lib/server/functions/setUserActiveStatus.ts @ 12bc9e36): deactivating removes
        // every login token (Users.unsetLoginTokens), so sessions end and REST tokens stop working.
        u.active = a;
        if !a {
            u.tokens.clear();
        }
    }
    if let Some(r) = data.get("roles").and_then(Value::as_array) {
        u.roles = r
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
    }
    if let Some(r) = data.get("requirePasswordChange").and_then(Value::as_bool) {
        u.require_password_change = r;
    }
    ok(json!({"user": user_json(u, true)}))
}
