//! mongo-rs-probe, built, against mongo-sim over real sockets: every member state, faults,
//! deadlines, usage errors. Exit codes AND the one-line reasons / JSON fields are asserted.

use e2e::free_port;
use e2e::mongo::{init, initiate, last_line, probe, probe_env, probe_until, Sim};
use std::time::Duration;

#[test]
fn ghost_member_is_not_initiated_yet() {
    let sim = Sim::set(1, &[]);
    let r = probe(&["--uri", &sim.uri_of(0)]);
    assert_eq!(r.code(), 1, "{r:?}");
    let line = last_line(&r);
    assert!(line.starts_with("mongo-rs-probe: "), "{line}");
    assert!(line.contains("not initiated yet"), "{line}");
    assert!(line.contains("run mongo-rs-init"), "{line}");
    assert_eq!(
        r.stderr.lines().count(),
        1,
        "exactly one line: {:?}",
        r.stderr
    );
    let j = probe(&["--uri", &sim.uri_of(0), "--json"]).json();
    assert_eq!(j["state"], "NOT_INITIATED");
    assert_eq!(j["exit"], 1);
    assert_eq!(j["ok"], false);
}

#[test]
fn standalone_mongod_is_refused_for_good() {
    let sim = Sim::start(1, &[]);
    let r = probe(&["--uri", &sim.uri_of(0), "--json"]);
    assert_eq!(r.code(), 3, "{r:?}");
    let j = r.json();
    assert_eq!(j["state"], "STANDALONE");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .contains("not started with --replSet"),
        "{j}"
    );
}

#[test]
fn writable_primary_is_healthy() {
    let sim = Sim::set(1, &[]);
    initiate(&sim);
    let r = probe(&["--uri", &sim.uri_of(0)]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stdout.contains("is PRIMARY of rs0, writable"), "{r:?}");
    let j = probe(&["--uri", &sim.uri_of(0), "--json", "--replica-set", "rs0"]).json();
    assert_eq!(j["state"], "PRIMARY");
    assert_eq!(j["writable"], true);
    assert_eq!(j["setName"], "rs0");
    assert_eq!(j["host"], sim.members[0].as_str());
    assert!(j["elapsed_ms"].as_u64().is_some());
}

#[test]
fn env_mirrors_work_like_flags() {
    let sim = Sim::set(1, &[]);
    initiate(&sim);
    // MONGO_URL is the variable Rocket.Chat reads; a URI with replicaSet names the set.
    let r = probe_env(
        &[],
        &[
            ("MONGO_URL", &sim.uri_of(0)),
            ("MONGO_RS_PROBE_JSON", "true"),
            ("MONGO_RS_PROBE_TIMEOUT", "1s"),
        ],
    );
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(r.json()["state"], "PRIMARY");
}

#[test]
fn wrong_set_name_is_refused() {
    let sim = Sim::set(1, &[]);
    initiate(&sim);
    let r = probe(&["--uri", &sim.uri_of(0), "--replica-set", "other"]);
    assert_eq!(r.code(), 3, "{r:?}");
    let line = last_line(&r);
    assert!(line.contains("wrong set name"), "{line}");
    assert!(
        line.contains("\"rs0\"") && line.contains("\"other\""),
        "{line}"
    );
}

#[test]
fn secondary_needs_allow_secondary() {
    let sim = Sim::set(2, &[]);
    initiate(&sim);
    let r = probe_until(
        &["--uri", &sim.uri_of(1)],
        "SECONDARY",
        Duration::from_secs(5),
    );
    assert_eq!(r.code(), 1, "{r:?}");
    let j = r.json();
    assert!(
        j["reason"].as_str().unwrap().contains("--allow-secondary"),
        "{j}"
    );
    assert_eq!(j["primary"], sim.members[0].as_str());
    let ok = probe(&["--uri", &sim.uri_of(1), "--allow-secondary"]);
    assert_eq!(ok.code(), 0, "{ok:?}");
    assert!(ok.stdout.contains("is SECONDARY of rs0"), "{ok:?}");
}

#[test]
fn startup2_member_is_named() {
    // A long STARTUP2 keeps the member there; init initiates, then times out waiting.
    let sim = Sim::set(1, &["--startup2-delay", "30s"]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "1s"]);
    assert_eq!(r.code(), 1, "init cannot see a primary: {r:?}");
    let p = probe(&["--uri", &sim.uri_of(0), "--json"]);
    assert_eq!(p.code(), 1, "{p:?}");
    let j = p.json();
    assert_eq!(j["state"], "STARTUP2", "{j}");
    assert!(
        j["reason"]
            .as_str()
            .unwrap()
            .contains("not PRIMARY/SECONDARY yet"),
        "{j}"
    );
}

