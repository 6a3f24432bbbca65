//! mongo-rs-follow over TLS, built, as a process: k8s-sim serves the StatefulSet, mongo-sim
//! members serve TLS only (requireTLS) with a certificate for the pods' addresses
//! (127.0.1.ORDINAL, IP SANs) from a test CA made here. The follower takes TLS from MONGO_TLS_*
//! as mongo-rs-init and mongo-rs-probe do (k8s/overlays/tls): with the CA the set is initiated
//! over TLS; without it (the public roots only) every pass fails, final and named.
//! The pods are always up here: k8s_follow.rs covers pods coming and going.

use e2e::mongo::Sim;
use e2e::tls::Pki;
use e2e::{bin, free_port, run, Proc, Run};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const TOKEN: &str = "sa-token-tls-51c2";

struct Cluster {
    sim: Sim,
    _api: Proc,
    api_port: u16,
    pki: Pki,
    dir: PathBuf,
    pod_port: u16,
}

impl Cluster {
    /// `n` TLS members listening on 127.0.1.0 .. 127.0.1.(n-1) (the names the config uses),
    /// the StatefulSet at `n` replicas.
    fn new(name: &str, n: usize) -> Cluster {
        let pki = Pki::new(&format!("follow-{name}"));
        let dir = pki.dir.join("k8s");
        std::fs::create_dir_all(&dir).unwrap();
        let pod_port = 'again: loop {
            let p = free_port();
            for i in 0..n {
                if TcpListener::bind((format!("127.0.1.{i}").as_str(), p)).is_err() {
                    continue 'again;
                }
            }
            break p;
        };
        let hosts: Vec<String> = (0..n).map(|i| format!("127.0.1.{i}")).collect();
        let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let cert = pki.server_for("pods.pem", &names);
        let mut cmd = Command::new(bin("mongo-sim"));
        cmd.args(["--repl-set", "rs0", "--tls-cert-key-file"])
            .arg(&cert)
            .arg("--tls-ca-file")
            .arg(&pki.ca.pem)
            .arg("--tls-allow-connections-without-certificates");
        let members: Vec<String> = hosts.iter().map(|h| format!("{h}:{pod_port}")).collect();
        for m in &members {
            cmd.args(["--member", &format!("{m}={m}")]);
        }
        let mut proc = Proc::spawn(cmd);
        for m in &members {
            let line = proc.wait_for_line(&format!("\"member\":\"{m}\""), Duration::from_secs(10));
            assert!(line.contains("\"ssl\":\"on\""), "{line}");
        }
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(dir.join("replicas"), n.to_string()).unwrap();
        let mut api = Command::new(bin("k8s-sim"));
        api.arg("--ca-out")
            .arg(dir.join("ca.crt"))
            .arg("--token-file")
            .arg(dir.join("token"))
            .arg("--replicas-file")
            .arg(dir.join("replicas"))
            .args(["--namespace", "chat"]);
        let mut api = Proc::spawn(api);
        let line = api.wait_for_line("\"listening\"", Duration::from_secs(10));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        Cluster {
            sim: Sim { proc, members },
            _api: api,
            api_port: v["port"].as_u64().unwrap() as u16,
            pki,
            dir,
            pod_port,
        }
    }

    /// mongo-rs-follow against this cluster, with only the MONGO_TLS_* variables in `tls`.
    fn follower(&self, extra: &[&str], tls: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(bin("mongo-rs-follow"));
        for (k, _) in std::env::vars() {
            if k.starts_with("MONGO") || k.starts_with("KUBERNETES_") {
                cmd.env_remove(k);
            }
        }
        cmd.args([
            "--api-server",
            &format!("https://127.0.0.1:{}", self.api_port),
        ])
        .args(["--namespace", "chat", "--replica-set", "rs0"])
        .arg("--ca-file")
        .arg(self.dir.join("ca.crt"))
        .arg("--token-file")
        .arg(self.dir.join("token"))
        .args([
            "--member-host",
            &format!("127.0.1.{{ordinal}}:{}", self.pod_port),
        ])
        .args(extra)
        .envs(tls.iter().copied());
        cmd
    }

    fn once(&self, tls: &[(&str, &str)]) -> Run {
        let cmd = self.follower(&["--once", "--timeout", "10s", "--json"], tls);
        run(cmd, Duration::from_secs(30))
    }
}

#[test]
fn the_set_is_initiated_over_tls_with_the_ca_and_plain_gets_nowhere() {
    let mut c = Cluster::new("trusted", 2);
    // Without TLS the members close every connection (requireTLS): nobody answers, retryable.
    let r = c.once(&[]);
    r.exits(1).json_has("reason", "waiting for 127.0.1.0");
    assert!(c.sim.configs().is_empty(), "nothing initiated without TLS");
    assert!(
        c.sim
            .count("The server is configured to only allow SSL connections")
            >= 1
    );

    let ca = c.pki.ca.pem.to_str().unwrap().to_string();
    let tls = [("MONGO_TLS", "true"), ("MONGO_TLS_CA_FILE", ca.as_str())];
    let r = c.once(&tls);
    r.exits(0).json_field("replicas", 2);
    assert_eq!(r.json()["changed"].as_bool(), Some(true), "{r:?}");
    let configs = c.sim.configs();
    let hosts: Vec<&str> = configs.last().expect("a config")["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, c.sim.members);
    // The next pass finds the set as the StatefulSet wants it: nothing to change.
    let r = c.once(&tls);
    r.exits(0);
    assert_eq!(r.json()["changed"].as_bool(), Some(false), "{r:?}");
}

#[test]
fn an_untrusted_certificate_fails_each_pass_named_and_a_bad_ca_file_is_usage() {
    let mut c = Cluster::new("untrusted", 1);
    // MONGO_TLS without the CA: the bundled public roots do not know the test CA. Final (exit
    // 3), at once, not taken for a pod that is not up yet.
    let start = Instant::now();
    let r = c.once(&[("MONGO_TLS", "true")]);
    r.exits(3)
        .json_has("reason", "127.0.1.0")
        .json_has("reason", "unknown issuer")
        .json_has("reason", "MONGO_TLS_CA_FILE");
    assert!(start.elapsed() < Duration::from_secs(8), "not retried");

    // The loop says it (once: a repeated result prints nothing), keeps running, changes nothing.
    let mut follow = Proc::spawn(c.follower(
        &["--interval", "200ms", "--timeout", "5s", "--json"],
        &[("MONGO_TLS", "true")],
    ));
    let line = follow.wait_for_line("unknown issuer", Duration::from_secs(15));
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["exit"], 3, "{line}");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        follow.child.try_wait().unwrap().is_none(),
        "the loop goes on"
    );
    assert_eq!(follow.count("unknown issuer"), 1, "{:?}", follow.seen);
    assert!(c.sim.configs().is_empty(), "nothing initiated");
    follow.kill();

    // An unreadable CA file is a usage error before any connection.
    let missing = c.dir.join("no-such-ca.pem");
    let r = c.once(&[("MONGO_TLS_CA_FILE", missing.to_str().unwrap())]);
    r.exits(2).json_has("reason", "no-such-ca.pem");
}
