//! mongo-rs-follow, built, against k8s-sim alone: the API answers that end a pass before any
//! MongoDB member is contacted (a long RBAC denial, an empty spec.serviceName, error bodies
//! that echo the request's token).

use e2e::{bin, run, Proc, Run};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "sa-token-5d1e8b42";

struct Api {
    _proc: Proc,
    port: u16,
    dir: PathBuf,
}

/// k8s-sim for the StatefulSet chat/mongo at 1 replica, with `extra` flags.
fn api(name: &str, extra: &[&str]) -> Api {
    let dir = std::env::temp_dir().join(format!("e2e-k8s-api-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    std::fs::write(dir.join("replicas"), "1").unwrap();
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let mut cmd = Command::new(bin("k8s-sim"));
    cmd.args(["--ca-out", &p("ca.crt"), "--token-file", &p("token")])
        .args(["--replicas-file", &p("replicas"), "--namespace", "chat"])
        .args(extra);
    let mut proc = Proc::spawn(cmd);
    let line = proc.wait_for_line("\"listening\"", Duration::from_secs(10));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    Api {
        _proc: proc,
        port: v["port"].as_u64().unwrap() as u16,
        dir,
    }
}

/// One pass of the follower (the default --member-host, with {service}).
fn once(a: &Api, extra: &[&str]) -> Run {
    let mut cmd = Command::new(bin("mongo-rs-follow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MONGO") || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["--api-server", &format!("https://127.0.0.1:{}", a.port)])
        .args(["--namespace", "chat", "--replica-set", "rs0"])
        .args(["--once", "--timeout", "10s"])
        .args(["--token-file", a.dir.join("token").to_str().unwrap()])
        .args(["--ca-file", a.dir.join("ca.crt").to_str().unwrap()])
        .args(extra);
    run(cmd, Duration::from_secs(30))
}

/// A service account named so that the 403 message passes 300 characters: the RBAC reason
/// (what to fix) is at its very end.
#[test]
fn a_long_forbidden_message_keeps_its_rbac_reason() {
    let sa = format!("mongo-rs-follow-{}", "x".repeat(180));
    let a = api("rbac", &["--role-missing", "--service-account", &sa]);
    let r = once(&a, &["--json"]);
    r.exits(3)
        .json_has("reason", "RBAC: role.rbac.authorization.k8s.io")
        .json_has("reason", "not found")
        .json_has("reason", "Role allowing `get`");
    let reason = r.json()["reason"].as_str().unwrap().to_string();
    assert!(!reason.contains('\n'), "{reason}");
}

/// `serviceName: ""` is valid JSON in a real answer: the pods have no DNS names under a
/// Service, so the pass is refused with what to set, not retried as a transient fault.
#[test]
fn an_empty_service_name_is_refused_with_what_to_set() {
    let a = api("svc", &["--service", ""]);
    let r = once(&a, &["--json"]);
    r.exits(3)
        .json_has("reason", "statefulset chat/mongo")
        .json_has("reason", "spec.serviceName")
        .json_has("reason", "--member-host")
        .within(Duration::from_secs(5));
}

/// The API (a broken proxy in front of it) echoes the Authorization header in its error
/// bodies: the follower never prints the token, in text or JSON, whole or cut, 403 or 500.
#[test]
fn the_token_is_never_shown_even_when_the_api_reflects_it() {
    // The 403 message up to the token, as k8s-sim words it; the service account's name
    // places the token across the 300-character cut of server text.
    let head = |sa: &str| {
        format!(
            "statefulsets.apps \"other\" is forbidden: User \"system:serviceaccount:chat:{sa}\" cannot get resource \"statefulsets\" in API group \"apps\" in the namespace \"chat\" (request Authorization: Bearer "
        )
        .chars()
        .count()
    };
    let base = head("");
    let mut checked = 0;
    for straddle in [4, 9] {
        let sa = "s".repeat(300 - straddle - base);
        assert_eq!(head(&sa), 300 - straddle);
        let a = api(
            &format!("reflect-{straddle}"),
            &["--reflect-auth", "--service-account", &sa],
        );
        for json in [true, false] {
            let mut extra = vec!["--statefulset", "other"];
            if json {
                extra.push("--json");
            }
            let r = once(&a, &extra);
            r.exits(3);
            let all = format!("{}{}", r.stdout, r.stderr);
            assert!(all.contains("403"), "{r:?}");
            for part in [TOKEN, &TOKEN[..4], &TOKEN[TOKEN.len() - 4..]] {
                assert!(!all.contains(part), "{part:?} shown: {r:?}");
            }
            checked += 1;
        }
    }
    let a = api("reflect-500", &["--reflect-auth", "--internal-error"]);
    let r = once(&a, &["--json"]);
    r.exits(1);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(
        all.contains("InternalError") && all.contains("***"),
        "{r:?}"
    );
    assert!(!all.contains(TOKEN), "{r:?}");
    assert_eq!(checked, 4);
}

/// The frame's environment rules hold for the follower: an empty variable is unset (compose and
/// kustomize write `VAR=`), and `--password-file` on the command line wins over MONGO_PASSWORD.
#[test]
fn empty_variables_are_unset_and_the_password_flag_wins() {
    let a = api("env", &[]);
    let pw = a.dir.join("pw");
    std::fs::write(&pw, "file-pw-3c1d\n").unwrap();
    let mut cmd = Command::new(bin("mongo-rs-follow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("MONGO") || k.starts_with("KUBERNETES_") {
            cmd.env_remove(k);
        }
    }
    for k in [
        "MONGO_RS_FOLLOW_NAMESPACE",
        "MONGO_RS_FOLLOW_INTERVAL",
        "MONGO_RS_FOLLOW_TIMEOUT",
        "MONGO_RS_FOLLOW_JSON",
        "MONGO_RS_FOLLOW_MEMBER_HOST",
        "MONGO_USERNAME",
        "KUBERNETES_SERVICE_PORT",
    ] {
        cmd.env(k, "");
    }
    cmd.env("MONGO_PASSWORD", "env-pw-9a7b")
        .env(
            "MONGO_RS_FOLLOW_API_SERVER",
            format!("https://127.0.0.1:{}", a.port),
        )
        .args(["--namespace", "chat", "--replica-set", "rs0", "--once"])
        .args(["--statefulset", "other", "--username", "root"])
        .args(["--password-file", pw.to_str().unwrap()])
        .args(["--token-file", a.dir.join("token").to_str().unwrap()])
        .args(["--ca-file", a.dir.join("ca.crt").to_str().unwrap()]);
    let r = run(cmd, Duration::from_secs(30));
    // Parsed, prepared and at the API: its 403 (exit 3), not a usage error (exit 2).
    r.exits(3)
        .stderr_starts("mongo-rs-follow: not allowed to get")
        .stderr_lacks("pw-");
}
