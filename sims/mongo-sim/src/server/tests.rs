//! Unit tests of the server core; the helpers here serve the command families' tests too.

use super::net::forced_state;
use super::*;
use crate::cli::parse_args;

pub(super) fn sim(args: &[&str]) -> Arc<Sim> {
    let opts = parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap()
        .unwrap();
    let members = opts
        .members
        .iter()
        .map(|s| Member {
            adv_host: s.adv_host.clone(),
            adv_port: s.adv_port,
            listen_ip: s.listen_ip.clone(),
            listen_port: s.listen_port,
            down: opts
                .down
                .iter()
                .any(|d| *d == format!("{}:{}", s.adv_host, s.adv_port)),
            forced: forced_state(&opts, s),
            process_id: ObjectId::new(),
        })
        .collect();
    Sim::new(opts, members)
}

pub(super) fn req(body: Document) -> Request {
    Request {
        request_id: 1,
        op_code: wire::OP_MSG,
        body,
        db: "admin".into(),
        flags: 0,
        query_flags: 0,
    }
}

pub(super) fn conn(member: usize) -> Conn {
    Conn {
        id: 1,
        member,
        remote: "test".into(),
        user: None,
        conv: None,
        peer_subject: None,
    }
}

pub(super) fn code(d: &Document) -> i32 {
    d.get_i32("code").unwrap_or(0)
}

pub(super) fn wait_for(s: &Arc<Sim>, idx: usize, f: impl Fn(&Document) -> bool) -> Document {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let h = s.dispatch(&mut conn(idx), &req(doc! {"hello": 1}));
        if f(&h) || Instant::now() > deadline {
            return h;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

pub(super) const THREE: &[&str] = &[
    "--member",
    "a:1=127.0.0.1:1",
    "--member",
    "b:2=127.0.0.1:2",
    "--member",
    "c:3=127.0.0.1:3",
    "--repl-set",
    "rs0",
    "--election-delay",
    "20ms",
    "--drain-delay",
    "20ms",
    "--startup2-delay",
    "10ms",
];

#[test]
fn host_mapping() {
    let m = Member {
        adv_host: "mongo-0".into(),
        adv_port: 27017,
        listen_ip: "127.0.0.1".into(),
        listen_port: 40001,
        down: false,
        forced: None,
        process_id: ObjectId::new(),
    };
    assert!(m.maps("mongo-0:27017"));
    assert!(m.maps("MONGO-0:27017"));
    assert!(m.maps("localhost:40001"));
    assert!(m.maps("127.0.0.1:27017"));
    assert!(!m.maps("mongo-1:27017"));
    assert!(!m.maps("localhost:40002"));
    assert!(!m.maps("garbage"));
}

#[test]
fn state_machine_initiate_to_writable_primary() {
    let s = sim(THREE);
    let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
    assert_eq!(
        h.get_str("info").unwrap(),
        "Does not have a valid replica set config"
    );
    assert_eq!(
        code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
        94
    );
    let cfg = doc! {"_id": "rs0", "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"},{"_id":2,"host":"c:3"}]};
    let r = s.dispatch(&mut conn(1), &req(doc! {"replSetInitiate": cfg.clone()}));
    assert_eq!(r.get_f64("ok").unwrap(), 1.0, "{r}");
    assert_eq!(
        code(&s.dispatch(&mut conn(2), &req(doc! {"replSetInitiate": cfg}))),
        23
    );
    let h = wait_for(&s, 0, |h| h.get_bool("isWritablePrimary").unwrap_or(false));
    assert!(h.get_bool("isWritablePrimary").unwrap(), "{h}");
    assert_eq!(h.get_str("setName").unwrap(), "rs0");
    assert_eq!(h.get_str("primary").unwrap(), "a:1");
    let h1 = wait_for(&s, 1, |h| h.get_bool("secondary").unwrap_or(false));
    assert!(h1.get_bool("secondary").unwrap());
    let st = s.dispatch(&mut conn(1), &req(doc! {"replSetGetStatus": 1}));
    assert_eq!(st.get_i32("myState").unwrap(), 2);
    // Writes only on the primary.
    let mut ins = req(doc! {"insert": "c", "documents": [{"x": 1}]});
    ins.db = "test".into();
    assert_eq!(code(&s.dispatch(&mut conn(1), &ins)), 10107);
    assert_eq!(s.dispatch(&mut conn(0), &ins).get_i32("n").unwrap(), 1);
}

