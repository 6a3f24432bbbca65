//! mongo-rs-init, built, against mongo-sim over real sockets: initiate once, idempotence,
//! concurrency, slow start, restart with persisted config, fail-fast misconfigurations, auth,
//! usage errors, that no password ever reaches the output, and --reconcile (scaling the set's
//! members with one replSetReconfig per member).

// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use e2e::{free_port, run};
use std::time::Duration;

fn settle(sim: &mut Sim) {
    // The sim logs asynchronously from its connection threads; give the lines a moment.
    std::thread::sleep(Duration::from_millis(100));
    sim.proc.drain();
}

#[test]
fn one_member_initiates_and_becomes_writable() {
    let mut sim = Sim::set(1, &[]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "20s"]);
    r.exits(0);
    let line = r.stdout.trim();
    assert!(
        line.starts_with("mongo-rs-init: replica set rs0 ready"),
        "{line}"
    );
    assert!(
        line.contains(&format!("PRIMARY {} is writable", sim.members[0])),
        "{line}"
    );
    assert!(line.contains("initiated in"), "{line}");
    r.stderr_has("initiating replica set rs0");
    settle(&mut sim);
    assert_eq!(sim.count(INITIATE_ACCEPTED), 1);
    probe(&["--uri", &sim.uri_of(0)]).exits(0);
}

#[test]
fn three_members_and_a_rerun_does_not_initiate_again() {
    let mut sim = Sim::set(3, &[]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "20s", "--json"]);
    r.exits(0);
    let j = r.json();
    r.json_field("initiated", true)
        .json_field("setName", "rs0")
        .json_field("primary", sim.members[0].as_str());
    assert_eq!(j["members"].as_array().unwrap().len(), 3);
    settle(&mut sim);
    assert_eq!(sim.count(INITIATE_RECEIVED), 1);

    let again = init(&["--uri", &sim.uri(), "--timeout", "20s", "--json"]);
    again
        .exits(0)
        .json_field("initiated", false)
        .json_has("reason", "was already initiated");
    settle(&mut sim);
    assert_eq!(sim.count(INITIATE_RECEIVED), 1, "no second replSetInitiate");
    // The other members followed: one is SECONDARY.
    probe(&["--uri", &sim.uri_of(2), "--allow-secondary"]).exits(0);
}

#[test]
fn members_from_the_environment() {
    let sim = Sim::set(2, &[]);
    let r = init_env(
        &[],
        &[
            ("MONGO_URL", &sim.uri_of(0)),
            ("MONGO_REPLICA_SET", "rs0"),
            ("MONGO_RS_INIT_MEMBERS", &sim.members.join(",")),
            ("MONGO_RS_INIT_TIMEOUT", "20s"),
            ("MONGO_RS_INIT_JSON", "1"),
        ],
    );
    r.exits(0);
    assert_eq!(r.json()["members"].as_array().unwrap().len(), 2);
}

#[test]
fn concurrent_inits_initiate_exactly_once_and_both_succeed() {
    let mut sim = Sim::set(3, &[]);
    let uri = sim.uri();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let cmd = init_cmd(&["--uri", &uri, "--timeout", "30s"]);
            std::thread::spawn(move || run(cmd, Duration::from_secs(60)))
        })
        .collect();
    for h in runs {
        let r = h.join().unwrap();
        r.exits(0).stdout_has("ready");
    }
    settle(&mut sim);
    // The loser may have sent its own initiate and got 23; only one config was accepted.
    assert_eq!(sim.count(INITIATE_ACCEPTED), 1);
}

#[test]
fn slow_start_is_retried_until_mongod_listens() {
    let sim = Sim::set(1, &["--listen-delay", "1500ms"]);
    let r = init(&["--uri", &sim.uri(), "--timeout", "30s"]);
    r.exits(0)
        .stderr_has("refused the connection")
        .stderr_has("attempt 1");
}

