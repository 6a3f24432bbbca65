//! rc-probe, built, against rc-sim over real sockets (set up by the built rc-bootstrap).

use e2e::rc::*;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// A sim with the bot, room and webhook set up; returns (sim, env, token cache, webhook URL file).
fn ready(args: &[&str], tag: &str) -> (Sim, Vec<(String, String)>, PathBuf, PathBuf) {
    let sim = Sim::start(args);
    let env = env(&sim.url);
    let dir = temp_dir(tag);
    let url_file = dir.join("webhook-url");
    let r = bootstrap(&env, &["--webhook-url-file", url_file.to_str().unwrap()]);
    r.exits(0);
    (sim, env, dir.join("token"), url_file)
}

fn cache_arg(p: &std::path::Path) -> [&str; 2] {
    ["--token-cache", p.to_str().unwrap()]
}

#[test]
fn healthy_with_webhook_check_that_posts_nothing() {
    let (sim, env, cache, url_file) = ready(&[], "healthy");
    let before = sim.messages(ROOM).to_string();
    let r = probe(
        &env,
        &[
            "--token-cache",
            cache.to_str().unwrap(),
            "--webhook-url-file",
            url_file.to_str().unwrap(),
            "--json",
        ],
    );
    r.exits(0)
        .json_field("ok", true)
        .json_field("webhook", "valid")
        .json_field("session", "login");
    assert_eq!(
        sim.messages(ROOM).to_string(),
        before,
        "the webhook check must not post"
    );
    // Cached session: 0600 and reused.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let again = probe(&env, &["--token-cache", cache.to_str().unwrap(), "--json"]);
    again.json_field("session", "cached");
    let text = probe(&env, &cache_arg(&cache));
    text.stdout_starts("rc-probe: ok: hubot can post in #ops");
}

#[test]
fn invalid_webhook_token_is_refused() {
    let (sim, env, cache, _) = ready(&[], "badhook");
    let (_, integ) = http_json(&sim.url, "GET", "/_sim/integrations", &[], None);
    let id = integ["integrations"][0]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut env = env;
    env.push((
        "RC_PROBE_WEBHOOK_URL".into(),
        format!("{}/hooks/{id}/not-the-token", sim.url),
    ));
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("webhook URL is not valid");
}

#[test]
fn missing_room() {
    let (_sim, mut env, cache, _) = ready(&[], "noroom");
    env.push(("ROCKETCHAT_ROOM".into(), "nowhere".into()));
    env.retain(|(k, v)| k != "ROCKETCHAT_ROOM" || v == "nowhere");
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("#nowhere not found");
}

#[test]
fn bot_not_member() {
    let (sim, mut env, cache, _) = ready(&[], "notmember");
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/channels.create",
        Some(&json!({"name": "elsewhere"})),
    );
    assert_eq!(status, 200, "{v}");
    env.retain(|(k, _)| k != "ROCKETCHAT_ROOM");
    env.push(("ROCKETCHAT_ROOM".into(), "ops,elsewhere".into()));
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("not a member of #elsewhere");
}

#[test]
fn read_only_room_without_the_right() {
    let (sim, env, cache, _) = ready(&[], "ro");
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let (_, room) = http_json(&sim.url, "GET", &format!("/_sim/rooms/{ROOM}"), &[], None);
    let rid = room["_id"].as_str().unwrap().to_string();
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/channels.setReadOnly",
        Some(&json!({"roomId": rid, "readOnly": true})),
    );
    assert_eq!(status, 200, "{v}");
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3)
        .stderr_has("read-only")
        .stderr_has("post-readonly");
    // rc-bootstrap repairs it (moderator), then the probe is healthy.
    let fix = bootstrap(&env, &[]);
    fix.exits(0);
    probe(&env, &cache_arg(&cache)).exits(0);
}

#[test]
fn muted_bot() {
    let (sim, env, cache, _) = ready(&[], "muted");
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let (_, room) = http_json(&sim.url, "GET", &format!("/_sim/rooms/{ROOM}"), &[], None);
    let ddp = json!({"msg": "method", "id": "1", "method": "muteUserInRoom",
                     "params": [{"rid": room["_id"], "username": BOT}]});
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/method.call/muteUserInRoom",
        Some(&json!({"message": ddp.to_string()})),
    );
    assert_eq!(status, 200, "{v}");
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("muted");
}

/// A read-only room refuses the bot (no moderator role) until an admin unmutes it there:
/// unmuteUserInRoom in a read-only room adds it to the room's `unmuted`, which lets it post.
#[test]
fn bot_unmuted_in_a_read_only_room_may_post() {
    let (sim, env, cache, _) = ready(&[], "unmuted");
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let (_, room) = http_json(&sim.url, "GET", &format!("/_sim/rooms/{ROOM}"), &[], None);
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/channels.setReadOnly",
        Some(&json!({"roomId": room["_id"], "readOnly": true})),
    );
    assert_eq!(status, 200, "{v}");
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("read-only");
    let ddp = json!({"msg": "method", "id": "1", "method": "unmuteUserInRoom",
                     "params": [{"rid": room["_id"], "username": BOT}]});
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/method.call/unmuteUserInRoom",
        Some(&json!({"message": ddp.to_string()})),
    );
    assert_eq!(status, 200, "{v}");
    let r = probe(&env, &cache_arg(&cache));
    r.exits(0);
}

