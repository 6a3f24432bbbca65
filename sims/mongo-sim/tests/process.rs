//! Spawns the built `mongo-sim` binary and talks to it over real TCP with raw BSON frames.

use bson::{doc, Document};
use mongo_sim::wire;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    lines: mpsc::Receiver<serde_json::Value>,
    seen: Vec<serde_json::Value>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    fn start(args: &[String]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mongo-sim"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mongo-sim");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        Proc {
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) until `n` log lines with this msg were printed.
    fn wait_msg(&mut self, msg: &str, n: usize, within: Duration) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + within;
        loop {
            let hits: Vec<_> = self
                .seen
                .iter()
                .filter(|l| l["msg"] == msg)
                .cloned()
                .collect();
            if hits.len() >= n {
                return hits;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {msg:?}; seen {:?}",
                self.seen
            );
            if let Ok(l) = self.lines.recv_timeout(left.min(Duration::from_millis(50))) {
                self.seen.push(l);
            }
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn call(s: &mut TcpStream, body: Document) -> Document {
    s.write_all(&wire::encode_op_msg_request(1, 0, &body))
        .unwrap();
    let (h, p) = wire::read_message(s).expect("reply");
    assert_eq!(h.response_to, 1);
    wire::decode_reply(&h, &p).unwrap()
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn port_zero_is_reported_and_legacy_is_master_works() {
    let mut p = Proc::start(&args(&["--member", "127.0.0.1:0", "--repl-set", "rs0"]));
    let w = p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    let port = w[0]["attr"]["port"].as_u64().unwrap() as u16;
    assert_ne!(port, 0);
    let mut s = connect(port);
    // Drivers' first handshake: OP_QUERY isMaster with helloOk, answered with OP_REPLY.
    s.write_all(&wire::encode_op_query_request(
        5,
        "admin",
        &doc! {"isMaster": 1, "helloOk": true},
    ))
    .unwrap();
    let (h, payload) = wire::read_message(&mut s).unwrap();
    assert_eq!(h.op_code, wire::OP_REPLY);
    assert_eq!(h.response_to, 5);
    let r = wire::decode_reply(&h, &payload).unwrap();
    assert!(r.get_bool("helloOk").unwrap());
    assert!(!r.get_bool("ismaster").unwrap());
    assert!(r.get_bool("isreplicaset").unwrap());

    let r = call(&mut s, doc! {"replSetInitiate": {}, "$db": "admin"});
    assert_eq!(r.get_f64("ok").unwrap(), 1.0, "{r}");
    assert_eq!(r.get_str("me").unwrap(), format!("127.0.0.1:{port}"));
    p.wait_msg(
        "replSetInitiate config object parses ok",
        1,
        Duration::from_secs(5),
    );
    p.wait_msg(
        "Transition to primary complete; database writes are now permitted",
        1,
        Duration::from_secs(10),
    );
    let r = call(&mut s, doc! {"hello": 1, "$db": "admin"});
    assert!(r.get_bool("isWritablePrimary").unwrap());
    assert_eq!(r.get_str("setName").unwrap(), "rs0");
}

#[test]
fn malformed_frame_closes_connection_and_server_survives() {
    let port = free_port();
    let mut p = Proc::start(&args(&["--member", &format!("127.0.0.1:{port}")]));
    p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    let mut s = connect(port);
    // messageLength far above maxMessageSizeBytes.
    let mut bad = 100_000_000i32.to_le_bytes().to_vec();
    bad.extend([0u8; 12]);
    s.write_all(&bad).unwrap();
    let mut buf = [0u8; 1];
    assert!(
        matches!(s.read(&mut buf), Ok(0) | Err(_)),
        "connection must be closed"
    );
    let mut s2 = connect(port);
    assert_eq!(
        call(&mut s2, doc! {"ping": 1, "$db": "admin"})
            .get_f64("ok")
            .unwrap(),
        1.0
    );
}

#[test]
fn fault_reset_closes_without_answer() {
    let port = free_port();
    let mut p = Proc::start(&args(&[
        "--member",
        &format!("127.0.0.1:{port}"),
        "--reset",
    ]));
    p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    let mut s = connect(port);
    s.write_all(&wire::encode_op_msg_request(
        1,
        0,
        &doc! {"ping": 1, "$db": "admin"},
    ))
    .unwrap();
    let mut buf = [0u8; 16];
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn fault_stall_never_answers() {
    let port = free_port();
    let mut p = Proc::start(&args(&[
        "--member",
        &format!("127.0.0.1:{port}"),
        "--stall",
    ]));
    p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    let mut s = connect(port);
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(&wire::encode_op_msg_request(
        1,
        0,
        &doc! {"ping": 1, "$db": "admin"},
    ))
    .unwrap();
    let mut buf = [0u8; 16];
    let err = s.read(&mut buf).expect_err("no reply expected");
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
}

#[test]
fn fault_slow_and_listen_delay() {
    let port = free_port();
    let t0 = Instant::now();
    let mut p = Proc::start(&args(&[
        "--member",
        &format!("127.0.0.1:{port}"),
        "--listen-delay",
        "400ms",
        "--slow",
        "300ms",
    ]));
    // Connection refused until the listen delay has passed.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    assert!(t0.elapsed() >= Duration::from_millis(400));
    let mut s = connect(port);
    let t1 = Instant::now();
    assert_eq!(
        call(&mut s, doc! {"ping": 1, "$db": "admin"})
            .get_f64("ok")
            .unwrap(),
        1.0
    );
    assert!(t1.elapsed() >= Duration::from_millis(300));
}

#[test]
fn down_member_never_listens_and_fails_quorum() {
    let (a, b) = (free_port(), free_port());
    let mut p = Proc::start(&args(&[
        "--member",
        &format!("127.0.0.1:{a}"),
        "--member",
        &format!("127.0.0.1:{b}"),
        "--repl-set",
        "rs0",
        "--down",
        &format!("127.0.0.1:{b}"),
    ]));
    p.wait_msg("Waiting for connections", 1, Duration::from_secs(10));
    assert!(TcpStream::connect(("127.0.0.1", b)).is_err());
    let mut s = connect(a);
    let cfg = doc! {"_id": "rs0", "members": [
        {"_id": 0, "host": format!("127.0.0.1:{a}")},
        {"_id": 1, "host": format!("127.0.0.1:{b}")},
    ]};
    let r = call(&mut s, doc! {"replSetInitiate": cfg, "$db": "admin"});
    assert_eq!(r.get_i32("code").unwrap(), 74, "{r}");
    assert_eq!(r.get_str("codeName").unwrap(), "NodeNotFound");
}

#[test]
fn concurrent_initiates_exactly_one_wins() {
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut a = Vec::new();
    for p in &ports {
        a.push("--member".to_string());
        a.push(format!("127.0.0.1:{p}"));
    }
    a.extend(args(&["--repl-set", "rs0"]));
    let mut p = Proc::start(&a);
    p.wait_msg("Waiting for connections", 3, Duration::from_secs(10));
    let members: Vec<Document> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| doc! {"_id": i as i32, "host": format!("127.0.0.1:{p}")})
        .collect();
    let handles: Vec<_> = ports
        .iter()
        .map(|&port| {
            let members = members.clone();
            thread::spawn(move || {
                let mut s = connect(port);
                call(
                    &mut s,
                    doc! {"replSetInitiate": {"_id": "rs0", "members": members}, "$db": "admin"},
                )
            })
        })
        .collect();
    let replies: Vec<Document> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok = replies
        .iter()
        .filter(|r| r.get_f64("ok").unwrap() == 1.0)
        .count();
    let already = replies
        .iter()
        .filter(|r| r.get_i32("code").ok() == Some(23))
        .count();
    assert_eq!((ok, already), (1, 2), "{replies:?}");
    p.wait_msg(
        "replSetInitiate admin command received from client",
        3,
        Duration::from_secs(5),
    );
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_mongo-sim"))
        .args(["--member", "nohost"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--member"));
}
