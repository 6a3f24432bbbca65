use super::*;

pub(crate) fn sim(version: &str, env: &[(&str, &str)], extra: &[&str]) -> Sim {
    let mut args: Vec<String> = vec![
        "--port".into(),
        "0".into(),
        "--version".into(),
        version.into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cfg = parse_args(&args, env).expect("args");
    let s = Sim::new(cfg);
    let env = s.cfg.env.clone();
    s.lock().insert_admin_from_env(&env);
    s
}

pub(crate) fn req(method: &str, path: &str, body: Value, auth: Option<(&str, &str)>) -> Req {
    let (path, q) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = HashMap::new();
    if let Some((u, t)) = auth {
        headers.insert("x-user-id".to_string(), u.to_string());
        headers.insert("x-auth-token".to_string(), t.to_string());
    }
    Req {
        method: method.into(),
        path: path.into(),
        query: http::parse_query(q),
        raw_query: q.into(),
        headers,
        raw_body: body.to_string(),
        body,
        ip: "127.0.0.1".into(),
    }
}

pub(crate) fn body(r: &Resp) -> Value {
    serde_json::from_str(&r.body).unwrap_or(Value::Null)
}

pub(crate) fn login(s: &Sim, user: &str, pw: &str) -> (String, String) {
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": user, "password": pw}),
        None,
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let b = body(&r);
    (
        b["data"]["userId"].as_str().unwrap().into(),
        b["data"]["authToken"].as_str().unwrap().into(),
    )
}

pub(crate) const ADMIN: &[(&str, &str)] = &[
    ("ADMIN_USERNAME", "boss"),
    ("ADMIN_PASS", "Sup3r-Secret!pw"),
    ("ADMIN_EMAIL", "boss@example.org"),
];

#[test]
fn durations_parse() {
    assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
    assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
    assert!(parse_duration("soon").is_err());
}

#[test]
fn bad_args_are_reported() {
    assert!(parse_args(
        &[
            "--version".into(),
            "9.9.9".into(),
            "--port".into(),
            "1".into()
        ],
        HashMap::new()
    )
    .unwrap_err()
    .contains("not emulated"));
    assert!(parse_args(&[], HashMap::new())
        .unwrap_err()
        .contains("--port is required"));
    assert!(parse_args(
        &["--port".into(), "1".into(), "--setting".into(), "x".into()],
        HashMap::new()
    )
    .is_err());
}

#[test]
fn script_flags() {
    let a = |v: &[&str]| {
        let mut args: Vec<String> = vec!["--port".into(), "0".into()];
        args.extend(v.iter().map(|s| s.to_string()));
        parse_args(&args, HashMap::new())
    };
    let c = a(&[]).unwrap();
    assert_eq!(
        (c.node.as_str(), c.script_timeout),
        ("node", Duration::from_secs(3))
    );
    let c = a(&["--node", "/opt/node/bin/node", "--script-timeout", "250ms"]).unwrap();
    assert_eq!(
        (c.node.as_str(), c.script_timeout),
        ("/opt/node/bin/node", Duration::from_millis(250))
    );
    assert!(a(&["--node", ""]).unwrap_err().contains("--node needs"));
    assert!(a(&["--script-timeout", "0s"])
        .unwrap_err()
        .contains("greater than 0"));
}

#[test]
fn webhook_message_follows_process_webhook_message() {
    let integ = Integration {
        id: "i1".into(),
        alias: Some(json!("Def")),
        emoji: Some(json!(":robot:")),
        avatar: Some(json!("")),
        ..Integration::default()
    };
    // username beats alias, icon_url beats emoji, attachments disable parseUrls.
    let (text, m) = webhook_message(
        &json!({"msg": " hi ", "username": "U", "alias": "A", "icon_url": "http://x/a.png",
            "emoji": ":x:", "attachments": [{"msg": " m "}]}),
        &integ,
    );
    assert_eq!(text, "hi");
    assert_eq!(m["alias"], "U");
    assert_eq!(m["avatar"], "http://x/a.png");
    assert!(m.get("emoji").is_none());
    assert_eq!(m["attachments"], json!([{"text": "m"}]));
    assert_eq!(m["parseUrls"], false);
    assert_eq!(m["bot"], json!({"i": "i1"}));
    // Defaults: integration alias and emoji; non-array attachments are ignored.
    let (text, m) = webhook_message(&json!({"text": "t", "attachments": "nope"}), &integ);
    assert_eq!(text, "t");
    assert_eq!(
        (&m["alias"], &m["emoji"], &m["attachments"], &m["parseUrls"]),
        (&json!("Def"), &json!(":robot:"), &json!([]), &json!(true))
    );
}

#[test]
fn js_truthiness_and_valid_script() {
    for v in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
        assert!(!script::truthy(&v), "{v}");
    }
    for v in [json!(true), json!(1), json!("x"), json!({}), json!([])] {
        assert!(script::truthy(&v), "{v}");
    }
    let integ = |enabled: bool, compiled: Option<&str>, script: Option<&str>| Integration {
        script_enabled: json!(enabled),
        script_compiled: compiled.map(String::from),
        script: script.map(|s| json!(s)),
        ..Integration::default()
    };
    assert!(script::has_valid_script(&integ(
        true,
        Some("class Script {}"),
        None
    )));
    assert!(!script::has_valid_script(&integ(
        false,
        Some("class Script {}"),
        None
    )));
    assert!(!script::has_valid_script(&integ(true, Some("  "), None)));
    assert!(!script::has_valid_script(&integ(
        true,
        None,
        Some("class Script {}")
    )));
}