#[test]
fn drain_mode_reports_primary_but_not_writable() {
    let s = sim(&[
        "--member",
        "a:1",
        "--repl-set",
        "rs0",
        "--election-delay",
        "10ms",
        "--drain-delay",
        "2s",
        "--startup2-delay",
        "10ms",
    ]);
    let r = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
    assert_eq!(r.get_str("me").unwrap(), "a:1");
    let st = {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
            if st.get_i32("myState").unwrap_or(0) == 1 || Instant::now() > deadline {
                break st;
            }
            thread::sleep(Duration::from_millis(10));
        }
    };
    assert_eq!(st.get_i32("myState").unwrap(), 1);
    let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
    assert!(!h.get_bool("isWritablePrimary").unwrap());
    // _makeHelloResponse: drain mode reports secondary: true, primary == me.
    assert!(h.get_bool("secondary").unwrap(), "{h}");
    assert_eq!(h.get_str("primary").unwrap(), h.get_str("me").unwrap());
    let mut ins = req(doc! {"insert": "c", "documents": [{"x": 1}], "txnNumber": 1i64});
    ins.db = "test".into();
    let e = s.dispatch(&mut conn(0), &ins);
    assert_eq!(code(&e), 10107);
    // NotPrimaryError replies carry topologyVersion; a retryable write gets its label.
    assert!(e.get_document("topologyVersion").is_ok(), "{e}");
    assert_eq!(
        e.get_array("errorLabels").unwrap(),
        &vec![Bson::from("RetryableWriteError")]
    );
    // A readable member gossips $clusterTime (dummy signature without auth) + operationTime.
    let ct = h.get_document("$clusterTime").unwrap();
    assert_eq!(
        ct.get_document("signature")
            .unwrap()
            .get_i64("keyId")
            .unwrap(),
        0
    );
    assert_eq!(
        h.get_timestamp("operationTime").unwrap(),
        ct.get_timestamp("clusterTime").unwrap()
    );
}

#[test]
fn restart_with_another_set_name_keeps_the_config_and_is_removed() {
    let dir = std::env::temp_dir().join(format!("mongo-sim-rename-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap().to_string();
    let with = |set: &str| {
        let mut a = THREE.to_vec();
        a.retain(|x| *x != "rs0");
        let pos = a.iter().position(|x| *x == "--repl-set").unwrap();
        a.insert(pos + 1, set);
        a.extend(["--data-dir", &data]);
        let s = sim(&a);
        s.load_persisted().unwrap();
        s
    };
    let first = with("rs0");
    first.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
    // Until writable: the timeline (which persists) is over before the restart.
    wait_for(&first, 0, |h| {
        h.get_bool("isWritablePrimary").unwrap_or(false)
    });
    drop(first);
    let s = with("other");
    // _finishLoadLocalConfig: config kept with myIndex -1 -> REMOVED, not a ghost.
    let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
    assert!(h.get_str("setName").is_err(), "{h}");
    assert!(h.get_bool("isreplicaset").unwrap());
    let e = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
    assert_eq!(code(&e), 93, "{e}");
    let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
    assert_eq!(code(&e), 23, "{e}");
    assert_eq!(e.get_str("errmsg").unwrap(), "already initialized");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn initiate_errors() {
    let s = sim(&[
        "--member",
        "a:1",
        "--member",
        "b:2",
        "--repl-set",
        "rs0",
        "--down",
        "b:2",
    ]);
    let e = s.dispatch(
        &mut conn(0),
        &req(doc! {"replSetInitiate": {"_id": "other", "members": [{"_id":0,"host":"a:1"}]}}),
    );
    assert_eq!(code(&e), 93);
    assert_eq!(e.get_str("errmsg").unwrap(), "Rejecting initiate with a set name that differs from command line set name, initiate set name: other, command line set name: rs0");
    let e = s.dispatch(
        &mut conn(0),
        &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"zzz:9"}]}}),
    );
    assert_eq!(e.get_str("errmsg").unwrap(), "No host described in new configuration with {version: 1, term: 0} for replica set rs0 maps to this node");
    // validateConfigForInitiate: self must be electable (wrapped into 93).
    let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"a:1","priority":0},{"_id":1,"host":"b:2"}]}}));
    assert_eq!(
        (code(&e), e.get_str("errmsg").unwrap()),
        (93, "This node, a:1, with _id MemberId(0) is not electable under the new configuration with {version: 1, term: 0} for replica set rs0")
    );
    let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"}]}}));
    assert_eq!(code(&e), 74);
    assert!(e.get_str("errmsg").unwrap().contains("b:2 failed with"));
    let s = sim(&["--member", "a:1"]);
    let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
    assert_eq!(code(&e), 76);
    assert_eq!(
        code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
        76
    );
    assert!(s
        .dispatch(&mut conn(0), &req(doc! {"hello": 1}))
        .get_bool("isWritablePrimary")
        .unwrap());
    let e = s.dispatch(&mut conn(0), &req(doc! {"frobnicate": 1}));
    assert_eq!(
        e.get_str("errmsg").unwrap(),
        "no such command: 'frobnicate'"
    );
    assert_eq!(code(&e), 59);
}

