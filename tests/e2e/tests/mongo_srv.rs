//! `mongodb+srv://` end to end: the built mongo-rs-init / mongo-rs-probe resolve their seed list
//! from a real DNS server (dnsmasq, Debian's `dnsmasq-base`, serving SRV and TXT records on a
//! loopback port named through MONGO_RESOLV_CONF), then talk to mongo-sim.
//!
//! The SRV targets must resolve through the system resolver too, which only knows /etc/hosts
//! here: they are `127.0.0.1` (mongo-sim's members), so the SRV host names are `<x>.0.0.1`,
//! whose seedlist `{domainname}` `0.0.1` is a suffix of `127.0.0.1` (the spec's rule holds, and
//! pymongo accepts the same records: tests/fidelity/test_srv.py).

use e2e::mongo::{init_env, last_line, probe_env, Sim};
use e2e::{free_port, Proc};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

const PASSWORD: &str = "Sup3r-S3cret-pw";

/// dnsmasq in the foreground on 127.0.0.1:<port>, authoritative ("local") for the test
/// domains, no upstream, no /etc/hosts; its query log on stdout.
struct Dns {
    proc: Proc,
    conf: PathBuf,
}

fn dnsmasq_bin() -> String {
    std::env::var("DNSMASQ_BIN").unwrap_or_else(|_| {
        ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("dnsmasq is missing: apt-get install dnsmasq-base (scripts/test installs it)")
            .to_string()
    })
}

impl Dns {
    fn start(records: &[String]) -> Dns {
        // dnsmasq needs the port for UDP and TCP: free_port() checked TCP only.
        let port = (0..50)
            .map(|_| free_port())
            .find(|&p| UdpSocket::bind(("127.0.0.1", p)).is_ok())
            .expect("a loopback port free for UDP and TCP");
        let mut cmd = Command::new("sh");
        // dnsmasq logs to stderr with --log-facility=-: fold it into the stdout Proc reads.
        cmd.args(["-c", "exec \"$0\" \"$@\" 2>&1", &dnsmasq_bin()]);
        cmd.args([
            "--keep-in-foreground",
            "--conf-file=/dev/null",
            "--no-resolv",
            "--no-hosts",
            "--pid-file",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--log-queries",
            "--log-facility=-",
            "--local=/0.0.1/",
            "--local=/example.test/",
            &format!("--port={port}"),
        ]);
        cmd.args(records);
        let mut proc = Proc::spawn(cmd);
        proc.wait_for_line("started, version", Duration::from_secs(10));
        let conf = resolv_conf(&format!("nameserver [127.0.0.1]:{port}\n"), port);
        Dns { proc, conf }
    }

    fn queries(&mut self, kind: &str, name: &str) -> usize {
        self.proc.count(&format!("query[{kind}] {name} from"))
    }
}

fn resolv_conf(text: &str, tag: u16) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-srv-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("resolv.conf");
    std::fs::write(&path, text).unwrap();
    path
}

fn srv(name: &str, sim: &Sim) -> Vec<String> {
    sim.members
        .iter()
        .map(|m| {
            let port = m.rsplit_once(':').unwrap().1;
            format!("--srv-host=_mongodb._tcp.{name},127.0.0.1,{port}")
        })
        .collect()
}

fn txt(name: &str, text: &str) -> String {
    format!("--txt-record={name},{text}")
}

fn no_secret(r: &e2e::Run) {
    assert!(
        !r.stdout.contains(PASSWORD) && !r.stderr.contains(PASSWORD),
        "password leaked: {r:?}"
    );
}

#[test]
fn init_and_probe_take_the_seed_list_and_replica_set_from_dns() {
    let mut sim = Sim::set(3, &[]);
    let mut records = srv("rs.0.0.1", &sim);
    // Two character-strings in one record: concatenated, as the spec says.
    records.push(txt("rs.0.0.1", "replicaSet=rs0&auth,Source=admin"));
    records.extend(srv("other.0.0.1", &sim));
    records.push(txt("other.0.0.1", "replicaSet=elsewhere"));
    let mut dns = Dns::start(&records);
    let conf = dns.conf.clone();
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];

    // No --replica-set and no member list: both come from DNS; tls=false overrides +srv's TLS.
    let r = init_env(
        &[
            "--uri",
            "mongodb+srv://rs.0.0.1/?tls=false",
            "--timeout",
            "20s",
        ],
        &env,
    );
    assert_eq!(r.code(), 0, "{r:?}");
    let (mut hosts, _) = sim.config_now();
    hosts.sort();
    let mut want = sim.members.clone();
    want.sort();
    assert_eq!(hosts, want, "the set was initiated with the SRV targets");
    assert_eq!(dns.queries("SRV", "_mongodb._tcp.rs.0.0.1"), 1);
    assert_eq!(dns.queries("TXT", "rs.0.0.1"), 1);

    let p = settled(
        &[
            "--uri",
            "mongodb+srv://rs.0.0.1/?tls=false",
            "--allow-secondary",
            "--json",
        ],
        &env,
    );
    assert_eq!(p.code(), 0, "{p:?}");
    assert_eq!(p.json()["setName"], "rs0");
    // The TXT record of `other` names another set: the probe holds the member to it…
    let p = probe_env(
        &[
            "--uri",
            "mongodb+srv://other.0.0.1/?tls=false",
            "--allow-secondary",
        ],
        &env,
    );
    assert_ne!(p.code(), 0, "{p:?}");
    assert!(last_line(&p).contains("elsewhere"), "{p:?}");
    // …unless the URI's replicaSet overrides it.
    let p = settled(
        &[
            "--uri",
            "mongodb+srv://other.0.0.1/?tls=false&replicaSet=rs0",
            "--allow-secondary",
        ],
        &env,
    );
    assert_eq!(p.code(), 0, "{p:?}");
}

