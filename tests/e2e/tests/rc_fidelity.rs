//! Real-server behaviour that broke the binaries while rc-sim shared their misreading
//! (issue 12, Rocket.Chat items 1-6). Each test runs the built binaries against rc-sim
//! emulating the release whose router / error paths were read upstream.

use e2e::rc::*;
use serde_json::json;
use std::path::PathBuf;

const VERSIONS: [&str; 3] = ["6.13.0", "7.10.0", "8.1.0"];

fn with(mut env: Vec<(String, String)>, k: &str, v: &str) -> Vec<(String, String)> {
    env.retain(|(key, _)| key != k);
    env.push((k.to_string(), v.to_string()));
    env
}

fn ready(version: &str, tag: &str) -> (Sim, Vec<(String, String)>, PathBuf, PathBuf) {
    let sim = Sim::start(&["--version", version]);
    let env = env(&sim.url);
    let dir = temp_dir(tag);
    let url_file = dir.join("webhook-url");
    let r = bootstrap(&env, &["--webhook-url-file", url_file.to_str().unwrap()]).noting(version);
    r.exits(0);
    (sim, env, dir.join("token"), url_file)
}

/// Logins rc-sim answered so far (test-only /_sim/logins).
fn logins(sim: &Sim) -> u64 {
    let (_, v) = http_json(&sim.url, "GET", "/_sim/logins", &[], None);
    v["failed"].as_u64().unwrap() + v["succeeded"].as_u64().unwrap()
}

/// Bug 1: post-Restivus routers match `/hooks/info/<id>/<token>` as the webhook route.
#[test]
fn webhook_check_passes_on_every_router_and_a_bad_token_is_still_refused() {
    for v in VERSIONS {
        let (sim, env, cache, url_file) = ready(v, &format!("hookcheck-{v}"));
        let before = sim.messages(ROOM).to_string();
        let args = [
            "--token-cache",
            cache.to_str().unwrap(),
            "--webhook-url-file",
            url_file.to_str().unwrap(),
            "--json",
        ];
        let r = probe(&env, &args).noting(v);
        r.exits(0).json_field("webhook", "valid");
        assert_eq!(sim.messages(ROOM).to_string(), before, "{v}: posted");
        let url = std::fs::read_to_string(&url_file).unwrap();
        let (head, _) = url.trim().rsplit_once('/').unwrap();
        let bad = with(
            env.clone(),
            "RC_PROBE_WEBHOOK_URL",
            &format!("{head}/wrong"),
        );
        let r = probe(&bad, &["--token-cache", cache.to_str().unwrap()]).noting(v);
        r.exits(3).stderr_has("webhook URL is not valid");
    }
}

/// Bug 2: a wrong ADMIN_PASS must not burn the admin's 10 attempts (it did: 20+ in 60 s).
#[test]
fn wrong_admin_password_spends_few_logins_and_leaves_the_admin_unblocked() {
    let sim = Sim::start(&[]);
    let env = with(env(&sim.url), "ADMIN_PASS", "Not-The-Passw0rd!x");
    let env = with(env, "RC_BOOTSTRAP_ADMIN_WAIT", "20s");
    let r = bootstrap(&env, &["--timeout", "60s"]);
    r.exits(3);
    let n = logins(&sim);
    assert!(n <= 5, "{n} login attempts: {r:?}");
    // The real admin can still log in: no block.
    let (status, v) = http_json(
        &sim.url,
        "POST",
        "/api/v1/login",
        &[],
        Some(&json!({"user": ADMIN, "password": ADMIN_PASS})),
    );
    assert_eq!(status, 200, "admin blocked: {v}");
}

