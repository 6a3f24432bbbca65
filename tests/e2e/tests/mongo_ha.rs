//! mongo-rs-init on a set that already exists, with members down (a node drain, an eviction, a
//! pending volume): `--wait-only` for the application's init container, and the default mode,
//! must both succeed as soon as a writable PRIMARY exists. Only initiating needs every member.

use e2e::free_port;
// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use std::time::Duration;

/// A 3-member set initiated with --data-dir, then restarted with its third member down.
fn initiated_set_with_one_member_down(tag: &str) -> (Sim, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("e2e-mongo-ha-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.to_str().unwrap().to_string();
    let ports = [free_port(), free_port(), free_port()];
    let first = Sim::on_ports(&ports, &["--repl-set", "rs0", "--data-dir", &data]);
    init(&["--uri", &first.uri(), "--timeout", "20s"]).exits(0);
    drop(first);
    let down = format!("127.0.0.1:{}", ports[2]);
    let sim = Sim::on_ports(
        &ports,
        &["--repl-set", "rs0", "--data-dir", &data, "--down", &down],
    );
    (sim, dir)
}

#[test]
fn wait_only_succeeds_with_a_member_down_and_never_changes_the_set() {
    let (mut sim, dir) = initiated_set_with_one_member_down("wait");
    let r = init(&[
        "--uri",
        &sim.uri(),
        "--wait-only",
        "--json",
        "--timeout",
        "20s",
    ]);
    r.exits(0);
    // The time the set needs: the restarted members' election (300ms) and drain (200ms) in
    // the emulator's defaults, plus margin; far below the deadline.
    r.within(Duration::from_secs(5));
    let j = r.json();
    assert!(
        sim.members[..2].contains(&j["primary"].as_str().unwrap().to_string()),
        "{j}"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sim.count(INITIATE_RECEIVED), 0, "never initiates");
    assert_eq!(sim.count(RECONFIG_RECEIVED), 0, "never reconfigures");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_mode_on_an_initiated_set_does_not_wait_for_a_member_that_is_down() {
    let (mut sim, dir) = initiated_set_with_one_member_down("default");
    let r = init(&["--uri", &sim.uri(), "--json", "--timeout", "20s"]);
    r.exits(0)
        .within(Duration::from_secs(5))
        .json_field("initiated", false);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sim.count(INITIATE_RECEIVED), 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wait_only_never_initiates_a_fresh_set() {
    let mut sim = Sim::set(2, &[]);
    // 3 s, not 1: under load the first answers may take most of a second, and the line must
    // report what the members said (NOT_INITIATED), not that none answered in time.
    let r = init_env(
        &["--uri", &sim.uri(), "--timeout", "3s"],
        &[("MONGO_RS_INIT_WAIT_ONLY", "1")],
    );
    r.exits(1)
        .line_has("no writable PRIMARY")
        .line_has("NOT_INITIATED");
    assert_eq!(sim.count(INITIATE_RECEIVED), 0);
}

#[test]
fn wait_only_conflicts_with_reconcile() {
    let r = init(&[
        "--uri",
        "mongodb://127.0.0.1:1/?replicaSet=rs0",
        "--wait-only",
        "--reconcile",
    ]);
    r.exits(2).line_has("--reconcile");
}
