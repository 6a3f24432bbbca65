//! Pinning tests for the rows the second reading corrected (/work reviews rc-sim-rest.md;
//! ledger in README.md). Each names the ledger row it pins.

use super::tests::{body, login, req, sim, ADMIN};
use super::*;

const PW: &str = "Sup3r-Secret!pw";

fn register(s: &Sim, ip: &str, b: Value) -> Resp {
    let mut r = req("POST", "/api/v1/users.register", b, None);
    r.ip = ip.into();
    s.handle(&r)
}

fn admin_call(s: &Sim, method: &str, path: &str, b: Value) -> Resp {
    let (uid, tok) = login(s, "boss", PW);
    s.handle(&req(method, path, b, Some((&uid, &tok))))
}

/// Row 19: username checks come first, with plain messages; blocked names (system list too)
/// throw error-blocked-username; the Secret URL is the body's `secret`; 1 register per IP.
#[test]
fn users_register_checks_username_first_and_allows_one_call_per_ip() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &["--setting", "Accounts_RegistrationForm=Disabled"],
    );
    let u = |name: &str| json!({"username": name, "email": format!("{name}@x.org"), "pass": "pw", "name": "N"});
    let r = register(&s, "10.0.0.1", u("bad name"));
    assert_eq!(
        body(&r),
        json!({"success": false, "error": "The username provided is not valid"})
    );
    let r = register(&s, "10.0.0.2", u("boss"));
    assert_eq!(
        body(&r),
        json!({"success": false, "error": "Username is already in use"})
    );
    for (i, name) in ["administrator", "System", "user", "here"]
        .iter()
        .enumerate()
    {
        let r = register(&s, &format!("10.0.1.{i}"), u(name));
        let b = body(&r);
        assert_eq!(b["errorType"], "error-blocked-username", "{name}: {b}");
        assert_eq!(
            b["error"],
            format!("{name} is blocked and can't be used! [error-blocked-username]")
        );
    }
    let r = register(&s, "10.0.0.3", u("fresh"));
    assert_eq!(body(&r)["errorType"], "error-user-registration-disabled");
    // The second call from the same IP inside the window is refused by the route's own rule.
    let r = register(&s, "10.0.0.3", u("fresh2"));
    assert_eq!(r.status, 429, "{}", r.body);
    let s = sim(
        "7.10.0",
        &[],
        &[
            "--setting",
            "Accounts_RegistrationForm=Secret URL",
            "--setting",
            "Accounts_RegistrationForm_SecretURL=s3cr3t",
        ],
    );
    let r = register(
        &s,
        "10.0.0.4",
        json!({"username": "a", "email": "a@x.org", "pass": "pw", "name": "A", "secretURL": "s3cr3t"}),
    );
    assert_eq!(body(&r)["errorType"], "error-user-registration-secret");
    let r = register(
        &s,
        "10.0.0.5",
        json!({"username": "a", "email": "a@x.org", "pass": "pw", "name": "A", "secret": "s3cr3t"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Row 19 / row 14: users.create throws error-blocked-username; the env admin keeps only a
/// blocked name's fallback to `admin`.
#[test]
fn users_create_refuses_system_names_as_blocked() {
    let s = sim("8.1.0", ADMIN, &[]);
    let r = admin_call(
        &s,
        "POST",
        "/api/v1/users.create",
        json!({"email": "s@x.org", "name": "S", "password": "Pl4in-User-Passw0rd!", "username": "system"}),
    );
    assert_eq!(
        body(&r)["errorType"],
        "error-blocked-username",
        "{}",
        r.body
    );
    let s = sim(
        "7.10.0",
        &[("ADMIN_USERNAME", "administrator"), ("ADMIN_PASS", PW)],
        &[],
    );
    assert!(s.lock().user_idx_by_username("admin").is_some());
}

/// Row 3: Block_Multiple_Failed_Logins_Enabled is false in the 6.x settings file, true from 7.0;
/// failed e-mail logins of an existing user count against that user.
#[test]
fn brute_force_default_per_release_and_email_failures_count() {
    let s = sim(
        "6.13.0",
        ADMIN,
        &["--setting", "API_Enable_Rate_Limiter=false"],
    );
    for _ in 0..12 {
        s.handle(&req(
            "POST",
            "/api/v1/login",
            json!({"username": "boss", "password": "nope"}),
            None,
        ));
    }
    login(&s, "boss", PW); // not blocked: protection off by default on 6.x
    let s = sim(
        "7.10.0",
        ADMIN,
        &["--setting", "API_Enable_Rate_Limiter=false"],
    );
    for _ in 0..10 {
        let r = s.handle(&req(
            "POST",
            "/api/v1/login",
            json!({"user": "boss@example.org", "password": "nope"}),
            None,
        ));
        assert_eq!(r.status, 401);
    }
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "boss", "password": PW}),
        None,
    ));
    assert_eq!(
        body(&r)["error"],
        "error-login-blocked-for-user",
        "{}",
        r.body
    );
}

