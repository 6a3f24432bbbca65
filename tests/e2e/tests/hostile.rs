//! Hostile input against the BUILT binaries (issue 7): hostile files, flags, environment and
//! servers. Each test pins one "must hold" item; every run is bounded by `run`'s limit.

use e2e::hostile::{bson, fake_mongod, reflecting_http, slow_forwarder, stuck_fifo, tls_server, B};
use e2e::rc::{self, Sim, BOT, BOT_PASS};
use e2e::{bin, run, Run};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Every variable any binary reads, removed so the developer's shell cannot leak in.
const VARS: &[&str] = &[
    "MONGO_URL",
    "MONGO_REPLICA_SET",
    "MONGO_USERNAME",
    "MONGO_PASSWORD",
    "MONGO_PASSWORD_FILE",
    "MONGO_RS_PROBE_TIMEOUT",
    "MONGO_RS_PROBE_ALLOW_SECONDARY",
    "MONGO_RS_PROBE_JSON",
    "MONGO_RS_INIT_MEMBERS",
    "MONGO_RS_INIT_TIMEOUT",
    "MONGO_RS_INIT_JSON",
    "MONGO_RS_INIT_RECONCILE",
    "ROCKETCHAT_URL",
    "ROOT_URL",
    "ADMIN_USERNAME",
    "ADMIN_PASS",
    "ADMIN_PASS_FILE",
    "ADMIN_EMAIL",
    "ROCKETCHAT_USER",
    "ROCKETCHAT_PASSWORD",
    "ROCKETCHAT_PASSWORD_FILE",
    "ROCKETCHAT_ROOM",
    "RC_BOOTSTRAP_TIMEOUT",
    "RC_BOOTSTRAP_WEBHOOK_URL_FILE",
    "RC_PROBE_TIMEOUT",
    "RC_PROBE_TOKEN_CACHE",
    "RC_PROBE_USER_ID",
    "RC_PROBE_AUTH_TOKEN",
    "RC_PROBE_AUTH_TOKEN_FILE",
    "RC_PROBE_WEBHOOK_URL",
    "RC_PROBE_WEBHOOK_URL_FILE",
];

fn cmd(name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = if name == "sh" {
        Command::new("sh")
    } else {
        Command::new(bin(name))
    };
    for v in VARS {
        c.env_remove(v);
    }
    c.args(args).envs(env.iter().copied());
    c
}

fn go(name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    run(cmd(name, args, env), Duration::from_secs(30))
}

fn output(r: &Run) -> String {
    format!("{}{}", r.stdout, r.stderr)
}

fn temp(tag: &str) -> PathBuf {
    rc::temp_dir(&format!("hostile-{tag}"))
}

fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A "mongod" that is a writable PRIMARY of rs0 (for runs that only need a hello).
fn primary() -> String {
    let port = fake_mongod(bson(&[
        ("ok", B::F64(1.0)),
        ("isWritablePrimary", B::Bool(true)),
        ("setName", B::Str("rs0".into())),
        ("maxWireVersion", B::I32(21)),
    ]));
    format!("mongodb://127.0.0.1:{port}/?replicaSet=rs0")
}

/// One secret flag per binary, with everything else it needs to reach the file read.
fn with_secret_file(name: &str, path: &str, uri: &str) -> Vec<String> {
    let v: Vec<&str> = match name {
        "mongo-rs-probe" => vec!["--uri", uri, "--username", "u", "--password-file", path],
        "mongo-rs-init" => vec!["--uri", uri, "--username", "u", "--password-file", path],
        "rc-probe" => vec![
            "--url",
            "http://127.0.0.1:9",
            "--user",
            "bot",
            "--room",
            "ops",
            "--password-file",
            path,
        ],
        _ => vec![
            "--url",
            "http://127.0.0.1:9",
            "--admin-password-file",
            path,
            "--bot-username",
            "bot",
            // A file too (a value in argv would add the argv warning line): never reached,
            // the admin's is read first.
            "--bot-password-file",
            path,
            "--room",
            "ops",
        ],
    };
    v.into_iter().map(String::from).collect()
}