#[test]
fn drain_mode_primary_is_not_writable_yet() {
    let sim = Sim::set(1, &["--election-delay", "0ms", "--drain-delay", "30s"]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "1s"]);
    assert_eq!(r.code(), 1, "no writable primary during drain: {r:?}");
    assert!(r.stderr.contains("PRIMARY in drain mode"), "{}", r.stderr);
    let p = probe_until(
        &["--uri", &sim.uri_of(0)],
        "PRIMARY",
        Duration::from_secs(5),
    );
    assert_eq!(p.code(), 1, "{p:?}");
    let j = p.json();
    assert_eq!(j["writable"], false);
    assert!(j["reason"].as_str().unwrap().contains("drain mode"), "{j}");
    // mongod reports drain mode as `isWritablePrimary: false, secondary: true, primary == me`
    // (_makeHelloResponse): it is a PRIMARY that cannot take writes, never a healthy SECONDARY.
    let r = probe(&["--uri", &sim.uri_of(0), "--allow-secondary", "--json"]);
    assert_eq!(
        r.code(),
        1,
        "drain mode is not healthy with --allow-secondary: {r:?}"
    );
    assert_eq!(r.json()["state"], "PRIMARY", "{r:?}");
    assert!(
        r.json()["reason"].as_str().unwrap().contains("drain mode"),
        "{r:?}"
    );
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = free_port();
    let uri = format!("mongodb://127.0.0.1:{port}");
    let r = probe(&["--uri", &uri]);
    assert_eq!(r.code(), 1, "{r:?}");
    assert!(last_line(&r).contains("unreachable"), "{r:?}");
    assert_eq!(
        probe(&["--uri", &uri, "--json"]).json()["state"],
        "UNREACHABLE"
    );
}

#[test]
fn stalled_server_cannot_hold_the_probe_past_its_timeout() {
    let sim = Sim::set(1, &["--stall"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--timeout", "1s", "--json"]);
    assert_eq!(r.code(), 1, "{r:?}");
    // A deadline bound (timeout + margin), not a performance assertion.
    assert!(r.elapsed < Duration::from_millis(1500), "{:?}", r.elapsed);
    let j = r.json();
    assert_eq!(j["state"], "TIMEOUT");
    assert!(
        j["reason"].as_str().unwrap().contains("timed out after 1s"),
        "{j}"
    );
}

#[test]
fn slow_server_is_cut_at_the_deadline() {
    let sim = Sim::set(1, &["--slow", "5s"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--timeout", "700ms"]);
    assert_eq!(r.code(), 1, "{r:?}");
    assert!(r.elapsed < Duration::from_millis(1200), "{:?}", r.elapsed);
    assert!(last_line(&r).contains("timed out"), "{r:?}");
}

#[test]
fn reset_connection_is_unavailable() {
    let sim = Sim::set(1, &["--reset"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--json"]);
    assert_eq!(r.code(), 1, "{r:?}");
    let j = r.json();
    assert_eq!(j["state"], "UNREACHABLE");
    assert!(j["reason"].as_str().unwrap().contains("closed"), "{j}");
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    for (args, want) in [
        (
            vec!["--uri", "mongodb+srv://u:hunter2@db:27017/"],
            "takes no port",
        ),
        (
            vec!["--uri", "mongodb://u:hunter2@db/?tls=true&ssl=false"],
            "tls and ssl disagree",
        ),
        (vec!["--uri", "postgres://db"], "must start with mongodb://"),
        (vec!["--timeout", "soon"], "invalid duration"),
        (vec!["--timeout", "0"], "more than 0"),
        (vec!["--no-such-flag"], "--no-such-flag"),
    ] {
        let r = probe(&args);
        assert_eq!(r.code(), 2, "{args:?}: {r:?}");
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {:?}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {:?}", r.stderr);
        assert!(!r.stderr.contains("hunter2") && !r.stdout.contains("hunter2"));
    }
}

#[test]
fn help_teaches_exit_codes_and_environment() {
    let r = probe(&["--help"]);
    assert_eq!(r.code(), 0);
    for needle in [
        "Exit codes",
        "MONGO_URL",
        "MONGO_PASSWORD_FILE",
        "--allow-secondary",
    ] {
        assert!(r.stdout.contains(needle), "{needle}");
    }
}