/// Rows 10 and 12: Restivus (6.13) answers without `success`.
#[test]
fn restivus_answers_carry_no_success_field() {
    let s = sim("6.13.0", ADMIN, &[]);
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "boss", "password": PW}),
        None,
    ));
    let b = body(&r);
    assert_eq!(
        (b["status"].clone(), b.get("success")),
        (json!("success"), None)
    );
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "boss", "password": "nope"}),
        None,
    ));
    assert_eq!(
        (r.status, body(&r)),
        (
            401,
            json!({"status": "error", "error": 403, "message": "Incorrect password"})
        )
    );
    let r = s.handle(&req("GET", "/api/v1/me", json!({}), None));
    assert_eq!(
        (r.status, body(&r)),
        (
            401,
            json!({"status": "error", "message": "You must be logged in to do this."})
        )
    );
}

/// Row 11: channels.create / groups.create without the permission: API.v1.forbidden(), whose
/// default error is `unauthorized` until `applyBreakingChanges` (9.0.0 on 8.x: ApiClass.ts
/// @ 0358e0dc); 8.1 expected `forbidden`, the 7.x flag misread.
#[test]
fn room_creation_without_permission_is_forbidden_shape() {
    for (v, error) in [
        ("6.13.0", "unauthorized"),
        ("7.10.0", "unauthorized"),
        ("8.1.0", "unauthorized"),
    ] {
        let s = sim(v, ADMIN, &["--setting", "API_Enable_Rate_Limiter=false"]);
        let r = admin_call(
            &s,
            "POST",
            "/api/v1/users.create",
            json!({"email": "g@x.org", "name": "G", "password": "Gu3st-User-Passw0rd!", "username": "guest1", "roles": ["guest"]}),
        );
        assert_eq!(r.status, 200, "{v}: {}", r.body);
        let (uid, tok) = login(&s, "guest1", "Gu3st-User-Passw0rd!");
        for route in ["channels.create", "groups.create"] {
            let r = s.handle(&req(
                "POST",
                &format!("/api/v1/{route}"),
                json!({"name": "nope"}),
                Some((&uid, &tok)),
            ));
            assert_eq!(
                (r.status, body(&r)),
                (403, json!({"success": false, "error": error})),
                "{v} {route}"
            );
        }
    }
}

