//! mongo-rs-probe, built, against mongo-sim over real sockets: every member state, faults,
//! deadlines, usage errors. Exit codes AND the one-line reasons / JSON fields are asserted.

use e2e::free_port;
// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use std::time::Duration;

#[test]
fn ghost_member_is_not_initiated_yet() {
    let sim = Sim::set(1, &[]);
    let r = probe(&["--uri", &sim.uri_of(0)]);
    r.exits(1)
        .line_starts("mongo-rs-probe: ")
        .line_has("not initiated yet")
        .line_has("run mongo-rs-init");
    r.one_line();
    let j = probe(&["--uri", &sim.uri_of(0), "--json"]).json();
    assert_eq!(j["state"], "NOT_INITIATED");
    assert_eq!(j["exit"], 1);
    assert_eq!(j["ok"], false);
}

#[test]
fn standalone_mongod_is_refused_for_good() {
    let sim = Sim::start(1, &[]);
    let r = probe(&["--uri", &sim.uri_of(0), "--json"]);
    r.exits(3)
        .json_field("state", "STANDALONE")
        .json_has("reason", "not started with --replSet");
}

#[test]
fn writable_primary_is_healthy() {
    let sim = Sim::set(1, &[]);
    initiate(&sim);
    let r = probe(&["--uri", &sim.uri_of(0)]);
    r.exits(0).stdout_has("is PRIMARY of rs0, writable");
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
    r.exits(0).json_field("state", "PRIMARY");
}

#[test]
fn wrong_set_name_is_refused() {
    let sim = Sim::set(1, &[]);
    initiate(&sim);
    let r = probe(&["--uri", &sim.uri_of(0), "--replica-set", "other"]);
    r.exits(3)
        .line_has("wrong set name")
        .line_has("\"rs0\"")
        .line_has("\"other\"");
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
    r.exits(1)
        .json_has("reason", "--allow-secondary")
        .json_field("primary", sim.members[0].as_str());
    let ok = probe(&["--uri", &sim.uri_of(1), "--allow-secondary"]);
    ok.exits(0).stdout_has("is SECONDARY of rs0");
}

#[test]
fn startup2_member_is_named() {
    // A long STARTUP2 keeps the member there; init initiates, then times out waiting.
    let sim = Sim::set(1, &["--startup2-delay", "30s"]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "1s"]);
    // init cannot see a primary.
    r.exits(1);
    let p = probe(&["--uri", &sim.uri_of(0), "--json"]);
    p.exits(1)
        .json_field("state", "STARTUP2")
        .json_has("reason", "not PRIMARY/SECONDARY yet");
}

#[test]
fn drain_mode_primary_is_not_writable_yet() {
    let sim = Sim::set(1, &["--election-delay", "0ms", "--drain-delay", "30s"]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "1s"]);
    // No writable primary during drain.
    r.exits(1).stderr_has("PRIMARY in drain mode");
    let p = probe_until(
        &["--uri", &sim.uri_of(0)],
        "PRIMARY",
        Duration::from_secs(5),
    );
    p.exits(1)
        .json_field("writable", false)
        .json_has("reason", "drain mode");
    // mongod reports drain mode as `isWritablePrimary: false, secondary: true, primary == me`
    // (_makeHelloResponse): it is a PRIMARY that cannot take writes, never a healthy SECONDARY.
    let r = probe(&["--uri", &sim.uri_of(0), "--allow-secondary", "--json"]);
    // Drain mode is not healthy with --allow-secondary.
    r.exits(1)
        .json_field("state", "PRIMARY")
        .json_has("reason", "drain mode");
}

#[test]
fn nothing_listening_is_unreachable() {
    let port = free_port();
    let uri = format!("mongodb://127.0.0.1:{port}");
    let r = probe(&["--uri", &uri]);
    r.exits(1).line_has("unreachable");
    probe(&["--uri", &uri, "--json"]).json_field("state", "UNREACHABLE");
}

#[test]
fn stalled_server_cannot_hold_the_probe_past_its_timeout() {
    let sim = Sim::set(1, &["--stall"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--timeout", "1s", "--json"]);
    r.exits(1);
    // A deadline bound (timeout + margin), not a performance assertion.
    r.within(Duration::from_millis(1500))
        .json_field("state", "TIMEOUT")
        .json_has("reason", "timed out after 1s");
}

#[test]
fn slow_server_is_cut_at_the_deadline() {
    let sim = Sim::set(1, &["--slow", "5s"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--timeout", "700ms"]);
    r.exits(1)
        .within(Duration::from_millis(1200))
        .line_has("timed out");
}

#[test]
fn reset_connection_is_unavailable() {
    let sim = Sim::set(1, &["--reset"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--json"]);
    r.exits(1)
        .json_field("state", "UNREACHABLE")
        .json_has("reason", "closed");
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
        r.exits(2).one_line().stderr_has(want).lacks("hunter2");
    }
}

#[test]
fn help_teaches_exit_codes_and_environment() {
    let r = probe(&["--help"]);
    r.exits(0);
    for needle in [
        "Exit codes",
        "MONGO_URL",
        "MONGO_PASSWORD_FILE",
        "--allow-secondary",
    ] {
        r.stdout_has(needle);
    }
}
