//! A member restarted with a `--replSet` other than the set name stored in its data directory.
//! mongod keeps that config without an index for itself (replication_coordinator_impl.cpp
//! `_finishLoadLocalConfig`, warning 21406) and is REMOVED: hello as without a config,
//! replSetGetStatus 93, replSetInitiate 23. mongo-rs-init must not initiate it (it would take
//! the 23 for a lost race and wait for a PRIMARY that never comes); the probe names the state.

use e2e::free_port;
// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use std::time::Duration;

#[test]
fn restart_with_another_set_name_is_removed_and_never_initiated() {
    let dir = std::env::temp_dir().join(format!("e2e-mongo-rename-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.to_str().unwrap();
    let ports = [free_port(), free_port()];
    let mut first = Sim::on_ports(&ports, &["--repl-set", "rs0", "--data-dir", data]);
    init(&["--uri", &first.uri(), "--timeout", "20s"]).exits(0);
    assert_eq!(
        first.wait_count(INITIATE_ACCEPTED, 1, Duration::from_secs(5)),
        1
    );
    drop(first);

    let mut second = Sim::on_ports(&ports, &["--repl-set", "rs1", "--data-dir", data]);
    assert_eq!(
        second.wait_count(
            "set name differs from command line set name",
            1,
            Duration::from_secs(5)
        ),
        1,
        "warning 21406 at start"
    );
    let uri = format!("mongodb://{}/?replicaSet=rs1", second.members.join(","));
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    // Refused for good.
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has("is REMOVED")
        .line_has("21406")
        .line_has("not initiating");
    std::thread::sleep(Duration::from_millis(100));
    second.proc.drain();
    assert_eq!(
        second.count(INITIATE_RECEIVED),
        0,
        "never sends replSetInitiate"
    );

    let p = probe(&["--uri", &second.uri_of(0), "--timeout", "5s"]);
    p.exits(1)
        .line_has("is REMOVED")
        .line_has("--replSet its data was made with");
    let _ = std::fs::remove_dir_all(&dir);
}