/// The probe once the member it asks (the first SRV target) left STARTUP2 (bounded).
fn settled(args: &[&str], env: &[(&str, &str)]) -> e2e::Run {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let p = probe_env(args, env);
        if p.code() == 0 || std::time::Instant::now() > end {
            return p;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_txt_auth_source_is_where_credentials_are_checked() {
    let user = format!("admin:{PASSWORD}:root");
    let sim = Sim::set(1, &["--auth", "--user", &user]);
    let mut records = srv("auth.0.0.1", &sim);
    records.push(txt("auth.0.0.1", "replicaSet=rs0&authSource=admin"));
    records.extend(srv("wrongdb.0.0.1", &sim));
    records.push(txt("wrongdb.0.0.1", "replicaSet=rs0&authSource=nosuchdb"));
    let dns = Dns::start(&records);
    let conf = dns.conf.clone();
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];
    // The user exists in admin only: authSource=nosuchdb from TXT makes the login (needed to
    // initiate) fail; the same URI with the other TXT record (authSource=admin) succeeds.
    let bad = init_env(
        &[
            "--uri",
            &format!("mongodb+srv://admin:{PASSWORD}@wrongdb.0.0.1/?tls=false"),
            "--timeout",
            "5s",
        ],
        &env,
    );
    assert_eq!(bad.code(), 3, "{bad:?}");
    assert!(
        last_line(&bad).contains("rejected the credentials"),
        "{bad:?}"
    );
    no_secret(&bad);
    let ok = init_env(
        &[
            "--uri",
            &format!("mongodb+srv://admin:{PASSWORD}@auth.0.0.1/?tls=false"),
            "--timeout",
            "20s",
        ],
        &env,
    );
    assert_eq!(ok.code(), 0, "{ok:?}");
    no_secret(&ok);
}

#[test]
fn tls_is_on_by_default_for_srv_unless_tls_false() {
    let pki = e2e::tls::Pki::new("srv");
    let mut sim = Sim::set(
        1,
        &[
            "--tls-cert-key-file",
            pki.server.to_str().unwrap(),
            "--tls-ca-file",
            pki.ca.pem.to_str().unwrap(),
            "--tls-allow-connections-without-certificates",
        ],
    );
    let dns = Dns::start(&srv("tls.0.0.1", &sim));
    let conf = dns.conf.clone();
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];
    let ca = pki.ca.pem.to_str().unwrap();
    let p = probe_env(
        &[
            "--uri",
            &format!("mongodb+srv://tls.0.0.1/?tlsCAFile={ca}"),
            "--alive",
        ],
        &env,
    );
    assert_eq!(p.code(), 0, "{p:?}");
    assert!(sim.count("\"ssl\":\"on\"") >= 1, "a TLS connection");
    // No tls option at all: TLS anyway, trusting the CA from the environment twin.
    let p = probe_env(
        &["--uri", "mongodb+srv://tls.0.0.1", "--alive"],
        &[env[0], ("MONGO_TLS_CA_FILE", ca)],
    );
    assert_eq!(p.code(), 0, "{p:?}");
    // tls=false (URI or MONGO_TLS) turns it off: the TLS-only member then closes on us.
    for (uri, extra) in [
        ("mongodb+srv://tls.0.0.1/?tls=false", None),
        ("mongodb+srv://tls.0.0.1", Some(("MONGO_TLS", "false"))),
    ] {
        let mut e = vec![env[0]];
        e.extend(extra);
        let p = probe_env(&["--uri", uri, "--alive", "--timeout", "1s"], &e);
        assert_eq!(p.code(), 1, "{uri}: {p:?}");
    }
}