#[test]
fn nothing_listening_gives_up_at_the_deadline() {
    let uri = format!("mongodb://127.0.0.1:{}/?replicaSet=rs0", free_port());
    let r = init(&["--uri", &uri, "--timeout", "1s"]);
    r.exits(1)
        .within(Duration::from_millis(1500))
        .line_has("gave up after")
        .line_has("refused");
}

#[test]
fn restart_with_data_dir_keeps_the_config() {
    let dir = std::env::temp_dir().join(format!("e2e-mongo-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.to_str().unwrap();
    let ports = [free_port(), free_port()];
    let mut first = Sim::on_ports(&ports, &["--repl-set", "rs0", "--data-dir", data]);
    init(&["--uri", &first.uri(), "--timeout", "20s"]).exits(0);
    settle(&mut first);
    assert_eq!(first.count(INITIATE_ACCEPTED), 1);
    drop(first);

    let mut second = Sim::on_ports(&ports, &["--repl-set", "rs0", "--data-dir", data]);
    let r = init(&["--uri", &second.uri(), "--timeout", "20s", "--json"]);
    r.exits(0).json_field("initiated", false);
    settle(&mut second);
    assert_eq!(second.count(INITIATE_RECEIVED), 0, "restart: no initiate");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn member_host_that_is_not_the_node_fails_fast_naming_it() {
    // Reachable for us (like a port published on the docker host), but not mongod's own name.
    let sim = Sim::set(1, &[]);
    let port: u16 = sim.members[0].rsplit(':').next().unwrap().parse().unwrap();
    let alias = format!("127.0.0.1:{}", forwarder(port));
    let r = init(&[
        "--uri",
        &format!("mongodb://{alias}"),
        "--replica-set",
        "rs0",
        "--timeout",
        "60s",
    ]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has(&alias)
        .line_has("compose service name")
        .line_has("InvalidReplicaSetConfig");
}

#[test]
fn member_unreachable_from_the_first_member_fails_fast_naming_it() {
    let sim = Sim::set(1, &[]);
    let port: u16 = sim.members[0].rsplit(':').next().unwrap().parse().unwrap();
    let stranger = format!("127.0.0.1:{}", forwarder(port));
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "rs0",
        "--member",
        &sim.members[0],
        "--member",
        &stranger,
        "--timeout",
        "60s",
    ]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has(&format!("cannot reach {stranger}"))
        .line_has("NodeNotFound");
}

#[test]
fn standalone_mongod_fails_fast() {
    let sim = Sim::start(1, &[]);
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "rs0",
        "--timeout",
        "60s",
    ]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has("not started with --replSet: add `--replSet rs0`");
}

#[test]
fn set_name_mismatch_fails_fast() {
    // Not initiated: mongod itself rejects the name (93, 6.0+ wording "Rejecting initiate with
    // a set name that differs from command line set name, ..."): the hint names mongod's name.
    let sim = Sim::set(1, &[]);
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "other",
        "--timeout",
        "60s",
    ]);
    r.exits(3)
        .line_has("set-name mismatch")
        .line_has("use --replica-set rs0");
    // Initiated as rs0: we see it in hello and refuse before sending anything.
    init(&["--uri", &sim.uri(), "--timeout", "20s"]).exits(0);
    let r = init(&[
        "--uri",
        &sim.uri_of(0),
        "--replica-set",
        "other",
        "--timeout",
        "60s",
    ]);
    r.exits(3).line_has("set-name mismatch").line_has("\"rs0\"");
}

const PASSWORD: &str = "Sup3r-S3cret-pw";

fn auth_sim() -> Sim {
    let user = format!("admin:{PASSWORD}:root");
    Sim::set(1, &["--auth", "--user", &user])
}

fn assert_no_secret(r: &e2e::Run) {
    r.lacks(PASSWORD);
}

