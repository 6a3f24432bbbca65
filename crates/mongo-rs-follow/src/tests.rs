use super::*;
use mongo_wire::Value;

fn v(set: Option<&str>, members: &[&str], primary: Option<&str>, writable: bool) -> View {
    View {
        set_name: set.map(str::to_string),
        members: members.iter().map(|s| s.to_string()).collect(),
        primary: primary.map(str::to_string),
        writable_primary: writable,
    }
}

fn hosts(n: u32) -> Vec<String> {
    (0..n).map(|i| format!("m{i}:27017")).collect()
}

#[test]
fn member_hosts_follow_the_pattern() {
    let p = "{pod}.{service}.{namespace}.svc.cluster.local:27017";
    assert_eq!(
        member_host(p, "mongo", 2, "mongo", "chat"),
        "mongo-2.mongo.chat.svc.cluster.local:27017"
    );
    assert_eq!(
        member_host("127.0.1.{ordinal}:4000", "x", 7, "s", "n"),
        "127.0.1.7:4000"
    );
}

#[test]
fn initiates_on_pod_0_with_the_pods_that_answer() {
    let d = hosts(3);
    let fresh = v(None, &[], None, false);
    assert_eq!(
        decide(
            &d,
            &[
                ("m0:27017".into(), fresh.clone()),
                ("m2:27017".into(), fresh.clone())
            ],
            "rs0"
        ),
        Decision::Initiate(vec!["m0:27017".into(), "m2:27017".into()])
    );
    // Without pod 0 nothing starts (the set is always initiated on the first pod).
    assert!(
        matches!(decide(&d, &[("m1:27017".into(), fresh)], "rs0"), Decision::Wait(w) if w.contains("m0:27017"))
    );
    assert!(matches!(decide(&[], &[], "rs0"), Decision::Wait(_)));
}

#[test]
fn adds_answering_pods_and_keeps_missing_members() {
    let d = hosts(5);
    let cfg = ["m0:27017", "m1:27017", "m2:27017"];
    let p = v(Some("rs0"), &cfg, Some("m0:27017"), true);
    let s = v(Some("rs0"), &cfg, Some("m0:27017"), false);
    let fresh = v(None, &[], None, false);
    // m3 answers, m4 not created yet: m3 joins.
    let views = [
        ("m0:27017".to_string(), p.clone()),
        ("m1:27017".to_string(), s.clone()),
        ("m2:27017".to_string(), s.clone()),
        ("m3:27017".to_string(), fresh.clone()),
    ];
    let want: Vec<String> = hosts(4);
    assert_eq!(
        decide(&d, &views, "rs0"),
        Decision::Reconcile {
            wanted: want,
            step_down: None
        }
    );
    // m1 is down (rolling restart) meanwhile: it stays a member, and nothing changes until it
    // is back (never removed for being away, no reconfig with a member missing).
    let away = [
        ("m0:27017".to_string(), p.clone()),
        ("m2:27017".to_string(), s.clone()),
        ("m3:27017".to_string(), fresh),
    ];
    let w = decide(&d, &away, "rs0");
    assert!(
        matches!(&w, Decision::Wait(w) if w.contains("m1:27017") && w.contains("stays")),
        "{w:?}"
    );
    // The StatefulSet shrank to 2 while m1 is away: m2 is not removed before m1 is back.
    let w = decide(&hosts(2), &away, "rs0");
    assert!(
        matches!(&w, Decision::Wait(w) if w.contains("m1:27017")),
        "{w:?}"
    );
    // Same StatefulSet size, one member missing: nothing to do (never removed for being away).
    let d3 = hosts(3);
    let views = [("m0:27017".to_string(), p), ("m2:27017".to_string(), s)];
    assert!(
        matches!(decide(&d3, &views, "rs0"), Decision::Nothing { members } if members.len() == 3)
    );
}

