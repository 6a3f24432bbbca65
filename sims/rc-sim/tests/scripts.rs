//! Integration scripts run by the built rc-sim (node child per run), over real HTTP:
//! formatting, failures answered like Rocket.Chat, timeouts that never wedge the server, and
//! the project's own integrations/gitlab.js end to end.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "boss";
const ADMIN_PASS: &str = "Adm1n-Passw0rd!x";

struct Sim {
    child: Child,
    base: String,
    uid: String,
    tok: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    /// Kills the emulator and returns everything it wrote on stderr.
    fn stderr(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn start(args: &[&str]) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rc-sim"))
        .args(["--port", "0", "--setting", "API_Enable_Rate_Limiter=false"])
        .args(args)
        .env("ADMIN_USERNAME", ADMIN)
        .env("ADMIN_PASS", ADMIN_PASS)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rc-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let v: Value = serde_json::from_str(&line).expect("json line");
    let base = format!("http://127.0.0.1:{}", v["port"]);
    // The env admin appears right after the server answers (no --admin-delay here).
    let deadline = Instant::now() + Duration::from_secs(5);
    let login = loop {
        let (st, b) = call(
            agent()
                .post(&format!("{base}/api/v1/login"))
                .send_json(json!({"username": ADMIN, "password": ADMIN_PASS})),
        );
        if st == 200 {
            break b;
        }
        assert!(Instant::now() < deadline, "admin never appeared: {b}");
        std::thread::sleep(Duration::from_millis(50));
    };
    let sim = Sim {
        child,
        base,
        uid: login["data"]["userId"].as_str().unwrap().into(),
        tok: login["data"]["authToken"].as_str().unwrap().into(),
    };
    let (st, b) = sim.api(
        "users.create",
        json!({"username": "gitlab", "name": "GitLab", "email": "gl@example.org", "password": "pw"}),
    );
    assert_eq!(st, 200, "{b}");
    let (st, b) = sim.api("channels.create", json!({"name": "devops"}));
    assert_eq!(st, 200, "{b}");
    sim
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .build()
}

fn call(r: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    (resp.status(), resp.into_json().unwrap_or(Value::Null))
}

impl Sim {
    fn api(&self, route: &str, body: Value) -> (u16, Value) {
        call(
            agent()
                .post(&format!("{}/api/v1/{route}", self.base))
                .set("X-User-Id", &self.uid)
                .set("X-Auth-Token", &self.tok)
                .send_json(body),
        )
    }

    /// Creates an incoming integration posting as `gitlab` to #devops; returns (integration, hook URL).
    fn hook_with(&self, script: &str, extra: Value) -> (Value, String) {
        let mut b = json!({"type": "webhook-incoming", "name": "gl", "enabled": true,
            "username": "gitlab", "channel": "#devops", "scriptEnabled": true, "script": script});
        if let (Some(o), Value::Object(e)) = (b.as_object_mut(), extra) {
            o.extend(e);
        }
        let (st, b) = self.api("integrations.create", b);
        assert_eq!(st, 200, "{b}");
        let i = b["integration"].clone();
        let url = format!(
            "{}/hooks/{}/{}",
            self.base,
            i["_id"].as_str().unwrap(),
            i["token"].as_str().unwrap()
        );
        (i, url)
    }

    fn hook(&self, script: &str) -> String {
        self.hook_with(script, json!({})).1
    }