const BINARIES: [&str; 4] = [
    "mongo-rs-probe",
    "mongo-rs-init",
    "rc-probe",
    "rc-bootstrap",
];

/// Item 1: a secret file on which a read blocks (a FIFO whose writer never writes, like a stuck
/// mount) never hangs a binary: it ends by its deadline with one line.
#[test]
fn secret_file_that_is_a_stuck_fifo_ends_by_the_deadline_in_every_binary() {
    let dir = temp("fifo");
    let fifo = dir.join("password");
    let _held = stuck_fifo(&fifo);
    let uri = primary();
    for name in BINARIES {
        let mut args = with_secret_file(name, s(&fifo), &uri);
        args.extend(["--timeout".into(), "1s".into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(cmd(name, &args, &[]), Duration::from_secs(10));
        r.exits(1)
            .within(Duration::from_secs(3))
            .one_line()
            .stderr_has("timed out after 1s")
            .stderr_has(s(&fifo));
    }
}

/// Item 2: `/dev/zero`, a 1 GiB (sparse) file, a 50 MB token cache, a webhook-URL file that is a
/// device: exit 2 with a line naming the file, never read into memory.
#[test]
fn huge_or_endless_secret_files_are_refused_with_exit_2_naming_the_file() {
    let dir = temp("huge");
    let sparse = dir.join("gigabyte");
    std::fs::File::create(&sparse)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let uri = primary();
    for path in ["/dev/zero", s(&sparse)] {
        for name in BINARIES {
            let args = with_secret_file(name, path, &uri);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let r = run(cmd(name, &args, &[]), Duration::from_secs(20));
            r.exits(2).stderr_has(path).one_line();
        }
    }
    let cache = dir.join("token");
    std::fs::File::create(&cache)
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    let pw = file(&dir, "pw", "Zq-bot-pw-x\n");
    let probe = |extra: &[&str]| {
        let mut args = vec![
            "--url",
            "http://127.0.0.1:9",
            "--user",
            "bot",
            "--room",
            "ops",
        ];
        args.extend(["--password-file", s(&pw)]);
        args.extend(extra);
        go("rc-probe", &args, &[])
    };
    let r = probe(&["--token-cache", s(&cache)]);
    r.exits(2)
        .stderr_has(s(&cache))
        .within(Duration::from_secs(2));
    let r = probe(&["--no-token-cache", "--webhook-url-file", "/dev/zero"]);
    r.exits(2).stderr_has("/dev/zero");
    // Not a secret, but read all the same: a webhook script is capped too.
    let pw = file(&dir, "admin-pw", "Zq-admin-pw-x\n");
    for script in ["/dev/zero", s(&sparse)] {
        let mut args = with_secret_file("rc-bootstrap", s(&pw), &uri);
        args.extend(["--script".to_string(), script.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(cmd("rc-bootstrap", &args, &[]), Duration::from_secs(20));
        r.exits(2).stderr_has(script).within(Duration::from_secs(2));
    }
}

/// Item 3: a token cache with group/other bits is not trusted: its token is logged out and the
/// file replaced by a fresh 0600 one (the planted-symlink case is pinned in sidecar's
/// `planted_symlink_or_open_file_at_the_old_temp_name_gets_nothing`).
#[test]
fn a_token_cache_readable_by_others_is_replaced_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let (sim, env, cache) = ready("exposed");
    let first = rc::probe(&env, &["--token-cache", s(&cache), "--json"]);
    first.json_field("session", "login");
    let tokens = sim.login_tokens(BOT);
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    let leaked: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    let r = rc::probe(&env, &["--token-cache", s(&cache), "--json"]);
    r.exits(0);
    // A new login: a 0644 cache is never used as is.
    r.json_field("session", "login");
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        sim.login_tokens(BOT),
        tokens,
        "the exposed token is logged out, one new one"
    );
    let (status, _) = rc::http_json(
        &sim.url,
        "GET",
        "/api/v1/me",
        &[
            ("X-User-Id", leaked["userId"].as_str().unwrap()),
            ("X-Auth-Token", leaked["authToken"].as_str().unwrap()),
        ],
        None,
    );
    assert_eq!(status, 401, "the token that others could read still works");
}

/// Item 3: a symlink or a 0644 file planted at the temporary name the cache write used to take
/// (`.<name>.<pid>.tmp`: the shell plants it for its own pid, then execs the probe, which keeps
/// that pid) neither receives the token nor makes the cache readable by others.
#[test]
fn a_symlink_or_file_planted_at_the_temp_name_gets_no_token() {
    use std::os::unix::fs::PermissionsExt;
    let (_sim, env, cache) = ready("planted");
    let dir = cache.parent().unwrap().to_path_buf();
    let stolen = file(&dir, "stolen", "");
    for plant in [
        format!("ln -s {} \"$d/.token.$$.tmp\"", s(&stolen)),
        "umask 022; : > \"$d/.token.$$.tmp\"".to_string(),
    ] {
        let _ = std::fs::remove_file(&cache);
        let mut c = cmd("sh", &[], &[]);
        c.arg("-c")
            .arg(format!("d=\"$1\"; {plant}; shift; exec \"$@\""))
            .arg("sh")
            .arg(&dir)
            .arg(bin("rc-probe"))
            .args(["--token-cache", s(&cache), "--json"]);
        c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let r = run(c, Duration::from_secs(30));
        r.exits(0);
        assert_eq!(
            std::fs::read_to_string(&stolen).unwrap(),
            "",
            "{plant}: the token went through the symlink"
        );
        let meta = std::fs::symlink_metadata(&cache).unwrap();
        assert!(
            meta.file_type().is_file(),
            "{plant}: the cache is not a regular file"
        );
        assert_eq!(meta.permissions().mode() & 0o777, 0o600, "{plant}");
    }
}

/// Item 4: no password in any output, for hostile URIs (given with or without --uri), hostile
/// URLs, and `--help` with credentials in the environment.
#[test]
fn passwords_never_appear_for_hostile_uris_flags_and_help() {
    let pw = "Zq9pw";
    let uris = [
        format!("mongodb:/u:{pw}@h"),
        format!("mongodb//u:{pw}@h"),
        format!("u:{pw}@h"),
        format!("mongodb://us@r:{pw}/x@h"),
        format!("mongodb://u:{pw}?x@h"),
        format!("mongodb://u:{pw}#x@h"),
        format!("mongodb://u?x:{pw}@h"),
        format!("mongodb://u#x:{pw}@h:99999"),
        format!("mongodb://u%3Ax:{pw}@h:0"),
        format!("mongodb://u:{pw}@a b"),
    ];
    for uri in &uris {
        for name in ["mongo-rs-probe", "mongo-rs-init"] {
            for args in [vec!["--uri", uri.as_str()], vec![uri.as_str()]] {
                let mut args = args;
                args.extend(["--replica-set", "rs0", "--timeout", "1s"]);
                let r = go(name, &args, &[]);
                assert!(!output(&r).contains(pw), "{name} {args:?}: {r:?}");
                r.fails();
            }
        }
    }
    for url in [
        format!("http:/u:{pw}@rc"),
        format!("http://u:{pw}@rc"),
        format!("http://u:{pw}/x@rc"),
    ] {
        let r = go(
            "rc-probe",
            &["--url", &url, "--room", "ops", "--timeout", "1s"],
            &[],
        );
        assert!(!output(&r).contains(pw), "{url}: {r:?}");
        let r = go("rc-probe", &[&url, "--room", "ops"], &[]);
        assert!(!output(&r).contains(pw), "{url}: {r:?}");
    }
    let with_url = format!("http://u:{pw}@rc:3000");
    for (name, vars) in [
        ("rc-probe", vec![("ROCKETCHAT_URL", with_url.as_str())]),
        (
            "rc-bootstrap",
            vec![
                ("ROCKETCHAT_URL", with_url.as_str()),
                ("ROOT_URL", with_url.as_str()),
            ],
        ),
        ("mongo-rs-init", vec![("MONGO_URL", "mongodb://u:Zq9pw@h")]),
        ("mongo-rs-probe", vec![("MONGO_URL", "mongodb://u:Zq9pw@h")]),
    ] {
        let r = go(name, &["--help"], &vars);
        r.exits(0);
        assert!(!output(&r).contains(pw), "{name} --help: {r:?}");
    }
}

/// Item 4: a server reflecting the request (a 404 page echoing the path with the webhook token,
/// a login error echoing the body with the password) never makes the binary print them.
#[test]
fn a_server_reflecting_the_request_never_shows_the_token_or_password() {
    let mirror = reflecting_http();
    let (_sim, env, cache) = ready("reflect");
    let token = "Zq9HookT0ken";
    let hook = format!("{mirror}/hooks/abc123/{token}");
    let mut with_hook = env.clone();
    with_hook.push(("RC_PROBE_WEBHOOK_URL".into(), hook));
    let r = rc::probe(&with_hook, &["--token-cache", s(&cache)]);
    r.exits(3).stderr_has("webhook");
    assert!(
        !output(&r).contains(token),
        "the reflected token leaked: {r:?}"
    );
    let pw = "Zq9L0ginPassw0rd";
    for json in ["", "--json"] {
        let mut args = vec![
            "--url",
            mirror.as_str(),
            "--user",
            "bot",
            "--room",
            "ops",
            "--no-token-cache",
        ];
        if !json.is_empty() {
            args.push(json);
        }
        let r = go("rc-probe", &args, &[("ROCKETCHAT_PASSWORD", pw)]);
        r.exits(3);
        assert!(
            !output(&r).contains(pw),
            "the reflected password leaked: {r:?}"
        );
    }
}

/// Item 5: `VAR=` (compose's empty variable) is unset, for every variable.
#[test]
fn empty_environment_variables_count_as_unset() {
    let uri = primary();
    let empty_mongo = [
        ("MONGO_URL", uri.as_str()),
        ("MONGO_USERNAME", ""),
        ("MONGO_REPLICA_SET", ""),
        ("MONGO_PASSWORD", ""),
        ("MONGO_PASSWORD_FILE", ""),
        ("MONGO_RS_PROBE_ALLOW_SECONDARY", ""),
        ("MONGO_RS_PROBE_JSON", ""),
        ("MONGO_RS_PROBE_TIMEOUT", ""),
    ];
    let r = go("mongo-rs-probe", &[], &empty_mongo);
    // A HEALTHCHECK without arguments and empty variables.
    r.exits(0);
    let r = go(
        "mongo-rs-init",
        &["--timeout", "1s"],
        &[
            ("MONGO_URL", "mongodb://127.0.0.1:9/?replicaSet=rs0"),
            ("MONGO_RS_INIT_MEMBERS", ""),
            ("MONGO_REPLICA_SET", ""),
            ("MONGO_USERNAME", ""),
            ("MONGO_PASSWORD_FILE", ""),
            ("MONGO_RS_INIT_RECONCILE", ""),
            ("MONGO_RS_INIT_JSON", ""),
            ("MONGO_RS_INIT_TIMEOUT", ""),
        ],
    );
    // Empty variables are unset, so it just waits for mongod.
    r.exits(1);
    let (_sim, env, cache) = ready("empty");
    let dir = temp("empty-pw");
    let pw = file(&dir, "pw", &format!("{BOT_PASS}\n"));
    let mut env = env;
    env.retain(|(k, _)| k != "ROCKETCHAT_PASSWORD");
    for (k, v) in [
        ("ROCKETCHAT_PASSWORD", ""),
        ("ROCKETCHAT_PASSWORD_FILE", s(&pw)),
        ("RC_PROBE_USER_ID", ""),
        ("RC_PROBE_AUTH_TOKEN", ""),
        ("RC_PROBE_AUTH_TOKEN_FILE", ""),
        ("RC_PROBE_WEBHOOK_URL", ""),
        ("RC_PROBE_WEBHOOK_URL_FILE", ""),
        ("RC_PROBE_TIMEOUT", ""),
        ("RC_PROBE_TOKEN_CACHE", s(&cache)),
    ] {
        env.push((k.into(), v.into()));
    }
    let r = rc::probe(&env, &[]);
    r.exits(0);
}

/// Item 6: a flag wins over the environment for the same secret (the Hubot container always
/// has ROCKETCHAT_PASSWORD); two flags for one thing stay a usage error.
#[test]
fn a_flag_wins_over_the_environment_two_flags_stay_an_error() {
    let (_sim, env, cache) = ready("flagwins");
    let dir = temp("flagwins-pw");
    let pw = file(&dir, "pw", &format!("{BOT_PASS}\n"));
    let mut wrong_env = env.clone();
    wrong_env.retain(|(k, _)| k != "ROCKETCHAT_PASSWORD");
    wrong_env.push(("ROCKETCHAT_PASSWORD".into(), "Wr0ng-Passw0rd!zz".into()));
    let r = rc::probe(
        &wrong_env,
        &["--token-cache", s(&cache), "--password-file", s(&pw)],
    );
    r.exits(0);
    let r = rc::probe(&env, &["--password", "x-y-z", "--password-file", s(&pw)]);
    r.exits(2).stderr_has("not both");
    // mongo: MONGO_PASSWORD in the environment, --password-file on the command line.
    let mpw = file(&dir, "mpw", "Zq-mongo-pw\n");
    let uri = primary();
    let r = go(
        "mongo-rs-probe",
        &["--uri", &uri, "--username", "u", "--password-file", s(&mpw)],
        &[("MONGO_PASSWORD", "Zq-env-mongo-pw")],
    );
    r.exits(0);
}

/// Item 7: configuration that can never work is exit 2 with the reason, not a retried exit 1.
#[test]
fn bad_configuration_is_exit_2() {
    let dir = temp("badcfg");
    let pw = file(&dir, "pw", "Zq-bot-pw-x\n");
    let base = [
        "--url",
        "http://127.0.0.1:9",
        "--user",
        "bot",
        "--room",
        "ops",
        "--no-token-cache",
    ];
    for hook in [
        "ftp://rc/hooks/a/b",
        "http://rc:99999/hooks/a/b",
        "http://rc/hooks/a",
        "http://rc/x/a/b",
        "http://r c/hooks/a/b",
        "http://rc#x/hooks/a/b",
    ] {
        let mut args = base.to_vec();
        args.extend([
            "--password-file",
            s(&pw),
            "--webhook-url",
            hook,
            "--timeout",
            "2s",
        ]);
        let r = go("rc-probe", &args, &[]);
        r.exits(2);
    }
    for url in [
        "http://r c:3000",
        "http://rc:70000",
        "http://r%00c",
        "http://r%0Ac",
    ] {
        let r = go(
            "rc-probe",
            &[
                "--url",
                url,
                "--user",
                "b",
                "--room",
                "o",
                "--timeout",
                "2s",
            ],
            &[],
        );
        r.exits(2);
    }
    for host in ["a b", "a%00b", "a%0Ab", "a%23b"] {
        let uri = format!("mongodb://{host}:27017");
        for name in ["mongo-rs-probe", "mongo-rs-init"] {
            let r = go(
                name,
                &["--uri", &uri, "--replica-set", "rs0", "--timeout", "2s"],
                &[],
            );
            r.exits(2).stderr_has("host");
        }
    }
    let r = go(
        "mongo-rs-init",
        &["--uri", "mongodb://h/?replicaSet=rs0", "--member", "a\nb:1"],
        &[],
    );
    r.exits(2);
    for name in BINARIES {
        let r = go(name, &["--timeout", "87600h87600h87600h"], &[]);
        r.exits(2).stderr_has("ten years");
    }
}

/// Item 8: server text (setName, errmsg) is printed escaped and bounded: one sane line.
#[test]
fn server_text_is_escaped_and_bounded() {
    let evil = format!(
        "evil\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nsecond line{}",
        "A".repeat(20_000)
    );
    let set_name = fake_mongod(bson(&[
        ("ok", B::F64(1.0)),
        ("isWritablePrimary", B::Bool(true)),
        ("setName", B::Str(evil.clone())),
        ("maxWireVersion", B::I32(21)),
    ]));
    let errmsg = fake_mongod(bson(&[
        ("ok", B::F64(0.0)),
        ("errmsg", B::Str(evil.clone())),
        ("code", B::I32(2)),
        ("codeName", B::Str("BadValue".into())),
    ]));
    for port in [set_name, errmsg] {
        for json in [false, true] {
            let uri = format!("mongodb://127.0.0.1:{port}");
            let mut args = vec!["--uri", uri.as_str(), "--replica-set", "rs0"];
            if json {
                args.push("--json");
            }
            let r = go("mongo-rs-probe", &args, &[]);
            r.fails();
            let out = output(&r);
            assert_eq!(out.lines().count(), 1, "{out:?}");
            assert!(
                !out.contains('\u{1b}') && !out.contains('\u{7}') && !out.contains('\r'),
                "{out:?}"
            );
            assert!(out.len() < 2_500, "{} bytes", out.len());
            if json {
                r.json();
            }
        }
    }
}

/// Item 9: a certificate no public CA signed is exit 3 "certificate not trusted", at once.
#[test]
fn untrusted_tls_certificate_is_exit_3_at_once() {
    let dir = temp("tls");
    let server = tls_server(&dir);
    let url = format!("https://127.0.0.1:{}", server.port);
    let pw = file(&dir, "pw", "Zq-bot-pw-x\n");
    let probe = go(
        "rc-probe",
        &[
            "--url",
            &url,
            "--user",
            "bot",
            "--room",
            "ops",
            "--password-file",
            s(&pw),
            "--timeout",
            "8s",
        ],
        &[],
    );
    let boot = go(
        "rc-bootstrap",
        &[
            "--url",
            &url,
            "--admin-password-file",
            s(&pw),
            "--bot-username",
            "bot",
            "--bot-password-file",
            s(&pw),
            "--room",
            "ops",
            "--timeout",
            "8s",
        ],
        &[],
    );
    for r in [probe, boot] {
        r.exits(3)
            .stderr_has("certificate not trusted (")
            .within(Duration::from_secs(5));
    }
}

/// Item 10: 20 rc-probe runs started together on a missing, then a stale cache log in at most
/// once each time: the bot's token count does not grow beyond that one login.
#[test]
fn concurrent_probes_on_a_stale_cache_log_in_at_most_once() {
    let (sim, env, cache) = ready("race");
    // Each connection held 150 ms: the 20 runs are all in flight before the first logs in.
    let slow = slow_forwarder(&sim.url, Duration::from_millis(150));
    let mut env = env;
    env.retain(|(k, _)| k != "ROCKETCHAT_URL");
    env.push(("ROCKETCHAT_URL".into(), slow));
    let together = |label: &str| {
        let before = sim.login_tokens(BOT);
        let start = Instant::now();
        let mut children: Vec<_> = (0..20)
            .map(|_| {
                let mut c = cmd(
                    "rc-probe",
                    &["--token-cache", s(&cache), "--timeout", "20s"],
                    &[],
                );
                c.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                c.stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped());
                c.spawn().unwrap()
            })
            .collect();
        for child in &mut children {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "{label}: a run failed");
                    break;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(40),
                    "{label}: runs did not end"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let after = sim.login_tokens(BOT);
        assert!(
            after <= before + 1,
            "{label}: {before} tokens before, {after} after 20 runs"
        );
    };
    together("missing cache");
    // Stale: the cached token no longer works (logged out by someone else).
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache).unwrap()).unwrap();
    v["authToken"] = "stale-token-long-gone".into();
    std::fs::write(&cache, v.to_string()).unwrap();
    together("stale cache");
}

/// rc-sim with the bot, room and webhook set up by rc-bootstrap; (sim, env, cache path).
fn ready(tag: &str) -> (Sim, Vec<(String, String)>, PathBuf) {
    let sim = Sim::start(&[]);
    let env = rc::env(&sim.url);
    let r = rc::bootstrap(&env, &[]);
    r.exits(0);
    let dir = temp(tag);
    (sim, env, dir.join("token"))
}