#[test]
fn iso_dates() {
    assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
}

#[test]
fn env_admin_is_created_once_with_admin_role_only() {
    let s = sim("7.10.0", ADMIN, &[]);
    let env = s.cfg.env.clone();
    assert!(
        s.lock().insert_admin_from_env(&env).is_none(),
        "second admin must not be created"
    );
    let st = s.lock();
    let u = &st.users[st.user_idx_by_username("boss").unwrap()];
    assert_eq!(u.roles, vec!["admin".to_string()]);
    assert_eq!(u.emails, vec![("boss@example.org".to_string(), false)]);
    assert_eq!(st.setting_str("Show_Setup_Wizard"), "in_progress");
}

#[test]
fn blocked_admin_username_falls_back_to_admin() {
    let s = sim(
        "7.10.0",
        &[("ADMIN_USERNAME", "here"), ("ADMIN_PASS", "x")],
        &[],
    );
    assert!(s.lock().user_idx_by_username("admin").is_some());
}

#[test]
fn login_me_logout() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", "Sup3r-Secret!pw");
    let r = s.handle(&req("GET", "/api/v1/me", json!({}), Some((&uid, &tok))));
    assert_eq!(body(&r)["username"], "boss");
    let r = s.handle(&req(
        "POST",
        "/api/v1/logout",
        json!({}),
        Some((&uid, &tok)),
    ));
    // Post-Restivus (7.10): the router reads {body, statusCode} from `{status, data}`: empty.
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    let r = s.handle(&req("GET", "/api/v1/me", json!({}), Some((&uid, &tok))));
    assert_eq!(r.status, 401);
    assert_eq!(body(&r)["message"], "You must be logged in to do this.");
}

#[test]
fn restivus_logout_sends_the_action_object() {
    let s = sim("6.13.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", "Sup3r-Secret!pw");
    let r = s.handle(&req(
        "POST",
        "/api/v1/logout",
        json!({}),
        Some((&uid, &tok)),
    ));
    assert_eq!(
        body(&r),
        json!({"status": "success", "data": {"message": "You've been logged out!"}})
    );
}

/// Was `unauthorized_shape_changes_in_8` (8.1 expected the bare `{success, error}`): that read
/// the 7.x flag `shouldBreakInVersion('8.0.0')`; 8.0.1+ have '9.0.0' (PR #38155,
/// apps/meteor/server/api/ApiClass.ts @ 0358e0dc), so authenticationHono.ts @ bec8300d adds the
/// legacy fields on 8.1 as 7.10 does.
#[test]
fn unauthorized_shape_keeps_the_legacy_fields_on_7_and_8() {
    for v in ["7.10.0", "8.1.0"] {
        let s = sim(v, ADMIN, &[]);
        let r = s.handle(&req("GET", "/api/v1/me", json!({}), None));
        assert_eq!(r.status, 401, "{v}");
        assert_eq!(
            body(&r),
            json!({"success": false, "error": "You must be logged in to do this.",
                "status": "error", "message": "You must be logged in to do this."}),
            "{v}"
        );
    }
}