#[test]
fn auth_with_a_password_file_succeeds_and_never_prints_it() {
    let sim = auth_sim();
    let file = secret_file("good", PASSWORD);
    let r = init(&[
        "--uri",
        &sim.uri(),
        "--username",
        "admin",
        "--password-file",
        file.to_str().unwrap(),
        "--timeout",
        "20s",
    ]);
    r.exits(0);
    assert_no_secret(&r);
    // The probe needs no credentials (hello is allowed before auth)…
    probe(&["--uri", &sim.uri_of(0)]).exits(0);
    // …and credentials in the URI do not make it fail either.
    let with_creds = format!(
        "mongodb://admin:{PASSWORD}@{}/?authSource=admin",
        sim.members[0]
    );
    let p = probe(&["--uri", &with_creds, "--json"]);
    p.exits(0);
    assert_no_secret(&p);
}

#[test]
fn credentials_in_the_uri_work_and_are_redacted() {
    let sim = auth_sim();
    let uri = format!(
        "mongodb://admin:{PASSWORD}@{}/?replicaSet=rs0",
        sim.members[0]
    );
    let r = init(&["--uri", &uri, "--timeout", "20s", "--json"]);
    r.exits(0);
    assert_no_secret(&r);
}

#[test]
fn wrong_password_is_refused_fast() {
    let sim = auth_sim();
    let file = secret_file("bad", "not-the-password");
    let r = init(&[
        "--uri",
        &sim.uri(),
        "--username",
        "admin",
        "--password-file",
        file.to_str().unwrap(),
        "--timeout",
        "60s",
    ]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has("AuthenticationFailed")
        .lacks("not-the-password");
}

#[test]
fn no_credentials_against_auth_gets_the_localhost_exception_hint() {
    let sim = auth_sim();
    let r = init(&["--uri", &sim.uri(), "--timeout", "60s"]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has("localhost exception does not reach a separate container")
        .line_has("--username/--password-file");
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    let missing = secret_file("missing", "x").with_file_name("nope");
    for (args, want) in [
        (vec!["--uri", "mongodb://db:27017"], "no replica-set name"),
        (
            vec!["--uri", "mongodb+srv://u:hunter2@db:27017/?replicaSet=rs0"],
            "mongodb+srv",
        ),
        (
            vec![
                "--uri",
                "mongodb://u:hunter2@db/?replicaSet=rs0&tls=true&tlsCertificateKeyFilePassword=hunter2",
            ],
            // Encrypted keys are supported (mongo_tls_key.rs): the password needs its key file.
            "given without tlsCertificateKeyFile",
        ),
        (
            vec!["--uri", "mongodb://db/?replicaSet=a", "--replica-set", "b"],
            "conflicts",
        ),
        (
            vec![
                "--uri",
                "mongodb://db/?replicaSet=a",
                "--member",
                "db:notaport",
            ],
            "--member",
        ),
        (
            vec![
                "--uri",
                "mongodb://db/?replicaSet=a",
                "--timeout",
                "forever",
            ],
            "invalid duration",
        ),
        (
            vec![
                "--uri",
                "mongodb://db/?replicaSet=a",
                "--username",
                "u",
                "--password-file",
                missing.to_str().unwrap(),
            ],
            "cannot read",
        ),
        (vec!["--replica-set", "rs0"], "--uri"),
    ] {
        let r = init(&args);
        r.exits(2).one_line().stderr_has(want).stderr_lacks("hunter2");
    }
}

#[test]
fn help_teaches() {
    let r = init(&["--help"]);
    r.exits(0);
    for needle in [
        "Exit codes",
        "MONGO_RS_INIT_MEMBERS",
        "compose service names",
        "--member",
    ] {
        r.stdout_has(needle);
    }
}

// ------------------------------------------------------------------ --reconcile

/// mongo-rs-init against member 0 with exactly `members`, plus `extra` flags.
fn init_members(sim: &Sim, members: &[&str], extra: &[&str]) -> e2e::Run {
    let list = members.join(",");
    let uri = sim.uri_of(0);
    let mut args = vec!["--uri", &uri, "--replica-set", "rs0", "--member", &list];
    args.extend_from_slice(extra);
    init(&args)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn reconcile_scales_one_to_three_one_voter_per_step_then_a_rerun_changes_nothing() {
    let mut sim = Sim::set(3, &[]);
    let owned = sim.members.clone();
    let m: Vec<&str> = owned.iter().map(String::as_str).collect();
    let r = init_members(&sim, &m[..1], &["--timeout", "20s"]);
    r.exits(0);
    settle(&mut sim);
    assert_eq!(sim.config_now(), (vec![m[0].to_string()], 1));

    let r = init_members(&sim, &m, &["--reconcile", "--json", "--timeout", "30s"]);
    r.exits(0);
    let j = r.json();
    assert_eq!(strings(&j["added"]), [m[1], m[2]]);
    assert!(strings(&j["removed"]).is_empty());
    // One voter per reconfig, and MongoDB 4.4+ adds each member as `newlyAdded` then drops the
    // flag by an automatic reconfig once it is SECONDARY: 1 -> 2 (add) -> 3 (auto) -> 4 (add)
    // -> 5 (auto). The run reports the config it read last: 4, or 5 if the automatic reconfig
    // for the last member landed before that read.
    let v = j["version"].as_i64().unwrap();
    assert!(v == 4 || v == 5, "version {v}");
    r.json_field("initiated", false)
        .json_has("reason", &format!("added {},{}", m[1], m[2]))
        .json_has("reason", &format!("config version {v}"))
        .stderr_has("waiting for config version 2");
    // The second add builds on the automatic reconfig's version 3.
    r.stderr_has("waiting for config version 4");

    // The sim accepted two reconfigs from the client and made two automatic ones.
    assert_eq!(sim.wait_count(AUTO_RECONFIG, 2, Duration::from_secs(10)), 2);
    assert_eq!(
        sim.wait_count(RECONFIG_ACCEPTED, 4, Duration::from_secs(10)),
        4
    );
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_RECEIVED), 2);
    let configs = sim.configs();
    let sizes: Vec<usize> = configs
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 2, 2, 3, 3]);
    // Each added member is newlyAdded in the config that adds it, and no longer after.
    let flagged: Vec<bool> = configs
        .iter()
        .map(|c| c.to_string().contains("newlyAdded"))
        .collect();
    assert_eq!(flagged, [false, true, false, true, false]);
    let last = configs.last().unwrap();
    let ids: Vec<i64> = last["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|mm| mm["_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(
        sim.config_now(),
        (m.iter().map(|s| s.to_string()).collect(), 5)
    );
    // The new members joined: the last one is SECONDARY.
    probe(&["--uri", &sim.uri_of(2), "--allow-secondary"]).exits(0);

    // Idempotent: the same list again sends no reconfig at all.
    let again = init_members(&sim, &m, &["--reconcile", "--json", "--timeout", "20s"]);
    again.exits(0);
    let j = again.json();
    assert!(strings(&j["added"]).is_empty() && strings(&j["removed"]).is_empty());
    again
        .json_field("version", 5)
        .json_has("reason", "members already match");
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_RECEIVED), 2, "no reconfig on a rerun");
}