#[test]
fn auth_gates_commands() {
    let s = sim(&[
        "--member",
        "a:1",
        "--repl-set",
        "rs0",
        "--auth",
        "--user",
        "admin:pw",
        "--user",
        "app:pw:readWrite",
        "--x509-user",
        "CN=rs-init,O=Ops",
    ]);
    assert_eq!(
        code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
        13
    );
    assert_eq!(
        s.dispatch(&mut conn(0), &req(doc! {"ping": 1}))
            .get_f64("ok")
            .unwrap(),
        1.0
    );
    let h = s.dispatch(
        &mut conn(0),
        &req(doc! {"hello": 1, "saslSupportedMechs": "admin.admin"}),
    );
    assert_eq!(h.get_array("saslSupportedMechs").unwrap().len(), 2);
    // An X.509 user has no SASL credentials: the field is there, empty
    // (sasl_mechanism_registry.cpp advertiseMechanismNamesForUser); unknown: no field.
    let h = s.dispatch(
        &mut conn(0),
        &req(doc! {"hello": 1, "saslSupportedMechs": "$external.CN=rs-init,O=Ops"}),
    );
    assert!(h.get_array("saslSupportedMechs").unwrap().is_empty());
    let h = s.dispatch(
        &mut conn(0),
        &req(doc! {"hello": 1, "saslSupportedMechs": "$external.CN=nobody"}),
    );
    assert!(h.get("saslSupportedMechs").is_none());
    let mut c = conn(0);
    c.user = Some(("app".into(), "readWrite".into()));
    let e = s.dispatch(&mut c, &req(doc! {"replSetInitiate": {}}));
    assert_eq!(code(&e), 13);
    assert!(e
        .get_str("errmsg")
        .unwrap()
        .starts_with("not authorized on admin to execute command { replSetInitiate:"));
}

#[test]
fn awaitable_hello_wakes_on_change() {
    let s = sim(&[
        "--member",
        "a:1",
        "--repl-set",
        "rs0",
        "--startup2-delay",
        "10ms",
        "--election-delay",
        "10ms",
        "--drain-delay",
        "10ms",
    ]);
    let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
    let tv = h.get_document("topologyVersion").unwrap().clone();
    let s2 = Arc::clone(&s);
    let waiter = thread::spawn(move || {
        s2.dispatch(
            &mut conn(0),
            &req(doc! {"hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 5000}),
        )
    });
    thread::sleep(Duration::from_millis(50));
    s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
    let t0 = Instant::now();
    let h2 = waiter.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(4));
    assert!(
        h2.get_document("topologyVersion")
            .unwrap()
            .get_i64("counter")
            .unwrap()
            > 0
    );
}