fn create_hook(s: &Sim, uid: &str, tok: &str, name: &str) -> Value {
    let r = s.handle(&req(
        "POST",
        "/api/v1/integrations.create",
        json!({"type": "webhook-incoming", "name": name, "enabled": true,
            "username": "boss", "channel": "#general", "scriptEnabled": false}),
        Some((uid, tok)),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    body(&r)["integration"].clone()
}

/// Row 6: `sort {ts:-1}` on a missing field: insertion order.
#[test]
fn integrations_list_is_in_insertion_order() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", PW);
    for n in ["a", "b", "c"] {
        create_hook(&s, &uid, &tok, n);
    }
    let r = s.handle(&req(
        "GET",
        "/api/v1/integrations.list",
        json!({}),
        Some((&uid, &tok)),
    ));
    let names: Vec<Value> = body(&r)["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("a"), json!("b"), json!("c")]);
}

/// Row 7: 6.13 stores a new `username` without changing the posting user; 7.x moves the hook
/// to the user or answers error-invalid-post-as-user; channel is validated first.
#[test]
fn integrations_update_username_per_release() {
    for v in ["6.13.0", "7.10.0"] {
        let s = sim(v, ADMIN, &[]);
        let (uid, tok) = login(&s, "boss", PW);
        let h = create_hook(&s, &uid, &tok, "h");
        let upd = |extra: Value| {
            let mut b = json!({"type": "webhook-incoming", "integrationId": h["_id"], "name": "h",
                "enabled": true, "channel": "#general", "scriptEnabled": false});
            for (k, val) in extra.as_object().unwrap() {
                b[k] = val.clone();
            }
            s.handle(&req(
                "PUT",
                "/api/v1/integrations.update",
                b,
                Some((&uid, &tok)),
            ))
        };
        let r = upd(json!({"channel": "general"}));
        assert_eq!(body(&r)["errorType"], "error-invalid-channel", "{v}");
        let r = upd(json!({"username": "ghost"}));
        let b = body(&r);
        if v == "6.13.0" {
            assert_eq!(b["integration"]["username"], "ghost", "{b}");
            assert_eq!(b["integration"]["userId"], h["userId"], "{b}");
        } else {
            assert_eq!(b["errorType"], "error-invalid-post-as-user", "{b}");
            let r = upd(json!({"username": "rocket.cat"}));
            assert_eq!(body(&r)["integration"]["userId"], "rocket.cat");
        }
    }
}

/// Row 20: PasswordPolicyError is not a Meteor.Error: no " [code]" suffix.
#[test]
fn password_policy_error_has_no_code_suffix() {
    let s = sim("8.1.0", ADMIN, &[]);
    let r = admin_call(
        &s,
        "POST",
        "/api/v1/users.create",
        json!({"email": "w@x.org", "name": "W", "password": "short", "username": "weak"}),
    );
    let b = body(&r);
    assert_eq!(
        b["error"],
        "The password provided does not meet the server's password policy."
    );
    assert_eq!(b["errorType"], "error-password-policy-not-met");
    assert!(b["details"].is_array(), "{b}");
}

/// Row 13: on allowed calls X-RateLimit-Reset is now + the rest of the window.
#[test]
fn rate_limit_reset_header_points_at_the_window_end() {
    let s = sim("7.10.0", &[], &[]);
    let before = now_ms();
    let r = s.handle(&req("GET", "/api/v1/me", json!({}), None));
    assert_eq!(r.status, 401); // auth runs before the limiter: no headers
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "x", "password": "y"}),
        None,
    ));
    let reset: u64 = r
        .headers
        .iter()
        .find(|(k, _)| k == "X-RateLimit-Reset")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap();
    assert!(
        reset >= before + 50_000 && reset <= now_ms() + 60_000,
        "{reset} vs {before}"
    );
}

/// Row 18: after a good code the same token (IP + user agent) needs none for RememberFor.
#[test]
fn two_factor_is_remembered_after_a_good_code() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &[
            "--setting",
            "Accounts_TwoFactorAuthentication_RememberFor=0",
        ],
    );
    let (uid, tok) = login(&s, "boss", PW);
    s.lock().settings.insert(
        "Accounts_TwoFactorAuthentication_RememberFor".into(),
        json!(1800),
    );
    s.lock().users.iter_mut().for_each(|u| u.created_at = 0);
    let update = |code: Option<&str>| {
        let mut r = req(
            "POST",
            "/api/v1/users.update",
            json!({"userId": uid, "data": {"name": "Boss"}}),
            Some((&uid, &tok)),
        );
        if let Some(c) = code {
            r.headers.insert("x-2fa-method".into(), "password".into());
            r.headers.insert("x-2fa-code".into(), c.into());
        }
        s.handle(&r)
    };
    assert_eq!(body(&update(None))["errorType"], "totp-required");
    let r = update(Some(&sha256_hex(PW)));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = update(None);
    assert_eq!(r.status, 200, "remembered: {}", r.body);
}

/// Row 22: the subscription is looked up by username first: unknown user → not in room.
#[test]
fn muting_an_unknown_username_is_user_not_in_room() {
    let s = sim("7.10.0", ADMIN, &[]);
    let msg = json!({"msg": "method", "id": "1", "method": "muteUserInRoom",
        "params": [{"rid": "GENERAL", "username": "ghost"}]});
    let r = admin_call(
        &s,
        "POST",
        "/api/v1/method.call/muteUserInRoom",
        json!({"message": msg.to_string()}),
    );
    let inner: Value = serde_json::from_str(body(&r)["message"].as_str().unwrap()).unwrap();
    assert_eq!(inner["error"]["error"], "error-user-not-in-room", "{inner}");
}