/// Bug 2: a blocked login is named as such, with how long it lasts (pre-8.0 replies).
#[test]
fn blocked_admin_is_reported_as_blocked() {
    // The login route's rate limiter (10 a minute) would refuse the 11th call first.
    let sim = Sim::start(&[
        "--version",
        "7.10.0",
        "--setting",
        "API_Enable_Rate_Limiter=false",
    ]);
    for _ in 0..10 {
        http_json(
            &sim.url,
            "POST",
            "/api/v1/login",
            &[],
            Some(&json!({"user": ADMIN, "password": "nope"})),
        );
    }
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    r.exits(3)
        .stderr_has("blocked by Rocket.Chat's brute-force protection")
        .stderr_has("5 minutes");
    assert_eq!(logins(&sim), 11, "one attempt only: {r:?}");
}

/// Bug 2: a probe with a refused password logs in once, not once per run.
#[test]
fn probe_never_retries_a_refused_password() {
    let (sim, env, cache, _) = ready("8.1.0", "refused");
    let base = logins(&sim);
    let wrong = with(env.clone(), "ROCKETCHAT_PASSWORD", "Wr0ng-Passw0rd!xyz");
    for _ in 0..12 {
        let r = probe(&wrong, &["--token-cache", cache.to_str().unwrap()]);
        r.exits(3);
    }
    let r = probe(&wrong, &["--token-cache", cache.to_str().unwrap()]);
    r.stderr_has("not retrying it until it changes");
    assert_eq!(logins(&sim) - base, 1, "logins spent");
    // The bot is not blocked, and the right password works at once.
    let r = probe(&env, &["--token-cache", cache.to_str().unwrap()]);
    r.exits(0);
}

/// Restarts (`restart: on-failure`) with a wrong bot password spend one bot login, not one per
/// run: ten runs in five minutes used to block the bot user (and Hubot with it).
#[test]
fn bootstrap_restarts_with_a_wrong_bot_password_spend_one_bot_login() {
    // The login route's rate limiter (10 a minute) would refuse the admin logins first; real
    // restarts are spaced by the engine's back-off.
    let sim = Sim::start(&["--setting", "API_Enable_Rate_Limiter=false"]);
    let env = env(&sim.url);
    bootstrap(&env, &[]).exits(0);
    let failed = |sim: &Sim| {
        let (_, v) = http_json(&sim.url, "GET", "/_sim/logins", &[], None);
        v["failed"].as_u64().unwrap()
    };
    let base = failed(&sim);
    let wrong = with(env.clone(), "ROCKETCHAT_PASSWORD", "Wr0ng-Passw0rd!xyz");
    for _ in 0..12 {
        let r = bootstrap(&wrong, &["--timeout", "30s"]);
        r.exits(3).stderr_has("--fix-drift");
    }
    let r = bootstrap(&wrong, &["--timeout", "30s"]);
    r.stderr_has("not retried until it changes");
    assert_eq!(failed(&sim) - base, 1, "failed logins spent");
    // The bot is not blocked: its real password still works.
    let (status, v) = http_json(
        &sim.url,
        "POST",
        "/api/v1/login",
        &[],
        Some(&json!({"user": BOT, "password": BOT_PASS})),
    );
    assert_eq!(status, 200, "bot blocked: {v}");
    // --fix-drift resets the password to the configured one and forgets the refusal.
    let r = bootstrap(&wrong, &["--fix-drift", "--timeout", "30s"]);
    r.exits(0);
    let r = bootstrap(&wrong, &["--json", "--timeout", "30s"]);
    r.exits(0);
}

/// Bug 3: rooms.info error fields are swapped and archived rooms are refused first (6.x/7.x).
#[test]
fn rooms_info_errors_as_the_server_sends_them() {
    for v in VERSIONS {
        let (sim, env, cache, _) = ready(v, &format!("roominfo-{v}"));
        let admin = sim.session(ADMIN, ADMIN_PASS);
        let (st, _) = sim.api(
            &admin,
            "POST",
            "/api/v1/groups.create",
            Some(&json!({"name": "secret"})),
        );
        assert_eq!(st, 200);
        let r = probe(
            &with(env.clone(), "ROCKETCHAT_ROOM", "secret"),
            &["--token-cache", cache.to_str().unwrap()],
        )
        .noting(v);
        r.exits(3).stderr_has("room #secret not found");
        let r = probe(
            &with(env.clone(), "ROCKETCHAT_ROOM", "nowhere"),
            &["--token-cache", cache.to_str().unwrap()],
        )
        .noting(v);
        r.stderr_has("room #nowhere not found");
        http_json(&sim.url, "GET", "/_sim/rooms/ops/archive", &[], None);
        let r = probe(&env, &["--token-cache", cache.to_str().unwrap()]).noting(v);
        r.exits(3).stderr_has("#ops is archived");
    }
}