/// REST login failures per release (docs/reviews/rc-rest-login.md): Meteor's handler errors,
/// rewritten by Rocket.Chat's loginErrorMessageOverride (a no-op on 6.13, whose sync wrapper
/// meets Meteor's async `_runLoginHandlers`), then by the route's catch ("User not found" ->
/// `Unauthorized`). Was: 7.10 wrong password -> 403 "Incorrect password", 8.1 a bare
/// `unauthorized`; both misread the override and the 8.1 `applyBreakingChanges` flag.
#[test]
fn wrong_password_and_unknown_user() {
    let unauth = json!(["Unauthorized", "Unauthorized"]);
    for (v, wrong, no_pw) in [
        (
            "6.13.0",
            json!([403, "Incorrect password"]),
            json!([403, "User has no password set"]),
        ),
        ("7.10.0", unauth.clone(), unauth.clone()),
        // 8.1 as 7.10 (second reading: the "Incorrect login or password" text is unreleased).
        ("8.1.0", unauth.clone(), unauth.clone()),
    ] {
        let s = sim(v, ADMIN, &["--setting", "API_Enable_Rate_Limiter=false"]);
        let login = |b: Value| {
            let r = s.handle(&req("POST", "/api/v1/login", b, None));
            assert_eq!(r.status, 401, "{v}: {}", r.body);
            let b = body(&r);
            assert_eq!(b["status"], "error", "{v}");
            assert_eq!(b.get("success"), (v != "6.13.0").then_some(&json!(false)));
            json!([b["error"], b["message"]])
        };
        assert_eq!(
            login(json!({"username": "boss", "password": "nope"})),
            wrong
        );
        let ghost = login(json!({"username": "ghost", "password": "nope"}));
        assert_eq!(ghost, unauth.clone());
        {
            let mut st = s.lock();
            let i = st.user_idx_by_username("boss").unwrap();
            st.users[i].password_digest = None;
        }
        assert_eq!(login(json!({"username": "boss", "password": "x"})), no_pw);
    }
}

/// Errors thrown by validateLoginAttempt (after the handler) are not rewritten: a deactivated
/// user with the right password gets `error-user-is-not-activated` with its details.
#[test]
fn deactivated_user_is_told_so_on_every_line() {
    for v in ["6.13.0", "7.10.0", "8.1.0"] {
        let s = sim(v, ADMIN, &[]);
        {
            let mut st = s.lock();
            let i = st.user_idx_by_username("boss").unwrap();
            st.users[i].active = false;
        }
        let r = s.handle(&req(
            "POST",
            "/api/v1/login",
            json!({"username": "boss", "password": "Sup3r-Secret!pw"}),
            None,
        ));
        let b = body(&r);
        assert_eq!(r.status, 401);
        assert_eq!(
            (&b["error"], &b["message"], &b["details"]),
            (
                &json!("error-user-is-not-activated"),
                &json!("User is not activated"),
                &json!({"function": "Accounts.validateLoginAttempt"})
            ),
            "{v}"
        );
    }
}

#[test]
fn token_cap_keeps_newest_50_and_resume_adds_none() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &["--setting", "API_Enable_Rate_Limiter=false"],
    );
    let (_, first) = login(&s, "boss", "Sup3r-Secret!pw");
    let mut last = String::new();
    for _ in 0..55 {
        last = login(&s, "boss", "Sup3r-Secret!pw").1;
    }
    let n = |s: &Sim| {
        let st = s.lock();
        st.users[st.user_idx_by_username("boss").unwrap()]
            .tokens
            .len()
    };
    assert_eq!(n(&s), 50);
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"resume": first}),
        None,
    ));
    assert_eq!(r.status, 401, "oldest token must be gone");
    let r = s.handle(&req("POST", "/api/v1/login", json!({"resume": last}), None));
    assert_eq!(body(&r)["data"]["authToken"], json!(last));
    assert_eq!(n(&s), 50);
}