#[test]
fn reconcile_from_the_environment_removes_a_secondary() {
    let mut sim = Sim::set(3, &[]);
    let m: Vec<String> = sim.members.clone();
    initiate_all(&sim);
    let r = init_env(
        &[],
        &[
            ("MONGO_URL", &sim.uri_of(0)),
            ("MONGO_REPLICA_SET", "rs0"),
            ("MONGO_RS_INIT_MEMBERS", &m[..2].join(",")),
            ("MONGO_RS_INIT_RECONCILE", "true"),
            ("MONGO_RS_INIT_JSON", "1"),
            ("MONGO_RS_INIT_TIMEOUT", "20s"),
        ],
    );
    r.exits(0);
    let j = r.json();
    assert!(strings(&j["added"]).is_empty());
    assert_eq!(strings(&j["removed"]), [m[2].as_str()]);
    r.json_field("version", 2)
        .json_has("reason", &format!("removed {}", m[2]));
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_ACCEPTED), 1);
    assert_eq!(sim.config_now(), (m[..2].to_vec(), 2));
    // The removed member knows it: its probe no longer passes.
    probe(&["--uri", &sim.uri_of(2), "--allow-secondary"]).fails();
}

fn initiate_all(sim: &Sim) {
    let r = init(&["--uri", &sim.uri(), "--timeout", "20s"]);
    r.exits(0);
}

