//! The mongod container's liveness and startup probe in k8s/: `mongo-rs-probe --alive`, a
//! command round trip (hello) that any member state passes, and that a wedged mongod (accepts
//! the connection, never answers) fails within --timeout.

use e2e::mongo::{initiate, probe, Sim};
use std::time::Duration;

#[test]
fn alive_accepts_any_state_that_answers() {
    // Not initiated yet: not ready, but alive (restarting it would not help).
    let sim = Sim::set(1, &[]);
    let uri = sim.uri_of(0);
    let ready = probe(&["--uri", &uri, "--allow-secondary", "--timeout", "2s"]);
    ready.exits(1);
    let alive = probe(&["--uri", &uri, "--alive", "--timeout", "2s", "--json"]);
    alive.exits(0).json_field("state", "NOT_INITIATED");
    // A SECONDARY of a set is alive too.
    let set = Sim::set(2, &[]);
    initiate(&set);
    let second = probe(&[
        "--uri",
        &set.uri_of(1),
        "--alive",
        "--timeout",
        "2s",
        "--json",
    ]);
    second.exits(0);
}

#[test]
fn alive_fails_on_a_wedged_mongod_within_its_timeout() {
    let sim = Sim::set(1, &["--stall"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--alive", "--timeout", "1s"]);
    r.exits(1)
        .stderr_has("timed out")
        .within(Duration::from_secs(3));
    // Nothing listening at all: not alive either.
    let port = e2e::free_port();
    let r = probe(&[
        "--uri",
        &format!("mongodb://127.0.0.1:{port}"),
        "--alive",
        "--timeout",
        "1s",
    ]);
    r.exits(1);
}