    fn messages(&self) -> Vec<Value> {
        let (_, b) = call(
            agent()
                .get(&format!("{}/_sim/rooms/devops/messages", self.base))
                .call(),
        );
        b["messages"].as_array().cloned().unwrap_or_default()
    }
}

fn post(url: &str, body: Value) -> (u16, Value) {
    call(
        agent()
            .post(url)
            .set("X-Gitlab-Event", "Pipeline Hook")
            .send_json(body),
    )
}

#[test]
fn script_result_is_what_gets_posted() {
    let sim = start(&[]);
    let script = r#"
        class Script {
            process_incoming_request({ request }) {
                console.log('event', request.headers['x-gitlab-event']);
                return {
                    content: {
                        text: `  ${request.content.project} by ${request.user.username} (${request.url.query.src}) `,
                        alias: 'GitLab CI',
                        emoji: ':fox:',
                        attachments: [{ title: 'details', msg: ' body ' }],
                    },
                };
            }
        }"#;
    let url = format!("{}?src=ci", sim.hook(script));
    let (st, b) = post(&url, json!({"project": "grp/proj"}));
    assert_eq!((st, b), (200, json!({"success": true})));
    let msgs = sim.messages();
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    // processWebhookMessage: text trimmed, alias/emoji from content, attachment msg -> text.
    assert_eq!(m["msg"], "grp/proj by gitlab (ci)");
    assert_eq!(m["alias"], "GitLab CI");
    assert_eq!(m["emoji"], ":fox:");
    assert_eq!(
        m["attachments"],
        json!([{"title": "details", "text": "body"}])
    );
    assert_eq!(m["u"]["username"], "gitlab");
    assert_eq!(m["_sim"]["scriptRun"], true);
    assert_eq!(m["_sim"]["rawBody"], r#"{"project":"grp/proj"}"#);
    assert_eq!(m["_sim"]["scriptResult"]["content"]["alias"], "GitLab CI");
    assert_eq!(
        m["_sim"]["scriptLogs"],
        json!([{"level": "log", "message": "event Pipeline Hook"}])
    );
}

#[test]
fn sandbox_has_store_and_global_but_no_node_apis() {
    let sim = start(&[]);
    let script = r#"
        class Script {
            async process_incoming_request() {
                Store.set('k', 'v');
                const seen = [typeof require, typeof process, typeof setTimeout, typeof global, Store.get('k')];
                return { content: { text: seen.join(',') }, response: { handled: true } };
            }
        }"#;
    let url = sim.hook(script);
    // A truthy `response` is what the hook answers (API.v1.success(scriptResponse)).
    let (st, b) = post(&url, json!({}));
    assert_eq!((st, b), (200, json!({"handled": true, "success": true})));
    assert_eq!(
        sim.messages()[0]["msg"],
        "undefined,undefined,undefined,object,v"
    );
}

#[test]
fn failures_answer_like_rocket_chat() {
    let sim = start(&[]);
    let throws =
        sim.hook("class Script { process_incoming_request() { throw new Error('boom'); } }");
    assert_eq!(
        post(&throws, json!({"a": 1})),
        (
            400,
            json!({"success": false, "error": "error-running-script"})
        )
    );
    let err_str =
        sim.hook("class Script { process_incoming_request() { return { error: 'not for us' }; } }");
    assert_eq!(
        post(&err_str, json!({"a": 1})),
        (400, json!({"success": false, "error": "not for us"}))
    );
    let err_obj = sim.hook(
        "class Script { process_incoming_request() { return { error: { code: 7, why: 'x' } }; } }",
    );
    assert_eq!(
        post(&err_obj, json!({"a": 1})),
        (400, json!({"code": 7, "why": "x", "success": false}))
    );
    // Falsy result: success, nothing posted.
    let nothing = sim.hook("class Script { process_incoming_request() { return false; } }");
    assert_eq!(
        post(&nothing, json!({"a": 1})),
        (200, json!({"success": true}))
    );
    // Truthy result without content: the `in` operator throws -> error-running-script.
    let no_content = sim.hook("class Script { process_incoming_request() { return { x: 1 }; } }");
    assert_eq!(
        post(&no_content, json!({"a": 1})).1["error"],
        "error-running-script"
    );
    // Not copyable out of the sandbox (a function) -> error-running-script.
    let func =
        sim.hook("class Script { process_incoming_request() { return { content: { f() {} } }; } }");
    assert_eq!(post(&func, json!({})).1["error"], "error-running-script");
    // Throwing while evaluating (constructor) -> error-evaluating-script.
    let ctor = sim.hook(
        "class Script { constructor() { throw new Error('no'); } process_incoming_request() {} }",
    );
    assert_eq!(
        post(&ctor, json!({})),
        (
            400,
            json!({"success": false, "error": "error-evaluating-script"})
        )
    );
    assert!(sim.messages().is_empty());
    let err = sim.stderr();
    assert!(
        err.contains(r#""stage":"run""#) && err.contains("boom"),
        "{err}"
    );
}

#[test]
fn syntax_error_is_stored_and_the_script_is_not_run() {
    let sim = start(&[]);
    let (integ, url) = sim.hook_with("class Script { process_incoming_request( }", json!({}));
    // compileIntegrationScript(): error -> scriptError, no scriptCompiled.
    assert!(integ.get("scriptCompiled").is_none(), "{integ}");
    assert_eq!(integ["scriptError"]["name"], "SyntaxError");
    // integrationHasValidScript() is false: the body is posted as is.
    assert_eq!(
        post(&url, json!({"text": "raw"})),
        (200, json!({"success": true}))
    );
    let m = &sim.messages()[0];
    assert_eq!(m["msg"], "raw");
    assert_eq!(m["_sim"]["scriptRun"], false);
}

#[test]
fn endless_script_is_killed_and_the_server_keeps_answering() {
    let sim = start(&["--script-timeout", "500ms"]);
    let looping = sim.hook("class Script { process_incoming_request() { for (;;) {} } }");
    let pending =
        sim.hook("class Script { process_incoming_request() { return new Promise(() => {}); } }");
    let top_level = sim.hook("for (;;) {}\nclass Script {}");
    // Spinning after an await escapes the in-sandbox timeout: rc-sim kills node at its deadline.
    let after_await =
        sim.hook("class Script { async process_incoming_request() { await null; for (;;) {} } }");
    let worker = std::thread::spawn(move || post(&looping, json!({"a": 1})));
    // While the script spins, other requests are served (the state lock is not held).
    let (st, _) = call(agent().get(&format!("{}/api/info", sim.base)).call());
    assert_eq!(st, 200);
    assert!(!worker.is_finished(), "the looping hook answered too early");
    assert_eq!(
        worker.join().unwrap(),
        (
            400,
            json!({"success": false, "error": "error-running-script"})
        )
    );
    assert_eq!(post(&pending, json!({})).1["error"], "error-running-script");
    assert_eq!(
        post(&top_level, json!({})).1["error"],
        "error-evaluating-script"
    );
    assert_eq!(
        post(&after_await, json!({})).1["error"],
        "error-running-script"
    );
    let ok = sim.hook("class Script { process_incoming_request() { return { content: { text: 'still here' } }; } }");
    assert_eq!(post(&ok, json!({})), (200, json!({"success": true})));
    assert_eq!(sim.messages()[0]["msg"], "still here");
    let err = sim.stderr();
    assert!(err.contains("node killed"), "{err}");
}

#[test]
fn missing_node_fails_like_a_broken_script_with_a_clear_log_line() {
    let sim = start(&["--node", "/nonexistent/node"]);
    let url = sim
        .hook("class Script { process_incoming_request() { return { content: { text: 'x' } }; } }");
    assert_eq!(
        post(&url, json!({})),
        (
            400,
            json!({"success": false, "error": "error-evaluating-script"})
        )
    );
    let err = sim.stderr();
    assert!(
        err.contains("cannot start node '/nonexistent/node'") && err.contains("--node PATH"),
        "{err}"
    );
}

#[test]
fn gitlab_script_formats_a_pipeline_event() {
    let script = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../integrations/gitlab.js"
    ))
    .expect("integrations/gitlab.js");
    let sim = start(&[]);
    let url = sim.hook(&script);
    let payload = json!({
        "object_kind": "pipeline",
        "object_attributes": {"id": 31, "iid": 3, "ref": "main", "status": "failed", "duration": 63,
            "url": "https://gitlab.example.com/grp/proj/-/pipelines/31"},
        "user": {"name": "Ada Lovelace", "username": "ada"},
        "project": {"id": 1, "name": "proj", "path_with_namespace": "grp/proj",
            "web_url": "https://gitlab.example.com/grp/proj"},
        "commit": {"id": "abc123def", "message": "fix build",
            "url": "https://gitlab.example.com/grp/proj/-/commit/abc123def"}
    });
    assert_eq!(post(&url, payload), (200, json!({"success": true})));
    let m = &sim.messages()[0];
    assert_eq!(m["_sim"]["scriptRun"], true);
    let text = m["msg"].as_str().unwrap();
    assert!(
        text.contains("Pipeline") && text.contains("failed") && text.contains("grp/proj"),
        "{text}"
    );
    assert_eq!(m["attachments"][0]["author_name"], "Ada Lovelace");
}