#[test]
fn wrong_password_is_refused_with_exit_3() {
    let (_sim, mut env, cache, _) = ready(&[], "wrongpw");
    env.retain(|(k, _)| k != "ROCKETCHAT_PASSWORD");
    env.push(("ROCKETCHAT_PASSWORD".into(), "Wr0ng-Passw0rd!zz".into()));
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3).stderr_has("login as hubot refused");
}

#[test]
fn server_down_is_exit_1_within_the_timeout() {
    let port = e2e::free_port();
    let dir = temp_dir("down");
    let r = probe(
        &env(&format!("http://127.0.0.1:{port}")),
        &[
            "--timeout",
            "2s",
            "--token-cache",
            dir.join("t").to_str().unwrap(),
        ],
    );
    r.exits(1).within(Duration::from_secs(4));
    // A server that accepts but never answers: the deadline still holds.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let r = probe(
        &env(&url),
        &[
            "--timeout",
            "1s",
            "--token-cache",
            dir.join("t").to_str().unwrap(),
        ],
    );
    r.exits(1).within(Duration::from_secs(3));
}

#[test]
fn operator_given_token() {
    let (sim, env, _cache, _) = ready(&[], "given");
    let bot = sim.session(BOT, BOT_PASS);
    let mut env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k != "ROCKETCHAT_PASSWORD")
        .collect();
    env.push(("RC_PROBE_USER_ID".into(), bot[0].1.clone()));
    env.push(("RC_PROBE_AUTH_TOKEN".into(), bot[1].1.clone()));
    let before = sim.login_tokens(BOT);
    let r = probe(&env, &["--json"]);
    r.exits(0)
        .json_field("session", "given")
        .stdout_lacks(&bot[1].1);
    assert_eq!(
        sim.login_tokens(BOT),
        before,
        "a given token is neither replaced nor logged out"
    );
}

/// Correctness, not timing: a probe every few seconds for days must neither push Hubot's own
/// session out (the server keeps the newest 50 login tokens per user) nor trip the rate limiter.
#[test]
fn a_thousand_probes_keep_one_session_and_never_hit_429() {
    let (sim, env, cache, _) = ready(&[], "thousand");
    let first = probe(&env, &cache_arg(&cache));
    first.exits(0);
    let tokens = sim.login_tokens(BOT);
    assert_eq!(tokens, 1, "one cached session");
    for _ in 0..1000 {
        let r = probe(&env, &cache_arg(&cache));
        r.exits(0).lacks("rate limited");
    }
    assert_eq!(
        sim.login_tokens(BOT),
        tokens,
        "the probes must reuse the cached session"
    );
}

#[test]
fn unwritable_cache_logs_out_after_each_run() {
    let (sim, env, _cache, _) = ready(&[], "nocache");
    let before = sim.login_tokens(BOT);
    for _ in 0..3 {
        let r = probe(&env, &["--token-cache", "/nonexistent-dir/rc-probe.token"]);
        r.exits(0).stdout_has("not writable");
    }
    assert_eq!(sim.login_tokens(BOT), before, "no token piles up");
}

/// 8.1 names a brute-force block as 7.x does (`applyBreakingChanges` is 9.0.0 from 8.0.1 on,
/// sims/rc-sim/README.md ledger): rc-probe says the bot is blocked, not "refused", even with the
/// right password.
#[test]
fn bot_blocked_by_brute_force_protection_is_named_on_8_1() {
    let (sim, env, cache, _) = ready(
        &[
            "--version",
            "8.1.0",
            "--setting",
            "API_Enable_Rate_Limiter=false",
        ],
        "blocked81",
    );
    for _ in 0..10 {
        let (st, _) = http_json(
            &sim.url,
            "POST",
            "/api/v1/login",
            &[],
            Some(&json!({"user": BOT, "password": "Wr0ng-Passw0rd!zz"})),
        );
        assert_eq!(st, 401);
    }
    let r = probe(&env, &cache_arg(&cache));
    r.exits(3)
        .stderr_has("blocked by Rocket.Chat's brute-force protection")
        .stderr_lacks("wrong --user/--password");
}

#[test]
fn a_deactivated_bot_is_unhealthy_even_with_a_cached_token() {
    let (sim, env, cache, _) = ready(&[], "deactivated");
    probe(&env, &cache_arg(&cache)).exits(0);
    // The admin deactivates the bot: users.update {active:false} → setUserActiveStatus, which
    // removes the bot's login tokens; the cached token is refused, the login says why.
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let bot = sim.user(BOT);
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/users.update",
        Some(&json!({"userId": bot["_id"], "data": {"active": false}})),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(sim.login_tokens(BOT), 0, "deactivation removes every token");
    probe(&env, &cache_arg(&cache))
        .exits(3)
        .one_line()
        .stderr_has("login as hubot refused")
        .stderr_has("User is not activated");
}
