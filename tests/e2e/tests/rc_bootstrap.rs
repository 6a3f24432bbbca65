//! rc-bootstrap, built, against rc-sim over real sockets.

use e2e::rc::*;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;

fn with(mut env: Vec<(String, String)>, k: &str, v: &str) -> Vec<(String, String)> {
    env.retain(|(key, _)| key != k);
    env.push((k.to_string(), v.to_string()));
    env
}

#[test]
fn fresh_server_waits_for_admin_then_second_run_is_unchanged_and_webhook_posts() {
    // 6.13: the release whose server answers before initialData created the admin (startup.rs).
    let sim = Sim::start(&["--version", "6.13.0", "--admin-delay", "1500ms"]);
    let dir = temp_dir("fresh");
    let url_file = dir.join("webhook-url");
    let env = env(&sim.url);
    let url_file_s = url_file.to_str().unwrap();

    let first = bootstrap(
        &env,
        &["--webhook-url-file", url_file_s, "--timeout", "60s"],
    );
    first.exits(0);
    // It waited for the admin.
    first.stderr_has("admin login as root refused");
    for step in [
        "bot created",
        "room created",
        "webhook created",
        "url_file written",
    ] {
        first.stdout_has(step);
    }

    // Webhook URL: 0600, the integration's id and token, token masked in the output.
    let mode = std::fs::metadata(&url_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let hook_url = std::fs::read_to_string(&url_file)
        .unwrap()
        .trim()
        .to_string();
    let (_, integ) = http_json(&sim.url, "GET", "/_sim/integrations", &[], None);
    let integ = &integ["integrations"][0];
    let (id, token) = (
        integ["_id"].as_str().unwrap(),
        integ["token"].as_str().unwrap(),
    );
    assert_eq!(hook_url, format!("{}/hooks/{id}/{token}", sim.url));
    first.lacks(token);
    assert_eq!(integ["username"], BOT);
    assert_eq!(integ["scriptEnabled"], true);
    assert!(integ["script"].as_str().unwrap().contains("class Script"));

    // No token left behind by the run: admin and bot were logged out.
    assert_eq!(sim.login_tokens(ADMIN), 0);
    assert_eq!(sim.login_tokens(BOT), 0);
    let bot = sim.user(BOT);
    assert!(
        bot["roles"].as_array().unwrap().contains(&json!("bot")),
        "{bot}"
    );

    // Second run: nothing changes.
    let second = bootstrap(&env, &["--webhook-url-file", url_file_s, "--json"]);
    second.exits(0);
    let v = second.json();
    second.json_field("changed", 0);
    for (k, status) in v["objects"].as_object().unwrap() {
        assert!(
            status.as_str().unwrap().starts_with("unchanged"),
            "{k}: {status}"
        );
    }
    assert_eq!(std::fs::read_to_string(&url_file).unwrap().trim(), hook_url);

    // --show-token prints the full URL once.
    let shown = bootstrap(&env, &["--show-token"]);
    shown.stdout_has(&hook_url);

    // A GitLab event posted to the published URL lands in the room as the bot.
    let path = hook_url.trim_start_matches(&sim.url).to_string();
    let body = gitlab_fixture("push.json");
    let (status, reply) = http(
        &sim.url,
        "POST",
        &path,
        &[
            ("Content-Type", "application/json"),
            ("X-Gitlab-Event", "Push Hook"),
        ],
        Some(&body),
    );
    assert_eq!(status, 200, "{reply}");
    let msgs = sim.messages(ROOM);
    let text = msgs.to_string();
    assert!(text.contains(BOT), "posted as the bot: {text}");
    assert!(
        text.to_lowercase().contains("push"),
        "a push message: {text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn dry_run_changes_nothing() {
    let sim = Sim::start(&[]);
    let r = bootstrap(&env(&sim.url), &["--dry-run", "--json"]);
    r.exits(0)
        .json_field("/objects/bot", "would create")
        .json_field("/objects/webhook", "would create");
    let (status, _) = http_json(&sim.url, "GET", &format!("/_sim/users/{BOT}"), &[], None);
    assert_eq!(status, 404, "dry run created the bot");
}

#[test]
fn retries_until_the_server_listens() {
    let sim = Sim::start_env(
        &["--listen-delay", "2s"],
        &[("ADMIN_USERNAME", ADMIN), ("ADMIN_PASS", ADMIN_PASS)],
        false,
    );
    let r = bootstrap(&env(&sim.url), &["--timeout", "60s"]);
    r.exits(0).stderr_has("attempt 1");
}

#[test]
fn gives_up_with_exit_1_when_nothing_answers() {
    let port = e2e::free_port();
    let r = bootstrap(
        &env(&format!("http://127.0.0.1:{port}")),
        &["--timeout", "2s"],
    );
    r.exits(1).within(std::time::Duration::from_secs(5));
}

#[test]
fn read_only_room_makes_the_bot_moderator_and_probe_agrees() {
    let sim = Sim::start(&[]);
    let env = env(&sim.url);
    let r = bootstrap(&env, &["--read-only"]);
    r.exits(0).stdout_has("post_rights moderator granted");
    let (_, room) = http_json(&sim.url, "GET", &format!("/_sim/rooms/{ROOM}"), &[], None);
    assert_eq!(room["ro"], true, "{room}");
    let again = bootstrap(&env, &["--read-only", "--json"]);
    again.json_field("/objects/post_rights", "unchanged");
    let dir = temp_dir("ro");
    let p = probe(&env, &["--token-cache", dir.join("tok").to_str().unwrap()]);
    p.exits(0);
}

#[test]
fn private_group() {
    let sim = Sim::start(&["--version", "6.13.0"]);
    let env = env(&sim.url);
    let r = bootstrap(&env, &["--private"]);
    r.exits(0).stdout_has("room created (private group)");
    let dir = temp_dir("group");
    let p = probe(&env, &["--token-cache", dir.join("tok").to_str().unwrap()]);
    p.exits(0);
    // Asking for a public channel of that name is a clear refusal, not a duplicate.
    let wrong = bootstrap(&env, &[]);
    wrong.exits(3).stderr_has("exists as a private group");
}

#[test]
fn registers_the_admin_when_none_exists_and_registration_is_open() {
    let sim = Sim::start_env(
        &["--setting", "Accounts_RegistrationForm=Public"],
        &[],
        true,
    );
    let r = bootstrap(&env(&sim.url), &["--admin-wait", "500ms"]);
    r.exits(0).stdout_has("admin registered");
    let admin = sim.user(ADMIN);
    assert!(
        admin["roles"].as_array().unwrap().contains(&json!("admin")),
        "{admin}"
    );
}

/// users.register allows one call per IP per window (Rate_Limiter_Limit_RegisterUser): after
/// an earlier attempt used it (a previous run, a person at the sign-up form), rc-bootstrap waits
/// out the 429 inside its deadline instead of failing or hammering the route.
#[test]
fn registering_the_admin_waits_out_the_one_per_window_register_rule() {
    let sim = Sim::start_env(
        &[
            "--setting",
            "Accounts_RegistrationForm=Public",
            "--rate-limit-window",
            "3s",
        ],
        &[],
        true,
    );
    let (status, v) = http_json(
        &sim.url,
        "POST",
        "/api/v1/users.register",
        &[],
        Some(&json!({"username": "bad name", "email": "x@example.org", "pass": "x", "name": "X"})),
    );
    assert_eq!(status, 400, "{v}");
    let r = bootstrap(
        &env(&sim.url),
        &["--admin-wait", "500ms", "--timeout", "30s"],
    );
    r.exits(0)
        .stdout_has("admin registered")
        .stderr_has("rate limited on POST /api/v1/users.register");
}

#[test]
fn blocked_admin_usernames_are_refused_clearly() {
    let sim = Sim::start(&[]);
    let blocked = with(env(&sim.url), "ADMIN_USERNAME", "administrator");
    let r = bootstrap(&blocked, &[]);
    r.exits(2).stderr_has("blocked username");

    // "admin" is fine through ADMIN_* but cannot be registered.
    let bare = Sim::start_env(
        &["--setting", "Accounts_RegistrationForm=Public"],
        &[],
        true,
    );
    let admin = with(env(&bare.url), "ADMIN_USERNAME", "admin");
    let r = bootstrap(&admin, &["--admin-wait", "300ms"]);
    r.exits(2).stderr_has("cannot be registered");
}

#[test]
fn bot_password_drift_is_reported_then_fixed_with_fix_drift() {
    let sim = Sim::start(&[]);
    let env = env(&sim.url);
    bootstrap(&env, &[]).exits(0);
    let changed = with(env.clone(), "ROCKETCHAT_PASSWORD", "N3w-B0t-Passw0rd!q");
    let drift = bootstrap(&changed, &[]);
    drift.exits(3).stderr_has("--fix-drift");
    let fixed = bootstrap(&changed, &["--fix-drift"]);
    fixed.exits(0).stdout_has("drift fixed");
    let dir = temp_dir("drift");
    let p = probe(
        &changed,
        &["--token-cache", dir.join("tok").to_str().unwrap()],
    );
    p.exits(0);
}

#[test]
fn totp_trap_is_explained() {
    let sim = Sim::start(&[
        "--setting",
        "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In=true",
    ]);
    // A bot created by hand with a verified email: email 2FA turns on for it.
    let admin = sim.session(ADMIN, ADMIN_PASS);
    let (status, v) = sim.api(
        &admin,
        "POST",
        "/api/v1/users.create",
        Some(&json!({"username": BOT, "email": "hubot@example.com", "name": "hubot", "password": BOT_PASS,
                     "roles": ["bot"], "verified": true, "joinDefaultChannels": false})),
    );
    assert_eq!(status, 200, "{v}");
    let r = bootstrap(&env(&sim.url), &[]);
    r.exits(3).stderr_has("verified email").stderr_has("2FA");
    let fixed = bootstrap(&env(&sim.url), &["--fix-drift"]);
    fixed.exits(0);
}

#[test]
fn password_policy_names_the_failing_rule() {
    let sim = Sim::start(&["--version", "8.1.0"]);
    // Not a word of the message: the password itself is masked wherever it appears.
    let env = with(env(&sim.url), "ROCKETCHAT_PASSWORD", "sh0rt");
    let r = bootstrap(&env, &[]);
    r.exits(2)
        .stderr_has("password policy")
        .stderr_has("too short");
}

#[test]
fn survives_the_rate_limiter() {
    let sim = Sim::start(&["--rate-limit-calls", "2", "--rate-limit-window", "2s"]);
    let env = env(&sim.url);
    let mut waited = false;
    for _ in 0..3 {
        let r = bootstrap(&env, &["--timeout", "60s"]);
        r.exits(0);
        waited |= r.stderr.contains("rate limited");
    }
    assert!(
        waited,
        "the login limit (2 per 2s) must have been hit and waited out"
    );
}

#[test]
fn secrets_from_files_and_usage_errors() {
    let sim = Sim::start(&[]);
    let dir = temp_dir("files");
    let (a, b) = (dir.join("admin"), dir.join("bot"));
    std::fs::write(&a, format!("{ADMIN_PASS}\n")).unwrap();
    std::fs::write(&b, format!("{BOT_PASS}\n")).unwrap();
    let mut env: Vec<(String, String)> = env(&sim.url)
        .into_iter()
        .filter(|(k, _)| k != "ADMIN_PASS" && k != "ROCKETCHAT_PASSWORD")
        .collect();
    env.push(("ADMIN_PASS_FILE".into(), a.to_str().unwrap().into()));
    env.push((
        "ROCKETCHAT_PASSWORD_FILE".into(),
        b.to_str().unwrap().into(),
    ));
    let r = bootstrap(&env, &[]);
    r.exits(0);
    let missing = bootstrap(
        &with(env.clone(), "ADMIN_PASS_FILE", "/nonexistent/pw"),
        &[],
    );
    missing.exits(2).stderr_has("cannot read");
    let bad_url = bootstrap(&with(env, "ROCKETCHAT_URL", "rocketchat:3000"), &[]);
    bad_url.exits(2);
}
