//! Replica-set limits checked by mongo-rs-init before sending (issue 7 item 11): at most 7
//! voting members (later members join with votes 0 / priority 0), at most 50 members.

// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use std::time::Duration;

#[test]
fn nine_members_initiate_with_seven_voters() {
    let mut sim = Sim::set(9, &[]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "30s"]);
    r.exits(0);
    let c = sim.configs().pop().unwrap();
    let votes: Vec<i64> = c["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["votes"].as_i64().unwrap())
        .collect();
    assert_eq!(votes, [1, 1, 1, 1, 1, 1, 1, 0, 0], "{c}");
    assert_eq!(c["members"][8]["priority"].as_f64(), Some(0.0), "{c}");
}

#[test]
fn reconcile_adds_an_eighth_member_without_a_vote() {
    let mut sim = Sim::set(8, &[]);
    let all = sim.members.clone();
    let seven = all[..7].join(",");
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "rs0",
        "--member",
        &seven,
        "--timeout",
        "30s",
    ]);
    r.exits(0);
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "rs0",
        "--member",
        &all.join(","),
        "--reconcile",
        "--json",
        "--timeout",
        "30s",
    ]);
    r.exits(0);
    assert_eq!(r.json()["added"][0], all[7].as_str());
    sim.wait_count(RECONFIG_ACCEPTED, 1, Duration::from_secs(2));
    let c = sim.configs().pop().unwrap();
    let eighth = &c["members"][7];
    assert_eq!(eighth["host"], all[7].as_str());
    assert_eq!(eighth["votes"].as_i64(), Some(0), "{c}");
    assert_eq!(eighth["priority"].as_f64(), Some(0.0), "{c}");
}

#[test]
fn more_than_fifty_members_is_refused_before_any_network_access() {
    // Nothing listens on these ports: the refusal must come first, with a hint.
    let members: Vec<String> = (0..51).map(|i| format!("db-{i}.mongo:27017")).collect();
    let r = init(&[
        "--uri",
        "mongodb://db-0.mongo:27017/?replicaSet=rs0",
        "--member",
        &members.join(","),
        "--timeout",
        "30s",
    ]);
    r.exits(3)
        .within(Duration::from_secs(2))
        .line_has("51 members requested")
        .line_has("at most 50");
}

/// A rerun on a set with non-voters (hello lists them under `passives`, not `hosts`) finds the
/// members unchanged: no "members differ" note for the 8th and 9th member.
#[test]
fn a_rerun_on_nine_members_sees_the_passives_as_members() {
    let sim = Sim::set(9, &[]);
    assert_eq!(
        init(&["--uri", &sim.uri(), "--timeout", "30s"]).code(),
        0,
        "first run"
    );
    let r = init(&["--uri", &sim.uri(), "--timeout", "30s"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stderr.contains("not initiating"), "{}", r.stderr);
    assert!(!r.stderr.contains("members differ"), "{}", r.stderr);
}
