//! Runs incoming-webhook integration scripts the way Rocket.Chat's isolated-vm engine does, in a
//! `node` child process per run (src/script_runner.js explains the sandbox it reproduces).
//!
//! Rocket.Chat source (RocketChat/Rocket.Chat, apps/meteor/app/integrations/server/lib/):
//! `ScriptEngine.ts` (integrationHasValidScript, executeIncomingScript), `isolated-vm/isolated-vm.ts`
//! (getIntegrationScript: fresh isolate, `timeout: 3000`, errors -> `error-evaluating-script`),
//! `compileIntegrationScript.ts` (syntax errors stored in `scriptError`).

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The runner, passed to `node -e`.
const RUNNER: &str = include_str!("script_runner.js");

/// isolated-vm.ts: `script.run(context, { reference: true, timeout: 3000 })`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest runner answer read; a script returning more is treated as failing.
const MAX_OUTPUT: u64 = 16 * 1024 * 1024;

/// Extra wall-clock time the child gets for starting node and awaiting a returned promise,
/// on top of the two in-sandbox timeouts (evaluation, method call).
const STARTUP_SLACK: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The method ran; its (structured-cloned) result, `undefined` as null, and console lines.
    Result { value: Value, logs: Value },
    /// The Script class has no `process_incoming_request`.
    MissingMethod { logs: Value },
    /// Evaluating the wrapped script failed (syntax, throw at top level / in the constructor,
    /// evaluation timeout): Rocket.Chat throws `error-evaluating-script`.
    Evaluate(String),
    /// The method threw, timed out, returned something not copyable, or its promise never
    /// settled: Rocket.Chat throws `error-running-script`.
    Run(String),
    /// node could not be started or answered garbage.
    Engine(String),
}

/// Why a runner child gave no answer: node unusable, or the script never finished.
#[derive(Debug)]
enum SpawnError {
    Engine(String),
    Run(String),
}

#[derive(Debug, Clone)]
pub struct Engine {
    pub node: String,
    pub timeout: Duration,
}

impl Engine {
    /// Runs `process_incoming_request({request})` of `script` (the integration's scriptCompiled).
    pub fn run_incoming(&self, script: &str, request: &Value) -> Outcome {
        let input = json!({"mode": "run", "script": script, "request": request,
            "timeoutMs": self.timeout.as_millis() as u64});
        let deadline = self.timeout * 2 + STARTUP_SLACK;
        let out = match self.spawn(&input, deadline) {
            Ok(v) => v,
            Err(SpawnError::Engine(e)) => return Outcome::Engine(e),
            Err(SpawnError::Run(e)) => return Outcome::Run(e),
        };
        let logs = out.get("logs").cloned().unwrap_or(json!([]));
        let msg = |v: &Value| {
            let e = &v["error"];
            format!(
                "{}: {}",
                e["name"].as_str().unwrap_or("Error"),
                e["message"].as_str().unwrap_or("")
            )
        };
        match (out["ok"].as_bool(), out["stage"].as_str()) {
            (Some(true), _) => Outcome::Result {
                value: out.get("result").cloned().unwrap_or(Value::Null),
                logs,
            },
            (_, Some("missing-method")) => Outcome::MissingMethod { logs },
            (_, Some("evaluate")) => Outcome::Evaluate(msg(&out)),
            (_, Some("run")) => Outcome::Run(msg(&out)),
            _ => Outcome::Engine(format!("unexpected runner answer: {out}")),
        }
    }

    /// compileIntegrationScript.ts validateOnly(): `new vm.Script('(function(){' + script + '})')`.
    /// Ok(None) = valid, Ok(Some(scriptError)) = syntax error, Err = node unusable.
    pub fn check_syntax(&self, script: &str) -> Result<Option<Value>, String> {
        let input = json!({"mode": "check", "script": script});
        match self.spawn(&input, self.timeout + STARTUP_SLACK) {
            Ok(v) if v["ok"] == json!(true) => Ok(None),
            Ok(v) if v["stage"] == json!("syntax") => Ok(Some(v["error"].clone())),
            Ok(v) => Err(format!("unexpected runner answer: {v}")),
            Err(SpawnError::Engine(e)) | Err(SpawnError::Run(e)) => Err(e),
        }
    }

    /// One child: input on stdin, one JSON line on stdout; killed at `deadline` no matter what.
    fn spawn(&self, input: &Value, deadline: Duration) -> Result<Value, SpawnError> {
        // A clean environment: NODE_OPTIONS & co. must not change the sandbox, and the
        // emulator's own environment (admin password) has no business in the child.
        let mut child = Command::new(&self.node)
            .arg("-e")
            .arg(RUNNER)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                SpawnError::Engine(format!(
                    "cannot start node '{}': {e}; install Node.js or pass --node PATH",
                    self.node
                ))
            })?;
        let started = Instant::now();
        let data = input.to_string();
        let stdin = child.stdin.take();
        // Writer and reader threads: a big script or answer must not deadlock on pipe buffers.
        let writer = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                let _ = s.write_all(data.as_bytes());
            }
        });
        let stdout = child.stdout.take();
        let reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(s) = stdout {
                let _ = s.take(MAX_OUTPUT).read_to_end(&mut buf);
            }
            buf
        });
        let mut killed = false;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if started.elapsed() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    killed = true;
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    killed = true;
                    break;
                }
            }
        }
        let _ = writer.join();
        let out = reader.join().unwrap_or_default();
        if killed {
            return Err(SpawnError::Run(format!(
                "script still running after {} ms: node killed",
                deadline.as_millis()
            )));
        }
        let text = String::from_utf8_lossy(&out);
        match text.lines().next().filter(|l| !l.trim().is_empty()) {
            Some(line) => serde_json::from_str(line)
                .map_err(|e| SpawnError::Engine(format!("runner answered non-JSON ({e})"))),
            // Typically a returned promise that never settles: node exits with nothing to say.
            None => Err(SpawnError::Run(
                "the runner exited without a result (a promise that never settles?)".into(),
            )),
        }
    }
}

/// ScriptEngine.ts integrationHasValidScript(): `scriptEnabled && scriptCompiled.trim() !== ''`.
pub fn has_valid_script(integ: &crate::Integration) -> bool {
    integ.script_on()
        && integ
            .script_compiled
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
}

/// JS truthiness of a JSON value (`if (!result)` in executeIntegrationRest).
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().map(|f| f != 0.0 && !f.is_nan()).unwrap_or(true),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}
