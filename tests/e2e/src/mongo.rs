//! Helpers for the mongo sidecar tests: start `mongo-sim` (one process, a whole set), run
//! `mongo-rs-probe` / `mongo-rs-init` as processes, and a tiny TCP forwarder that makes a member
//! reachable under a name/port mongod does not recognise as itself (like a published port).

use crate::{bin, free_port, run, Proc, Run};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

/// Log line of every replSetInitiate the sim receives (winner or not).
pub const INITIATE_RECEIVED: &str = "replSetInitiate admin command received from client";
/// Log line only for the initiate that installs a config: count it for "exactly one initiate".
pub const INITIATE_ACCEPTED: &str = "replSetInitiate config object parses ok";

/// Log line of every replSetReconfig the sim receives (accepted or not).
pub const RECONFIG_RECEIVED: &str = "replSetReconfig admin command received from client";
/// Log line only for a reconfig that passed every check and is installed.
pub const RECONFIG_ACCEPTED: &str = "replSetReconfig config object parses ok";
/// Log line of the automatic reconfig by which the PRIMARY drops a new member's `newlyAdded`
/// (MongoDB 4.4+, once that member is SECONDARY; it also logs RECONFIG_ACCEPTED).
pub const AUTO_RECONFIG: &str = "Beginning automatic reconfig to remove 'newlyAdded' config field";
/// Emulator-only line for every replSetReconfig the sim refused, with `code` in its attr.
pub const RECONFIG_FAILED: &str = "replSetReconfig failed (mongo-sim)";
/// Emulator-only line when a reconfig's config reached the other members (`version` in attr).
pub const CONFIG_DELIVERED: &str = "Config delivered to members (mongo-sim)";
/// Log line with the whole config the sim installed (initiate, reconfig, reload).
pub const CONFIG_IN_USE: &str = "New replica set config in use";

/// A running mongo-sim and its members' `host:port`.
pub struct Sim {
    pub proc: Proc,
    pub members: Vec<String>,
}

impl Sim {
    /// Starts a sim with `n` members on fresh ports plus `extra` flags and waits until every
    /// member listens (unless `--listen-delay` is among the flags).
    pub fn start(n: usize, extra: &[&str]) -> Sim {
        let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
        Self::on_ports(&ports, extra)
    }

    pub fn on_ports(ports: &[u16], extra: &[&str]) -> Sim {
        let members: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut cmd = Command::new(bin("mongo-sim"));
        for m in &members {
            cmd.args(["--member", m]);
        }
        cmd.args(extra);
        let mut proc = Proc::spawn(cmd);
        // A `--down` member never listens: do not wait for it.
        let down: Vec<&str> = extra
            .windows(2)
            .filter(|w| w[0] == "--down")
            .map(|w| w[1])
            .collect();
        if !extra.contains(&"--listen-delay") {
            for p in ports
                .iter()
                .filter(|p| !down.contains(&format!("127.0.0.1:{p}").as_str()))
            {
                proc.wait_for_line(&format!("\"port\":{p}"), Duration::from_secs(10));
            }
        }
        Sim { proc, members }
    }

    /// A replica set named rs0.
    pub fn set(n: usize, extra: &[&str]) -> Sim {
        let mut args = vec!["--repl-set", "rs0"];
        args.extend_from_slice(extra);
        Self::start(n, &args)
    }

    pub fn uri(&self) -> String {
        format!("mongodb://{}/?replicaSet=rs0", self.members.join(","))
    }

    pub fn uri_of(&self, i: usize) -> String {
        format!("mongodb://{}", self.members[i])
    }

    pub fn count(&mut self, needle: &str) -> usize {
        self.proc.count(needle)
    }

    /// Waits until `needle` was logged `n` times (or `within` passed); returns the count.
    pub fn wait_count(&mut self, needle: &str, n: usize, within: Duration) -> usize {
        let end = Instant::now() + within;
        loop {
            let c = self.count(needle);
            if c >= n || Instant::now() > end {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Refused replSetReconfig replies with this error code, from the sim's own log.
    pub fn reconfig_failures(&mut self, code: i32) -> usize {
        self.proc
            .drain()
            .iter()
            .filter(|l| l.contains(RECONFIG_FAILED) && l.contains(&format!("\"code\":{code},")))
            .count()
    }

    /// Every config the sim installed so far, oldest first, as it logged them (the sim's own
    /// record, independent of the binary under test).
    pub fn configs(&mut self) -> Vec<serde_json::Value> {
        self.proc
            .drain()
            .iter()
            .filter(|l| l.contains(CONFIG_IN_USE))
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("sim log line is JSON");
                v["attr"]["config"].clone()
            })
            .collect()
    }

    /// Hosts and version of the config in use now.
    pub fn config_now(&mut self) -> (Vec<String>, i64) {
        let c = self.configs().pop().expect("the sim has a config");
        let hosts = c["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["host"].as_str().unwrap().to_string())
            .collect();
        (hosts, c["version"].as_i64().unwrap())
    }
}

pub fn probe(args: &[&str]) -> Run {
    probe_env(args, &[])
}

pub fn probe_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(bin("mongo-rs-probe"));
    cmd.args(args);
    clean_env(&mut cmd);
    cmd.envs(env.iter().copied());
    run(cmd, Duration::from_secs(30))
}

pub fn init(args: &[&str]) -> Run {
    init_env(args, &[])
}

pub fn init_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = init_cmd(args);
    cmd.envs(env.iter().copied());
    run(cmd, Duration::from_secs(60))
}

pub fn init_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin("mongo-rs-init"));
    cmd.args(args);
    clean_env(&mut cmd);
    cmd
}

/// The developer's shell may export MONGO_URL & co.: tests must not depend on it.
fn clean_env(cmd: &mut Command) {
    for var in [
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
        "MONGO_RS_INIT_WAIT_ONLY",
        "MONGO_TLS",
        "MONGO_TLS_CA_FILE",
        "MONGO_TLS_CERTIFICATE_KEY_FILE",
        "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD",
        "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE",
        "MONGO_TLS_ALLOW_INVALID_HOSTNAMES",
        "MONGO_TLS_INSECURE",
    ] {
        cmd.env_remove(var);
    }
}

/// Initiates `sim` with mongo-rs-init and asserts success.
pub fn initiate(sim: &Sim) {
    let r = init(&["--uri", &sim.uri(), "--timeout", "20s"]);
    assert_eq!(r.code(), 0, "{r:?}");
}

/// Runs the probe until its JSON `state` is `state` (bounded); returns that run.
pub fn probe_until(args: &[&str], state: &str, within: Duration) -> Run {
    let start = Instant::now();
    loop {
        let mut full = args.to_vec();
        full.push("--json");
        let r = probe(&full);
        if r.json()["state"] == state {
            return r;
        }
        assert!(
            start.elapsed() < within,
            "state {state} not reached within {within:?}; last: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last non-empty line a run printed on stderr (its one-line reason when it failed).
pub fn last_line(r: &Run) -> &str {
    r.stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// Forwards every connection to 127.0.0.1:`target` from a fresh port; runs until the test ends.
pub fn forwarder(target: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = from.read(&mut buf) {
                        if n == 0 || to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        }
    });
    port
}

/// A file holding `secret` (for --password-file), in a fresh temp dir.
pub fn secret_file(name: &str, secret: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-mongo-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("password");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    path
}
