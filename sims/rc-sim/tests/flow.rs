//! Spawns the built rc-sim binary and drives a bootstrap-like flow over real HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Sim {
    child: Child,
    base: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], env: &[(&str, &str)]) -> Sim {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rc-sim"));
    cmd.args(["--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn rc-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let v: serde_json::Value = serde_json::from_str(&line).expect("json line");
    assert_eq!(v["msg"], "listening");
    let base = format!("http://127.0.0.1:{}", v["port"]);
    Sim { child, base }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

/// Returns (status, json body, response) for any status code.
fn call(r: Result<ureq::Response, ureq::Error>) -> (u16, serde_json::Value, Option<String>) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = resp.status();
    let remaining = resp.header("X-RateLimit-Remaining").map(str::to_string);
    let body = resp.into_json().unwrap_or(serde_json::Value::Null);
    (status, body, remaining)
}

#[test]
fn bootstrap_flow_over_http() {
    // 6.13: the release that answers before initialData created the admin (src/startup.rs).
    let sim = start(
        &["--version", "6.13.0", "--admin-delay", "300ms"],
        &[
            ("ADMIN_USERNAME", "boss"),
            ("ADMIN_PASS", "Adm1n-Passw0rd!"),
        ],
    );
    let a = agent();
    let login = serde_json::json!({"username": "boss", "password": "Adm1n-Passw0rd!"});
    // Before --admin-delay elapsed the admin does not exist yet.
    let (st, _, _) = call(
        a.post(&format!("{}/api/v1/login", sim.base))
            .send_json(login.clone()),
    );
    assert_eq!(st, 401);
    let deadline = Instant::now() + Duration::from_secs(5);
    let body = loop {
        let (st, b, _) = call(
            a.post(&format!("{}/api/v1/login", sim.base))
                .send_json(login.clone()),
        );
        if st == 200 {
            break b;
        }
        assert!(Instant::now() < deadline, "admin never appeared");
        std::thread::sleep(Duration::from_millis(100));
    };
    let uid = body["data"]["userId"].as_str().unwrap().to_string();
    let tok = body["data"]["authToken"].as_str().unwrap().to_string();
    let post = |path: &str, v: serde_json::Value| {
        call(
            a.post(&format!("{}/api/v1/{path}", sim.base))
                .set("X-User-Id", &uid)
                .set("X-Auth-Token", &tok)
                .send_json(v),
        )
    };
    let (st, b, _) = post(
        "users.create",
        serde_json::json!({"username": "hubot", "name": "Hubot", "email": "h@x.org", "password": "pw"}),
    );
    assert_eq!(st, 200, "{b}");
    let (st, b, _) = post(
        "channels.create",
        serde_json::json!({"name": "devops", "members": ["hubot"]}),
    );
    assert_eq!(st, 200, "{b}");
    let (st, b, _) = post(
        "integrations.create",
        serde_json::json!({"type": "webhook-incoming", "name": "gitlab", "enabled": true,
        "username": "hubot", "channel": "#devops", "scriptEnabled": false}),
    );
    assert_eq!(st, 200, "{b}");
    let url = format!(
        "{}/hooks/{}/{}",
        sim.base,
        b["integration"]["_id"].as_str().unwrap(),
        b["integration"]["token"].as_str().unwrap()
    );
    let (st, _, remaining) = call(
        a.post(&url)
            .send_json(serde_json::json!({"text": "pipeline ok"})),
    );
    assert_eq!(st, 200);
    assert_eq!(
        remaining.as_deref(),
        Some("9"),
        "hooks are rate limited without bypass"
    );
    let (_, msgs, _) = call(
        a.get(&format!("{}/_sim/rooms/devops/messages", sim.base))
            .call(),
    );
    assert_eq!(msgs["messages"][0]["msg"], "pipeline ok");
    assert_eq!(msgs["messages"][0]["u"]["username"], "hubot");
    let (_, u, _) = call(a.get(&format!("{}/_sim/users/hubot", sim.base)).call());
    assert!(u["roles"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("bot")));
}

#[test]
fn listen_delay_refuses_connections_first() {
    let t0 = Instant::now();
    let sim = start(&["--listen-delay", "400ms"], &[]);
    assert!(t0.elapsed() >= Duration::from_millis(400));
    let (st, _, _) = call(agent().get(&format!("{}/health", sim.base)).call());
    assert_eq!(st, 200);
}

#[test]
fn bad_flag_exits_2_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_rc-sim"))
        .args(["--port", "0", "--version", "5.0.0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("--version '5.0.0' is not emulated"));
}

#[test]
fn help_exits_0_and_names_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_rc-sim"))
        .arg("--help")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--port",
        "--bind",
        "--version",
        "--root-url",
        "--listen-delay",
        "--admin-delay",
        "--setting",
        "--rate-limit-calls",
        "--rate-limit-window",
        "--node",
        "--script-timeout",
        "--tls-cert-key-file",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}