/// Row 22: in a read-only room unmuting adds to `unmuted` (who may then post) and muting
/// removes from it; elsewhere `muted` as before.
#[test]
fn unmute_in_a_read_only_room_adds_to_unmuted() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", PW);
    let call = |path: &str, b: Value| s.handle(&req("POST", path, b, Some((&uid, &tok))));
    let r = call(
        "/api/v1/channels.create",
        json!({"name": "news", "readOnly": true, "members": ["rocket.cat"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let rid = body(&r)["channel"]["_id"].as_str().unwrap().to_string();
    let method = |m: &str| {
        let msg = json!({"msg": "method", "id": "1", "method": m,
            "params": [{"rid": rid, "username": "rocket.cat"}]});
        let r = call(
            &format!("/api/v1/method.call/{m}"),
            json!({"message": msg.to_string()}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let info = s.handle(&req(
            "GET",
            &format!("/api/v1/rooms.info?roomId={rid}"),
            json!({}),
            Some((&uid, &tok)),
        ));
        body(&info)["room"].clone()
    };
    let room = method("unmuteUserInRoom");
    assert_eq!(room["unmuted"], json!(["rocket.cat"]), "{room}");
    let room = method("muteUserInRoom");
    assert_eq!(
        (room.get("unmuted"), room["muted"].clone()),
        (None, json!([])),
        "{room}"
    );
}

/// Row 6: count=0 is unlimited (API_Allow_Infinite_Count), negative counts pass through.
#[test]
fn integrations_list_count_zero_and_negative() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", PW);
    for n in ["a", "b", "c"] {
        create_hook(&s, &uid, &tok, n);
    }
    let count = |q: &str| {
        let r = s.handle(&req(
            "GET",
            &format!("/api/v1/integrations.list?{q}"),
            json!({}),
            Some((&uid, &tok)),
        ));
        body(&r)["count"].clone()
    };
    assert_eq!(count("count=0"), 3);
    assert_eq!(count("count=-2"), 2);
    assert_eq!(count("offset=2"), 1);
}

/// Row 14: a taken (not blocked) ADMIN_USERNAME is kept; Users.create then fails on the unique
/// index and no admin is made.
#[test]
fn env_admin_with_a_taken_username_is_not_created() {
    let s = sim(
        "7.10.0",
        &[("ADMIN_USERNAME", "rocket.cat"), ("ADMIN_PASS", PW)],
        &[],
    );
    let st = s.lock();
    assert!(st.user_idx_by_username("admin").is_none());
    assert!(!st
        .users
        .iter()
        .any(|u| u.roles.iter().any(|r| r == "admin")));
}

/// Row 21: getValidRoomName refuses system-blocked names and names an archived duplicate.
#[test]
fn room_names_system_blocked_and_archived_duplicates() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", PW);
    let create = |name: &str| {
        let r = s.handle(&req(
            "POST",
            "/api/v1/channels.create",
            json!({"name": name}),
            Some((&uid, &tok)),
        ));
        body(&r)
    };
    assert_eq!(create("Admin")["errorType"], "error-invalid-room-name");
    assert_eq!(create("ops")["success"], true);
    assert_eq!(create("ops")["errorType"], "error-duplicate-channel-name");
    s.sim_route("rooms/ops/archive");
    let b = create("ops");
    assert_eq!(b["errorType"], "error-archived-duplicate-name", "{b}");
    assert_eq!(
        b["error"],
        "There's an archived channel with name ops [error-archived-duplicate-name]"
    );
}

/// rooms.info on an archived room: `error-room-archived` on every emulated line. 8.1 used to
/// answer the room (the newest rooms.ts passes `checkedArchived: false`), but that came with
/// PR #41085 (merged 2026-06-25), months after 8.1.0; it was never an `applyBreakingChanges` switch.
#[test]
fn rooms_info_refuses_an_archived_room_on_every_line() {
    for v in ["6.13.0", "7.10.0", "8.1.0"] {
        let s = sim(v, ADMIN, &[]);
        let (uid, tok) = login(&s, "boss", PW);
        let r = s.handle(&req(
            "POST",
            "/api/v1/channels.create",
            json!({"name": "ops"}),
            Some((&uid, &tok)),
        ));
        assert_eq!(r.status, 200, "{v}: {}", r.body);
        s.sim_route("rooms/ops/archive");
        let r = s.handle(&req(
            "GET",
            "/api/v1/rooms.info?roomName=ops",
            json!({}),
            Some((&uid, &tok)),
        ));
        assert_eq!(r.status, 400, "{v}");
        assert_eq!(
            body(&r),
            json!({"success": false, "errorType": "error-room-archived",
                "error": "The channel, ops, is archived [error-room-archived]"}),
            "{v}"
        );
    }
}