#[test]
fn rate_limiter_follows_meteor_rule() {
    let cfg = parse_args(&["--port".into(), "0".into()], HashMap::new()).unwrap();
    let mut st = State::new(&cfg);
    let t0 = st.started;
    for i in 1..=10 {
        let r = st.rate_check("/api/v1/meget", "1.2.3.4", t0 + Duration::from_millis(i));
        assert!(r.allowed);
        assert_eq!(r.remaining, 10 - i);
    }
    let r = st.rate_check("/api/v1/meget", "1.2.3.4", t0 + Duration::from_millis(20));
    assert!(!r.allowed);
    assert_eq!(r.time_to_reset_ms, 60_000 - 20);
    // other IPs and routes have their own counters
    assert!(
        st.rate_check("/api/v1/meget", "5.6.7.8", t0 + Duration::from_millis(21))
            .allowed
    );
    assert!(
        st.rate_check("/api/v1/infoget", "1.2.3.4", t0 + Duration::from_millis(21))
            .allowed
    );
    // after the window the counter restarts
    assert!(
        st.rate_check(
            "/api/v1/meget",
            "1.2.3.4",
            t0 + Duration::from_millis(60_001)
        )
        .allowed
    );
}

#[test]
fn admin_bypasses_rate_limit_but_users_do_not() {
    let s = sim("7.10.0", ADMIN, &["--rate-limit-calls", "2"]);
    let (aid, atok) = login(&s, "boss", "Sup3r-Secret!pw");
    for _ in 0..5 {
        assert_eq!(
            s.handle(&req("GET", "/api/v1/me", json!({}), Some((&aid, &atok))))
                .status,
            200
        );
    }
    let r = s.handle(&req(
        "POST",
        "/api/v1/users.create",
        json!({"username": "joe", "name": "Joe", "email": "joe@x.org", "password": "pw"}),
        Some((&aid, &atok)),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    // login is rate limited for everybody (no user yet): call 2 of 2 passes, call 3 is refused
    let (jid, jtok) = login(&s, "joe", "pw");
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "joe", "password": "pw"}),
        None,
    ));
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r
        .headers
        .iter()
        .any(|(k, v)| k == "X-RateLimit-Remaining" && v == "0"));
    // a plain user has no api-bypass-rate-limit
    for _ in 0..2 {
        assert_eq!(
            s.handle(&req("GET", "/api/v1/me", json!({}), Some((&jid, &jtok))))
                .status,
            200
        );
    }
    let r = s.handle(&req("GET", "/api/v1/me", json!({}), Some((&jid, &jtok))));
    assert_eq!(r.status, 429);
    assert!(body(&r)["error"]
        .as_str()
        .unwrap()
        .ends_with("[error-too-many-requests]"));
}

#[test]
fn totp_required_for_verified_email_user() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &["--setting", "API_Enable_Rate_Limiter=false"],
    );
    let (aid, atok) = login(&s, "boss", "Sup3r-Secret!pw");
    let r = s.handle(&req("POST", "/api/v1/users.create", json!({"username": "ver", "name": "V", "email": "v@x.org", "password": "pw", "verified": true}), Some((&aid, &atok))));
    assert_eq!(r.status, 200);
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "ver", "password": "pw"}),
        None,
    ));
    assert_eq!(r.status, 401);
    let b = body(&r);
    assert_eq!(b["error"], "totp-required");
    assert_eq!(b["details"]["method"], "email");
    let code = {
        let st = s.lock();
        st.users[st.user_idx_by_username("ver").unwrap()]
            .email_code
            .clone()
            .unwrap()
    };
    let r = s.handle(&req(
        "POST",
        "/api/v1/login",
        json!({"username": "ver", "password": "pw", "code": code}),
        None,
    ));
    assert_eq!(r.status, 200);
}

#[test]
fn password_policy_8x_is_strict() {
    let s = sim("8.1.0", ADMIN, &[]);
    let st = s.lock();
    let e = st.validate_password("short").unwrap_err();
    assert_eq!(e.body["errorType"], "error-password-policy-not-met");
    let reasons: Vec<&str> = e.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"error-password-policy-not-met-minLength"));
    assert!(reasons.contains(&"error-password-policy-not-met-oneUppercase"));
    assert!(st.validate_password("Abcdefgh1234!x").is_ok());
    assert!(
        st.validate_password("Abbbb1234567890!").is_err(),
        "4 repeated chars"
    );
    drop(st);
    let s = sim("7.10.0", ADMIN, &[]);
    assert!(s.lock().validate_password("x").is_ok());
}

