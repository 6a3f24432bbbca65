//! Helpers for the rc-bootstrap / rc-probe end-to-end tests: start rc-sim, run the binaries with
//! secrets in the environment (never argv), and talk raw HTTP/1.1 to the emulator (for set-up and
//! inspection) so the tests do not share code with the client under test.

use crate::{bin, free_port, run, Proc, Run};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

pub const ADMIN: &str = "root";
/// Long and varied enough for the 8.x default password policy (min 14, all classes).
pub const ADMIN_PASS: &str = "Adm1n-Passw0rd!xq";
pub const BOT: &str = "hubot";
pub const BOT_PASS: &str = "B0t-Passw0rd!xyzw";
pub const ROOM: &str = "ops";

pub struct Sim {
    pub proc: Proc,
    pub port: u16,
    pub url: String,
}

impl Sim {
    /// Starts rc-sim with the ADMIN_* env of the first-start admin and waits for it to listen.
    pub fn start(args: &[&str]) -> Sim {
        Self::start_env(
            args,
            &[
                ("ADMIN_USERNAME", ADMIN),
                ("ADMIN_PASS", ADMIN_PASS),
                ("ADMIN_EMAIL", "root@example.com"),
            ],
            true,
        )
    }

    /// `wait`: until rc-sim listens, on a port it picked itself (`--port 0`, read off its
    /// `listening` line: no other test can take it in between). Without `wait` (a server that
    /// starts listening late) the port must be known first: a free one is picked here.
    pub fn start_env(args: &[&str], env: &[(&str, &str)], wait: bool) -> Sim {
        let mut port = if wait { 0 } else { free_port() };
        let mut cmd = Command::new(bin("rc-sim"));
        cmd.arg("--port").arg(port.to_string()).args(args);
        for k in ["ADMIN_USERNAME", "ADMIN_PASS", "ADMIN_EMAIL", "ADMIN_NAME"] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut proc = Proc::spawn(cmd);
        if wait {
            let line = proc.wait_for_line("\"listening\"", Duration::from_secs(10));
            port = serde_json::from_str::<Value>(&line).expect("listening line")["port"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .expect("listening port");
        }
        Sim {
            proc,
            port,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// GET /_sim/users/<name> (test-only inspection route).
    pub fn user(&self, name: &str) -> Value {
        let (status, v) = http_json(&self.url, "GET", &format!("/_sim/users/{name}"), &[], None);
        assert_eq!(status, 200, "/_sim/users/{name}: {v}");
        v
    }

    pub fn login_tokens(&self, name: &str) -> i64 {
        self.user(name)["loginTokens"]
            .as_i64()
            .expect("loginTokens")
    }

    /// GET /_sim/rooms/<name>/messages.
    pub fn messages(&self, room: &str) -> Value {
        let (status, v) = http_json(
            &self.url,
            "GET",
            &format!("/_sim/rooms/{room}/messages"),
            &[],
            None,
        );
        assert_eq!(status, 200, "/_sim/rooms/{room}/messages: {v}");
        v
    }

    /// Logs in through the REST API and returns (userId, authToken) headers for [`Sim::api`].
    pub fn session(&self, user: &str, pass: &str) -> Vec<(String, String)> {
        let (status, v) = http_json(
            &self.url,
            "POST",
            "/api/v1/login",
            &[],
            Some(&json!({"user": user, "password": pass})),
        );
        assert_eq!(status, 200, "login {user}: {v}");
        vec![
            (
                "X-User-Id".into(),
                v["data"]["userId"].as_str().unwrap().into(),
            ),
            (
                "X-Auth-Token".into(),
                v["data"]["authToken"].as_str().unwrap().into(),
            ),
        ]
    }

    pub fn api(
        &self,
        auth: &[(String, String)],
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        http_json(&self.url, method, path, &headers, body)
    }
}

/// Environment for the binaries: the names the stack shares (one .env for all containers).
pub fn env(url: &str) -> Vec<(String, String)> {
    [
        ("ROCKETCHAT_URL", url),
        ("ADMIN_USERNAME", ADMIN),
        ("ADMIN_PASS", ADMIN_PASS),
        ("ROCKETCHAT_USER", BOT),
        ("ROCKETCHAT_PASSWORD", BOT_PASS),
        ("ROCKETCHAT_ROOM", ROOM),
        // No Hubot runs in these tests: rc-probe checks the account only (tests/hubot covers
        // the connection check with the real adapter).
        ("RC_PROBE_PRESENCE", "off"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn command(name: &str, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(bin(name));
    for k in [
        "ROCKETCHAT_URL",
        "ADMIN_USERNAME",
        "ADMIN_PASS",
        "ADMIN_PASS_FILE",
        "ADMIN_EMAIL",
        "ROCKETCHAT_USER",
        "ROCKETCHAT_PASSWORD",
        "ROCKETCHAT_PASSWORD_FILE",
        "ROCKETCHAT_ROOM",
        "ROOT_URL",
        "RC_BOOTSTRAP_TIMEOUT",
        "RC_PROBE_TIMEOUT",
        "RC_PROBE_TOKEN_CACHE",
        "RC_BOOTSTRAP_REFUSAL_FILE",
        "ROCKETCHAT_CA_FILE",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args);
    cmd
}

pub fn bootstrap(env: &[(String, String)], args: &[&str]) -> Run {
    let mut cmd = command("rc-bootstrap", env, args);
    // The refusal memory defaults to /tmp/rc-bootstrap.refused: give each server its own file,
    // shared by the runs against it (as restarts of one container share theirs).
    if !env.iter().any(|(k, _)| k == "RC_BOOTSTRAP_REFUSAL_FILE") {
        let url = env
            .iter()
            .find(|(k, _)| k == "ROCKETCHAT_URL")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let tag: String = url.chars().filter(char::is_ascii_digit).collect();
        cmd.env(
            "RC_BOOTSTRAP_REFUSAL_FILE",
            std::env::temp_dir().join(format!("e2e-rc-{}-{tag}.refused", std::process::id())),
        );
    }
    let r = run(cmd, Duration::from_secs(120));
    assert_no_secrets(&r);
    r
}

pub fn probe(env: &[(String, String)], args: &[&str]) -> Run {
    let r = run(command("rc-probe", env, args), Duration::from_secs(30));
    assert_no_secrets(&r);
    r
}

/// No password ever appears in what the binaries print.
pub fn assert_no_secrets(r: &Run) {
    for secret in [
        ADMIN_PASS,
        BOT_PASS,
        "Wr0ng-Passw0rd!zz",
        "N3w-B0t-Passw0rd!q",
    ] {
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "a password leaked into the output: {r:?}"
        );
    }
}

/// One raw HTTP/1.1 request (Connection: close); returns status and body.
pub fn http(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, String) {
    let hostport = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(hostport).expect("connect to rc-sim");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.unwrap_or(b"");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        },
    )
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn http_json(
    url: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value) {
    let mut h = headers.to_vec();
    let text = body.map(|b| b.to_string());
    if text.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    let (status, out) = http(url, method, path, &h, text.as_deref().map(str::as_bytes));
    (
        status,
        serde_json::from_str(&out).unwrap_or(Value::String(out)),
    )
}

/// One of the project's own GitLab webhook payloads (integrations/test/fixtures/, see its
/// README). They are part of the checkout, so a missing one is a broken checkout, not a skip.
pub fn gitlab_fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../integrations/test/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("GitLab fixture {}: {e}", path.display()))
}

pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "e2e-rc-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