/// Bug 4: a script that does not compile is a 200 with integration.scriptError.
#[test]
fn uncompilable_script_exits_3_with_the_compile_error() {
    let sim = Sim::start(&[]);
    let dir = temp_dir("badscript");
    let script = dir.join("bad.js");
    std::fs::write(&script, "class Script { process_incoming_request( {").unwrap();
    let r = bootstrap(&env(&sim.url), &["--script", script.to_str().unwrap()]);
    r.exits(3)
        .stderr_has("could not compile its script")
        .stderr_has("SyntaxError");
    // A rerun sees the same broken hook: still exit 3, not "unchanged".
    let r = bootstrap(&env(&sim.url), &["--script", script.to_str().unwrap()]);
    r.exits(3);
}

/// Bug 5: logout answers without `success` (6.x/7.x) or an empty 200 (8.x).
#[test]
fn logout_shapes_leave_no_misleading_line() {
    for v in VERSIONS {
        let sim = Sim::start(&["--version", v]);
        let r = bootstrap(&env(&sim.url), &[]).noting(v);
        r.exits(0)
            .stderr_lacks("not JSON")
            .stderr_lacks("could not log the admin out");
        assert_eq!(sim.login_tokens(ADMIN), 0, "{v}: admin token left behind");
    }
}

/// Bug 6: integrations.list pages (50 by default, 100 at most); the hook is found on page 2.
#[test]
fn webhook_is_found_beyond_the_first_page() {
    let sim = Sim::start(&[]);
    let env = env(&sim.url);
    bootstrap(&env, &[]).exits(0);
    let admin = sim.session(ADMIN, ADMIN_PASS);
    for i in 0..105 {
        let (st, v) = sim.api(
            &admin,
            "POST",
            "/api/v1/integrations.create",
            Some(
                &json!({"type": "webhook-incoming", "name": format!("other-{i}"), "enabled": true,
                "username": BOT, "channel": "#ops", "scriptEnabled": false}),
            ),
        );
        assert_eq!(st, 200, "{v}");
    }
    let (_, page) = sim.api(&admin, "GET", "/api/v1/integrations.list", None);
    assert_eq!(
        (page["count"].as_u64(), page["total"].as_u64()),
        (Some(50), Some(106))
    );
    let r = bootstrap(&env, &[]);
    r.exits(0).stdout_has("webhook unchanged");
}

/// Bug 6: from 7.x the posting user is updated in place (same URL); 6.x recreates the hook.
#[test]
fn changing_the_bot_updates_the_hook_where_the_server_allows() {
    for (v, expect) in [
        ("6.13.0", "recreated"),
        ("7.10.0", "updated"),
        ("8.1.0", "updated"),
    ] {
        let sim = Sim::start(&["--version", v]);
        let env = env(&sim.url);
        bootstrap(&env, &[]).exits(0);
        let (_, before) = http_json(&sim.url, "GET", "/_sim/integrations", &[], None);
        let other = with(env.clone(), "ROCKETCHAT_USER", "gitbot");
        let r = bootstrap(&other, &[]).noting(v);
        r.exits(0).stdout_has(&format!("webhook {expect}"));
        let (_, after) = http_json(&sim.url, "GET", "/_sim/integrations", &[], None);
        let same = before["integrations"][0]["_id"] == after["integrations"][0]["_id"];
        assert_eq!(same, expect == "updated", "{v}: {after}");
        assert_eq!(after["integrations"][0]["username"], "gitbot", "{v}");
    }
}