#[test]
fn users_update_needs_2fa_after_remember_window() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &[
            "--setting",
            "Accounts_TwoFactorAuthentication_RememberFor=0",
        ],
    );
    let (aid, atok) = login(&s, "boss", "Sup3r-Secret!pw");
    let upd = json!({"userId": aid, "data": {"name": "Big Boss"}});
    let r = s.handle(&req(
        "POST",
        "/api/v1/users.update",
        upd.clone(),
        Some((&aid, &atok)),
    ));
    assert_eq!(r.status, 400);
    assert_eq!(body(&r)["errorType"], "totp-required");
    assert_eq!(body(&r)["details"]["method"], "password");
    let mut rq = req("POST", "/api/v1/users.update", upd, Some((&aid, &atok)));
    rq.headers.insert("x-2fa-method".into(), "password".into());
    rq.headers
        .insert("x-2fa-code".into(), sha256_hex("Sup3r-Secret!pw"));
    let r = s.handle(&rq);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(body(&r)["user"]["name"], "Big Boss");
}

#[test]
fn rooms_invites_integrations_and_hooks() {
    let s = sim(
        "7.10.0",
        ADMIN,
        &["--setting", "API_Enable_Rate_Limiter=false"],
    );
    let (aid, atok) = login(&s, "boss", "Sup3r-Secret!pw");
    let a = Some((aid.as_str(), atok.as_str()));
    let r = s.handle(&req(
        "POST",
        "/api/v1/users.create",
        json!({"username": "bot", "name": "Bot", "email": "b@x.org", "password": "pw"}),
        a,
    ));
    let bot_id = body(&r)["user"]["_id"].as_str().unwrap().to_string();
    let r = s.handle(&req(
        "POST",
        "/api/v1/channels.create",
        json!({"name": "ops"}),
        a,
    ));
    let rid = body(&r)["channel"]["_id"].as_str().unwrap().to_string();
    let r = s.handle(&req(
        "POST",
        "/api/v1/channels.create",
        json!({"name": "ops"}),
        a,
    ));
    assert_eq!(body(&r)["errorType"], "error-duplicate-channel-name");
    assert_eq!(
        body(&r)["error"],
        "A channel with name 'ops' exists [error-duplicate-channel-name]"
    );
    for _ in 0..2 {
        let r = s.handle(&req(
            "POST",
            "/api/v1/channels.invite",
            json!({"roomId": rid, "userId": bot_id}),
            a,
        ));
        assert_eq!(r.status, 200, "re-invite is not an error: {}", r.body);
    }
    let r = s.handle(&req("POST", "/api/v1/integrations.create", json!({"type": "webhook-incoming", "name": "gl", "enabled": true, "username": "bot", "channel": "#ops", "scriptEnabled": true, "script": "class Script {}", "bogus": 1}), a));
    assert_eq!(body(&r)["errorType"], "invalid-params");
    let r = s.handle(&req("POST", "/api/v1/integrations.create", json!({"type": "webhook-incoming", "name": "gl", "enabled": true, "username": "bot", "channel": "#ops", "scriptEnabled": true, "script": "class Script {}"}), a));
    let integ = body(&r)["integration"].clone();
    assert!(s
        .lock()
        .users
        .iter()
        .any(|u| u.username == "bot" && u.roles.contains(&"bot".to_string())));
    let path = format!(
        "/hooks/{}/{}",
        integ["_id"].as_str().unwrap(),
        integ["token"].as_str().unwrap()
    );
    assert_eq!(integ["scriptCompiled"], "class Script {}");
    // ScriptEngine.ts: no process_incoming_request -> result undefined -> success, nothing posted.
    let r = s.handle(&req("POST", &path, json!({"text": "hello"}), None));
    assert_eq!((r.status, body(&r)), (200, json!({"success": true})));
    let r = s.handle(&req("GET", "/_sim/rooms/ops/messages", json!({}), None));
    assert_eq!(body(&r)["messages"], json!([]));
    let r = s.handle(&req(
        "PUT",
        "/api/v1/integrations.update",
        json!({"type": "webhook-incoming", "integrationId": integ["_id"], "name": "gl", "enabled": true,
            "username": "bot", "channel": "#ops", "scriptEnabled": false}),
        a,
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.handle(&req("POST", &path, json!({"text": "hello"}), None));
    assert_eq!(r.status, 200, "{}", r.body);
    let (iid, tok) = (
        integ["_id"].as_str().unwrap(),
        integ["token"].as_str().unwrap(),
    );
    // 7.10 routes in registration order: the 3-segment info form is the webhook route with
    // integrationId "info" (an unknown integration: 500), the 4-segment form is the info route.
    let r = s.handle(&req(
        "GET",
        &format!("/hooks/info/{iid}/{tok}"),
        json!({}),
        None,
    ));
    assert_eq!((r.status, r.body.as_str()), (500, "Internal Server Error"));
    let r = s.handle(&req(
        "GET",
        &format!("/hooks/info/{iid}/x/{tok}"),
        json!({}),
        None,
    ));
    assert_eq!(body(&r), json!({"success": true}));
    let r = s.handle(&req(
        "POST",
        &format!("/hooks/{iid}/wrong"),
        json!({"text": "x"}),
        None,
    ));
    assert_eq!(r.status, 500);
    let r = s.handle(&req("GET", "/_sim/rooms/ops/messages", json!({}), None));
    assert_eq!(body(&r)["messages"][0]["msg"], "hello");
    assert_eq!(body(&r)["messages"][0]["_sim"]["scriptEnabled"], false);
    assert_eq!(body(&r)["messages"][0]["_sim"]["scriptRun"], false);
    let r = s.handle(&req(
        "GET",
        &format!("/api/v1/subscriptions.getOne?roomId={rid}"),
        json!({}),
        a,
    ));
    assert_eq!(body(&r)["subscription"]["roles"], json!(["owner"]));
}

#[test]
fn health_routes_per_version() {
    let s = sim("7.10.0", &[], &[]);
    assert_eq!(s.handle(&req("GET", "/health", json!({}), None)).body, "ok");
    assert_eq!(s.handle(&req("GET", "/livez", json!({}), None)).status, 404);
    let s = sim("8.1.0", &[], &[]);
    assert_eq!(
        body(&s.handle(&req("GET", "/livez", json!({}), None))),
        json!({"status": "ok"})
    );
    assert_eq!(
        s.handle(&req("GET", "/readyz", json!({}), None)).status,
        200
    );
}

#[test]
fn info_hides_patch_version_from_anonymous() {
    // 7.10/8.1: `info` is authRequired false, the router never authenticates it: admins too
    // get major.minor. 6.13 kept as first read (full version for view-statistics).
    for (v, short, admin) in [
        ("6.13.0", "6.13", "6.13.0"),
        ("7.10.0", "7.10", "7.10"),
        ("8.1.0", "8.1", "8.1"),
    ] {
        let s = sim(v, ADMIN, &[]);
        assert_eq!(
            body(&s.handle(&req("GET", "/api/info", json!({}), None)))["version"],
            short
        );
        let (aid, atok) = login(&s, "boss", "Sup3r-Secret!pw");
        let b = body(&s.handle(&req("GET", "/api/info", json!({}), Some((&aid, &atok)))));
        assert_eq!(b["version"], admin, "{v}");
        assert_eq!(b.get("info").is_some(), v == "6.13.0", "{v}: {b}");
    }
}

#[test]
fn first_registered_user_becomes_admin_without_env_admin() {
    let s = sim("7.10.0", &[], &[]);
    let r = s.handle(&req(
        "POST",
        "/api/v1/users.register",
        json!({"username": "first", "email": "f@x.org", "pass": "pw", "name": "F"}),
        None,
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    // users.register allows 1 call per IP per window: the second user comes from another IP.
    let mut second = req(
        "POST",
        "/api/v1/users.register",
        json!({"username": "second", "email": "s@x.org", "pass": "pw", "name": "S"}),
        None,
    );
    second.ip = "127.0.0.2".into();
    let r = s.handle(&second);
    assert_eq!(r.status, 200, "{}", r.body);
    let st = s.lock();
    assert!(st.users[st.user_idx_by_username("first").unwrap()]
        .roles
        .contains(&"admin".to_string()));
    assert!(!st.users[st.user_idx_by_username("second").unwrap()]
        .roles
        .contains(&"admin".to_string()));
}

#[test]
fn registration_can_be_disabled() {
    let s = sim(
        "7.10.0",
        &[],
        &["--setting", "Accounts_RegistrationForm=Disabled"],
    );
    let r = s.handle(&req(
        "POST",
        "/api/v1/users.register",
        json!({"username": "x", "email": "x@x.org", "pass": "pw", "name": "X"}),
        None,
    ));
    assert_eq!(body(&r)["errorType"], "error-user-registration-disabled");
}

/// 8.1 expected `[error-forbidden]` (the 7.x flag misread as true on 8.x): the 8.x
/// permissions middleware (permissions.ts @ a1167b28) sends `[error-unauthorized]`.
#[test]
fn permission_failures_are_403_with_the_version_s_error_id() {
    for (v, id) in [
        ("6.13.0", "error-unauthorized"),
        ("7.10.0", "error-unauthorized"),
        ("8.1.0", "error-unauthorized"),
    ] {
        let s = sim(v, ADMIN, &[]);
        let (uid, tok) = login(&s, "boss", "Sup3r-Secret!pw");
        let r = s.handle(&req(
            "POST",
            "/api/v1/users.create",
            json!({"email": "p@example.org", "name": "P", "password": "Pl4in-User-Passw0rd!", "username": "plain"}),
            Some((&uid, &tok)),
        ));
        assert_eq!(r.status, 200, "{v}: {}", r.body);
        let (puid, ptok) = login(&s, "plain", "Pl4in-User-Passw0rd!");
        let r = s.handle(&req(
            "GET",
            "/api/v1/integrations.list",
            json!({}),
            Some((&puid, &ptok)),
        ));
        assert_eq!(r.status, 403, "{v}");
        assert!(
            body(&r)["error"]
                .as_str()
                .unwrap()
                .ends_with(&format!("[{id}]")),
            "{v}: {}",
            r.body
        );
    }
}

#[test]
fn brute_force_block_per_version_reply() {
    for v in ["7.10.0", "8.1.0"] {
        let s = sim(v, ADMIN, &["--setting", "API_Enable_Rate_Limiter=false"]);
        for _ in 0..10 {
            let r = s.handle(&req(
                "POST",
                "/api/v1/login",
                json!({"username": "boss", "password": "nope"}),
                None,
            ));
            assert_eq!(r.status, 401);
        }
        // Blocked even with the right password; an e-mail login is not counted per user.
        let r = s.handle(&req(
            "POST",
            "/api/v1/login",
            json!({"username": "boss", "password": "Sup3r-Secret!pw"}),
            None,
        ));
        assert_eq!(r.status, 401);
        // 8.1 too: `applyBreakingChanges` is shouldBreakInVersion('9.0.0') there.
        assert_eq!(body(&r)["error"], "error-login-blocked-for-user", "{v}");
        let r = s.handle(&req(
            "POST",
            "/api/v1/login",
            json!({"user": "boss@example.org", "password": "Sup3r-Secret!pw"}),
            None,
        ));
        assert_eq!(r.status, 200, "{v}: {}", r.body);
    }
}

#[test]
fn integrations_list_pages() {
    let s = sim("7.10.0", ADMIN, &[]);
    let (uid, tok) = login(&s, "boss", "Sup3r-Secret!pw");
    for i in 0..3 {
        let r = s.handle(&req(
            "POST",
            "/api/v1/integrations.create",
            json!({"type": "webhook-incoming", "name": format!("h{i}"), "enabled": true,
                "username": "boss", "channel": "#general", "scriptEnabled": false}),
            Some((&uid, &tok)),
        ));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = s.handle(&req(
        "GET",
        "/api/v1/integrations.list?offset=1&count=1",
        json!({}),
        Some((&uid, &tok)),
    ));
    let b = body(&r);
    assert_eq!(
        (b["count"].clone(), b["total"].clone(), b["offset"].clone()),
        (json!(1), json!(3), json!(1))
    );
    assert_eq!(b["integrations"][0]["name"], "h1");
    let r = s.handle(&req(
        "GET",
        "/api/v1/integrations.list?count=500",
        json!({}),
        Some((&uid, &tok)),
    ));
    assert_eq!(body(&r)["count"], 3);
}