#[test]
fn without_reconcile_a_difference_is_only_reported() {
    let mut sim = Sim::set(3, &[]);
    let owned = sim.members.clone();
    let m: Vec<&str> = owned.iter().map(String::as_str).collect();
    init_members(&sim, &m[..1], &["--timeout", "20s"]).exits(0);
    let r = init_members(&sim, &m, &["--timeout", "20s", "--json"]);
    r.exits(0);
    let notes: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("differ from the requested"))
        .collect();
    assert_eq!(notes.len(), 1, "one line: {}", r.stderr);
    assert!(
        notes[0].contains(&format!("not in set: [{}, {}]", m[1], m[2])),
        "{}",
        notes[0]
    );
    assert!(notes[0].contains("--reconcile"), "{}", notes[0]);
    assert!(r.json().get("added").is_none());
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_RECEIVED), 0);
    assert_eq!(sim.config_now().0, [m[0]]);
}

#[test]
fn reconcile_waits_for_an_unreachable_new_member_until_the_deadline() {
    let mut sim = Sim::set(1, &[]);
    let ghost = format!("127.0.0.1:{}", free_port());
    let first = sim.members[0].clone();
    initiate_all(&sim);
    let r = init_members(&sim, &[&first, &ghost], &["--reconcile", "--timeout", "2s"]);
    r.exits(1)
        .within(Duration::from_secs(5))
        .line_has("gave up after")
        .line_has(&format!("{ghost} refused the connection"))
        .stderr_has("attempt 2");
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_RECEIVED), 0, "never reconfigured");
}