#[test]
fn removes_only_what_the_statefulset_dropped_and_steps_the_primary_down() {
    let cfg = ["m0:27017", "m1:27017", "m2:27017", "m3:27017", "m4:27017"];
    let sec = v(Some("rs0"), &cfg, Some("m4:27017"), false);
    let pri = v(Some("rs0"), &cfg, Some("m4:27017"), true);
    let views = [
        ("m0:27017".to_string(), sec.clone()),
        ("m1:27017".to_string(), sec.clone()),
        ("m4:27017".to_string(), pri),
    ];
    assert_eq!(
        decide(&hosts(2), &views, "rs0"),
        Decision::Reconcile {
            wanted: vec!["m0:27017".into(), "m1:27017".into()],
            step_down: Some("m4:27017".into())
        }
    );
    // A PRIMARY that stays is never stepped down; non-voters (passives) count as members.
    let with_passive = View {
        members: vec!["m0:27017".into(), "m1:27017".into()],
        ..v(Some("rs0"), &[], Some("m0:27017"), true)
    };
    let views = [("m0:27017".to_string(), with_passive)];
    assert!(matches!(
        decide(&hosts(2), &views, "rs0"),
        Decision::Nothing { .. }
    ));
    // Scaled to 0: the config is left alone rather than emptied.
    assert!(matches!(
        decide(&[], &[("m0:27017".to_string(), sec)], "rs0"),
        Decision::Wait(_)
    ));
}

#[test]
fn another_sets_members_are_not_our_config() {
    let other = v(Some("rs9"), &["m0:27017"], None, true);
    assert!(matches!(
        decide(&hosts(1), &[("m0:27017".to_string(), other)], "rs0"),
        Decision::Initiate(_)
    ));
}

#[test]
fn hello_lists_hosts_passives_and_arbiters() {
    let reply = Doc::new()
        .with("setName", "rs0")
        .with("isWritablePrimary", true)
        .with("primary", "a:1")
        .with("hosts", vec![Value::String("a:1".into())])
        .with("passives", vec![Value::String("b:1".into())])
        .with("arbiters", vec![Value::String("c:1".into())]);
    let got = view(&reply);
    assert_eq!(got.members, ["a:1", "b:1", "c:1"]);
    assert!(got.writable_primary && got.primary.as_deref() == Some("a:1"));
}

