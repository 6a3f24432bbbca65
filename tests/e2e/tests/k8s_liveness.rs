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
    assert_eq!(ready.code(), 1, "{ready:?}");
    let alive = probe(&["--uri", &uri, "--alive", "--timeout", "2s", "--json"]);
    assert_eq!(alive.code(), 0, "{alive:?}");
    assert_eq!(alive.json()["state"], "NOT_INITIATED", "{alive:?}");
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
    assert_eq!(second.code(), 0, "{second:?}");
}

#[test]
fn alive_fails_on_a_wedged_mongod_within_its_timeout() {
    let sim = Sim::set(1, &["--stall"]);
    let r = probe(&["--uri", &sim.uri_of(0), "--alive", "--timeout", "1s"]);
    assert_eq!(r.code(), 1, "{r:?}");
    assert!(r.stderr.contains("timed out"), "{r:?}");
    assert!(r.elapsed < Duration::from_secs(3), "{:?}", r.elapsed);
    // Nothing listening at all: not alive either.
    let port = e2e::free_port();
    let r = probe(&[
        "--uri",
        &format!("mongodb://127.0.0.1:{port}"),
        "--alive",
        "--timeout",
        "1s",
    ]);
    assert_eq!(r.code(), 1, "{r:?}");
}