#[test]
fn reconcile_refuses_to_remove_the_primary_fast() {
    let mut sim = Sim::set(3, &[]);
    initiate_all(&sim);
    let m = sim.members.clone();
    // Contact only the members to keep: the PRIMARY (member 0) is found through their hello.
    let uri = sim.uri_of(1);
    let list = m[1..].join(",");
    let r = init(&[
        "--uri",
        &uri,
        "--replica-set",
        "rs0",
        "--member",
        &list,
        "--reconcile",
        "--timeout",
        "60s",
        "--json",
    ]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .json_has("reason", &format!("refusing to remove {}", m[0]))
        .json_has("reason", "step it down first")
        .json_field("primary", m[0].as_str());
    settle(&mut sim);
    assert_eq!(sim.count(RECONFIG_RECEIVED), 0);
    assert_eq!(sim.config_now(), (m.clone(), 1));
}

#[test]
fn reconcile_authenticates_like_initiate_and_hints_without_credentials() {
    let user = format!("admin:{PASSWORD}:root");
    let mut sim = Sim::set(2, &["--auth", "--user", &user]);
    let owned = sim.members.clone();
    let m: Vec<&str> = owned.iter().map(String::as_str).collect();
    let file = secret_file("reconcile", PASSWORD);
    let creds = [
        "--username",
        "admin",
        "--password-file",
        file.to_str().unwrap(),
    ];
    let mut flags = vec!["--timeout", "20s"];
    flags.extend_from_slice(&creds);
    init_members(&sim, &m[..1], &flags).exits(0);

    // hello needs no credentials, replSetGetConfig does: refused fast with the hint.
    let r = init_members(&sim, &m, &["--reconcile", "--timeout", "60s"]);
    r.exits(3)
        .within(Duration::from_secs(10))
        .line_has("localhost exception");

    flags.extend_from_slice(&["--reconcile", "--json"]);
    let r = init_members(&sim, &m, &flags);
    r.exits(0);
    assert_no_secret(&r);
    assert_eq!(strings(&r.json()["added"]), [m[1]]);
    // Version 2 adds the member as newlyAdded, the automatic reconfig (version 3) drops it.
    assert_eq!(sim.wait_count(AUTO_RECONFIG, 1, Duration::from_secs(10)), 1);
    assert_eq!(
        sim.wait_count(RECONFIG_ACCEPTED, 2, Duration::from_secs(10)),
        2
    );
    settle(&mut sim);
    assert_eq!(sim.config_now(), (owned.clone(), 3));
}

#[test]
fn reconcile_meets_configuration_in_progress_retries_and_succeeds() {
    // Each reconfig's quorum check takes 1s. After the first add, the PRIMARY's automatic
    // reconfig (dropping `newlyAdded` once the new member is SECONDARY) runs for that long,
    // and the second add arrives meanwhile: mongod answers 109 ConfigurationInProgress, which
    // the client must retry on a fresh config until it goes through.
    let mut sim = Sim::set(
        3,
        &[
            "--quorum-check-delay",
            "1s",
            "--config-commit-delay",
            "10ms",
        ],
    );
    let owned = sim.members.clone();
    let m: Vec<&str> = owned.iter().map(String::as_str).collect();
    let r = init_members(&sim, &m[..1], &["--timeout", "20s"]);
    r.exits(0);
    let r = init_members(&sim, &m, &["--reconcile", "--json", "--timeout", "40s"]);
    r.exits(0);
    assert_eq!(strings(&r.json()["added"]), [m[1], m[2]]);
    assert!(
        sim.reconfig_failures(109) >= 1,
        "the second add should have met 109: {}",
        r.stderr
    );
    assert_eq!(sim.wait_count(AUTO_RECONFIG, 2, Duration::from_secs(15)), 2);
    assert_eq!(
        sim.wait_count(RECONFIG_ACCEPTED, 4, Duration::from_secs(15)),
        4
    );
    settle(&mut sim);
    // Exactly one member added per accepted client reconfig, none applied twice.
    let sizes: Vec<usize> = sim
        .configs()
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [1, 2, 2, 3, 3]);
    assert_eq!(sim.config_now(), (owned.clone(), 5));
}

#[test]
fn reconcile_waits_when_a_reconfig_is_installed_but_slow_to_commit() {
    // New configs reach the other members only after 2s, and the client's replSetReconfig
    // carries maxTimeMS 500 (from connectTimeoutMS): mongod installs the new config, then
    // answers 50 MaxTimeMSExpired "Reconfig finished but failed to propagate to a majority".
    // The client must not give up (the change IS made): it re-reads the config and waits for
    // the commit instead of sending it again.
    let mut sim = Sim::set(3, &["--config-commit-delay", "2s"]);
    let owned = sim.members.clone();
    let m: Vec<&str> = owned.iter().map(String::as_str).collect();
    let r = init_members(&sim, &m[..2], &["--timeout", "30s"]);
    r.exits(0);
    let uri = format!("{}/?connectTimeoutMS=500", sim.uri_of(0));
    let list = m.join(",");
    let r = init(&[
        "--uri",
        &uri,
        "--replica-set",
        "rs0",
        "--member",
        &list,
        "--reconcile",
        "--json",
        "--timeout",
        "40s",
    ]);
    r.exits(0);
    assert_eq!(strings(&r.json()["added"]), [m[2]]);
    // It waited: when it exited, the added config had reached the other members (the sim
    // logs that 2s after installing it) and the new member answered as SECONDARY.
    let version = sim
        .configs()
        .iter()
        .find(|c| c["members"].as_array().unwrap().len() == 3)
        .map(|c| c["version"].as_i64().unwrap())
        .expect("the add was installed");
    let delivered = sim
        .proc
        .drain()
        .iter()
        .filter(|l| l.contains(CONFIG_DELIVERED) && l.contains(&format!("\"version\":{version},")))
        .count();
    let p = probe(&["--uri", &sim.uri_of(2), "--allow-secondary", "--json"]);
    assert!(
        delivered >= 1,
        "exited before config version {version} was committed: {}",
        r.stderr
    );
    p.json_field("state", "SECONDARY");
    assert!(
        sim.reconfig_failures(50) >= 1,
        "the add should have met 50 MaxTimeMSExpired: {}",
        r.stderr
    );
    settle(&mut sim);
    // The initiate's 2 members, then the one add; later configs (mongod's own newlyAdded
    // clean-up) keep the 3.
    let sizes: Vec<usize> = sim
        .configs()
        .iter()
        .map(|c| c["members"].as_array().unwrap().len())
        .collect();
    assert_eq!(&sizes[..2], &[2, 3], "{sizes:?}");
    assert!(sizes[2..].iter().all(|&n| n == 3), "{sizes:?}");
    assert_eq!(sim.config_now().0, owned);
}