#[test]
fn records_that_can_never_work_are_refused_in_one_line_before_any_connection() {
    let mut sim = Sim::set(1, &[]);
    let port = sim.members[0].rsplit_once(':').unwrap().1.to_string();
    let mut records = vec![
        // The target 127.0.0.1 is not in example.test: a hijacked record must not be followed.
        format!("--srv-host=_mongodb._tcp.rs.example.test,127.0.0.1,{port}"),
        txt("bad.0.0.1", "ssl=false"),
        txt("two.0.0.1", "replicaSet=rs0"),
        txt("two.0.0.1", "authSource=admin"),
    ];
    records.extend(srv("bad.0.0.1", &sim));
    records.extend(srv("two.0.0.1", &sim));
    let mut dns = Dns::start(&records);
    let conf = dns.conf.clone();
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];
    for (host, want) in [
        (
            "rs.example.test",
            "host 127.0.0.1 is not in the domain example.test",
        ),
        (
            "missing.0.0.1",
            "no such DNS name _mongodb._tcp.missing.0.0.1 (NXDOMAIN",
        ),
        ("bad.0.0.1", "option ssl may not come from DNS"),
        ("two.0.0.1", "has 2 TXT records"),
    ] {
        let uri = format!("mongodb+srv://admin:{PASSWORD}@{host}/?tls=false");
        for r in [
            probe_env(&["--uri", &uri], &env),
            init_env(&["--uri", &uri, "--timeout", "5s"], &env),
        ] {
            assert_eq!(r.code(), 3, "{host}: {r:?}");
            assert!(last_line(&r).contains(want), "{host}: {r:?}");
            assert!(
                r.elapsed < Duration::from_secs(4),
                "not retried to the 5 s deadline: {r:?}"
            );
            no_secret(&r);
        }
    }
    assert_eq!(dns.queries("SRV", "_mongodb._tcp.missing.0.0.1"), 2);
    assert_eq!(sim.count("Connection accepted"), 0, "no member contacted");
    // Wrong in the URI itself: a usage error, and DNS is not even asked.
    let before = dns.queries("SRV", "_mongodb._tcp.bad.0.0.1");
    let r = probe_env(&["--uri", "mongodb+srv://bad.0.0.1:27017"], &env);
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(last_line(&r).contains("takes no port"), "{r:?}");
    assert_eq!(dns.queries("SRV", "_mongodb._tcp.bad.0.0.1"), before);
}

#[test]
fn a_dns_server_that_never_answers_is_a_retryable_timeout_at_the_deadline() {
    // A UDP socket that reads queries and never replies.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let conf = resolv_conf(&format!("nameserver [127.0.0.1]:{port}\n"), port);
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];
    for r in [
        probe_env(
            &["--uri", "mongodb+srv://rs.0.0.1", "--timeout", "1s"],
            &env,
        ),
        init_env(
            &["--uri", "mongodb+srv://rs.0.0.1", "--timeout", "1s"],
            &env,
        ),
    ] {
        assert_eq!(r.code(), 1, "{r:?}");
        let line = last_line(&r);
        assert!(
            line.contains("timed out after 1s waiting for DNS server 127.0.0.1:")
                && line.contains("SRV query for _mongodb._tcp.rs.0.0.1"),
            "{r:?}"
        );
        // Well under one 5 s resolv.conf attempt: the deadline, not the resolver, ended it.
        assert!(r.elapsed < Duration::from_millis(4500), "{r:?}");
    }
    let mut buf = [0u8; 512];
    silent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    assert!(silent.recv(&mut buf).is_ok(), "the query was sent");
    // A missing MONGO_RESOLV_CONF is a usage error naming it.
    let r = probe_env(
        &["--uri", "mongodb+srv://rs.0.0.1"],
        &[("MONGO_RESOLV_CONF", "/nonexistent/resolv.conf")],
    );
    assert_eq!(r.code(), 2, "{r:?}");
    assert!(
        last_line(&r).contains("MONGO_RESOLV_CONF /nonexistent/resolv.conf"),
        "{r:?}"
    );
}

#[test]
fn a_txt_record_too_big_for_udp_is_read_over_tcp() {
    let sim = Sim::start(1, &["--repl-set", "bigset"]);
    // Three strings of one record, over 512 bytes: dnsmasq answers UDP with TC set, so the
    // replicaSet at the end is only seen if the TCP retry read the whole reply.
    let pad = "a".repeat(240);
    let mut records = srv("big.0.0.1", &sim);
    records.push(format!(
        "--txt-record=big.0.0.1,authSource={pad},{pad},&replicaSet=bigset"
    ));
    let dns = Dns::start(&records);
    let conf = dns.conf.clone();
    let env = [("MONGO_RESOLV_CONF", conf.to_str().unwrap())];
    let r = init_env(
        &[
            "--uri",
            "mongodb+srv://big.0.0.1/?tls=false",
            "--timeout",
            "20s",
        ],
        &env,
    );
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stdout.contains("replica set bigset ready"), "{r:?}");
}