#[test]
fn usage_errors_before_any_network() {
    use clap::Parser;
    let dir = std::env::temp_dir().join(format!("follow-usage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("token"), "t0k3n\n").unwrap();
    std::fs::write(dir.join("ca.crt"), "not a cert").unwrap();
    // A CA file as big as /dev/zero is refused without reading it all.
    let big_file = dir.join("big.crt");
    std::fs::File::create(&big_file)
        .unwrap()
        .set_len(sidecar::file::PEM_FILE_MAX + 1)
        .unwrap();
    let big: &str = big_file.to_str().unwrap().to_string().leak();
    let base = |extra: &[&str]| {
        let mut a = vec![
            PROG,
            "--replica-set",
            "rs0",
            "--token-file",
            dir.join("token").to_str().unwrap().to_string().leak(),
        ];
        if !extra.contains(&"--ca-file") {
            a.extend([
                "--ca-file",
                dir.join("ca.crt").to_str().unwrap().to_string().leak(),
            ]);
        }
        a.extend_from_slice(extra);
        Args::try_parse_from(a).unwrap()
    };
    let none = |_: &str| None;
    let with_ca = |ca: &'static str| {
        vec![
            "--namespace",
            "chat",
            "--api-server",
            "https://h:1",
            "--ca-file",
            ca,
        ]
    };
    for (extra, want) in [
        (
            vec![
                "--namespace",
                "chat",
                "--api-server",
                "https://h:1",
                "--member-host",
                "db:27017",
            ],
            "{pod} or {ordinal}",
        ),
        (
            vec!["--namespace", "chat", "--api-server", "http://h:1"],
            "https://",
        ),
        (vec!["--namespace", "chat"], "KUBERNETES_SERVICE_HOST"),
        (
            vec!["--namespace", "chat", "--api-server", "https://h:1"],
            "CA file",
        ),
        (
            vec!["--api-server", "https://h:1", "--namespace", "Bad_NS"],
            "not a Kubernetes name",
        ),
        (
            vec!["--namespace", "chat", "--api-server", "https://h b:1"],
            "only letters, digits",
        ),
        (with_ca("/"), "not a regular file"),
        (with_ca(big), "more than the 1048576"),
    ] {
        let e = prepare(&base(&extra), &none).err().expect("a usage error");
        assert_eq!(e.exit, sidecar::Exit::Usage, "{extra:?}");
        assert!(e.message.contains(want), "{extra:?}: {}", e.message);
        assert!(!e.message.contains("t0k3n"));
    }
    // KUBERNETES_SERVICE_HOST no resolver can find: a usage error now, not retried.
    let bad_host = |k: &str| (k == "KUBERNETES_SERVICE_HOST").then(|| "10.0.0.1\nx".to_string());
    let e = prepare(&base(&["--namespace", "chat"]), &bad_host)
        .err()
        .expect("a usage error");
    assert!(
        e.exit == sidecar::Exit::Usage && e.message.contains("KUBERNETES_SERVICE_HOST"),
        "{}",
        e.message
    );
    assert!(!e.message.contains('\n'));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_empty_service_name_is_refused_only_when_the_pattern_needs_it() {
    let sts = |service: &str| kube::StatefulSet {
        replicas: 3,
        service: service.into(),
        deleting: false,
    };
    let default = "{pod}.{service}.{namespace}.svc.cluster.local:27017";
    let e = service_for(default, &sts(""), "statefulset ns/db").unwrap_err();
    assert_eq!(e.exit, sidecar::Exit::Refused);
    assert!(
        e.message
            .contains("statefulset ns/db has no spec.serviceName"),
        "{}",
        e.message
    );
    assert!(e.message.contains("--member-host"), "{}", e.message);
    assert!(service_for("10.0.0.{ordinal}:27017", &sts(""), "s").is_ok());
    assert!(service_for(default, &sts("db"), "s").is_ok());
    let odd = service_for(default, &sts("a b\n"), "s").unwrap_err();
    assert!(odd.exit == sidecar::Exit::Refused && !odd.message.contains('\n'));
}

#[test]
fn changes_run_as_mongo_rs_init_reconcile_with_the_same_checks() {
    let cred = Credential {
        username: "root".into(),
        password: sidecar::Secret::new("pw"),
        source: "admin".into(),
        mechanism: None,
    };
    let p = init_config("rs0", Some(&cred), &hosts(3)).unwrap();
    assert!(p.reconcile && !p.wait_only);
    assert_eq!(p.set_name, "rs0");
    assert_eq!(p.member_names(), hosts(3));
    assert_eq!(p.cred.map(|c| c.username), Some("root".into()));
    assert_eq!(p.cap, mongo_rs::init::DEFAULT_CAP);
    // A StatefulSet of 51 replicas: refused for good, as `mongo-rs-init --member` x51 was.
    let f = init_config("rs0", None, &hosts(51)).unwrap_err();
    assert_eq!(f.exit, sidecar::Exit::Refused);
    assert!(f.message.contains("at most 50"), "{}", f.message);
    let f = init_config("rs0", None, &["db:0".into()]).unwrap_err();
    assert_eq!(f.exit, sidecar::Exit::Usage);
}

#[test]
fn a_legacy_is_master_reply_names_the_writable_primary_too() {
    // Servers before 4.4.2 answer isMaster (client::hello falls back to it): `ismaster`, not
    // `isWritablePrimary`, says the member takes writes.
    let legacy = Doc::new().with("setName", "rs0").with("ismaster", true);
    assert!(view(&legacy).writable_primary, "{:?}", view(&legacy));
}