/// The hello commands mongo-sim received, per member, as (plain, awaitable) counts, from its
/// own `--log-commands` lines.
fn hellos(sim: &mut Sim) -> Vec<(usize, usize)> {
    settle(sim);
    let members = sim.members.clone();
    let lines = sim.proc.drain().to_vec();
    members
        .iter()
        .map(|m| {
            let mut n = (0, 0);
            for l in &lines {
                let v: serde_json::Value = match serde_json::from_str(l) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                let a = &v["attr"];
                if v["msg"] == "Command received (mongo-sim)"
                    && a["command"] == "hello"
                    && a["member"] == m.as_str()
                {
                    if a["awaitable"] == true {
                        n.1 += 1;
                    } else {
                        n.0 += 1;
                    }
                }
            }
            n
        })
        .collect()
}

#[test]
fn a_fresh_set_streams_only_the_member_it_initiated() {
    let mut sim = Sim::set(3, &["--log-commands"]);
    init(&["--uri", &sim.uri(), "--timeout", "20s"]).exits(0);
    let h = hellos(&mut sim);
    // Discovery asks every member once; then only the first member (initiated, elected) is
    // streamed: its awaitable hellos follow its own transitions (initiate, SECONDARY, PRIMARY,
    // writable) plus at most a couple of maxAwaitTimeMS expiries on a loaded machine.
    assert_eq!(h[1], (1, 0), "{h:?}");
    assert_eq!(h[2], (1, 0), "{h:?}");
    assert_eq!(h[0].0, 1, "one plain hello, then the stream: {h:?}");
    assert!((1..=7).contains(&h[0].1), "{h:?}");
}

#[test]
fn a_rerun_on_a_ready_set_asks_each_member_at_most_once() {
    let mut sim = Sim::set(3, &["--log-commands"]);
    init(&["--uri", &sim.uri(), "--timeout", "20s"]).exits(0);
    hellos(&mut sim);
    let before = hellos(&mut sim);
    let r = init(&["--uri", &sim.uri(), "--timeout", "20s"]);
    r.exits(0);
    let after = hellos(&mut sim);
    // The writable PRIMARY's first answer ends the run: one plain hello per member at most,
    // no SECONDARY is streamed, and the PRIMARY gets at most the one awaitable hello sent if a
    // SECONDARY's answer (naming it) came before its own.
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert!(a.0 - b.0 <= 1, "{before:?} -> {after:?}");
        let streamed = a.1 - b.1;
        assert!(
            streamed <= usize::from(i == 0),
            "{before:?} -> {after:?}: {}",
            r.stderr
        );
    }
}
