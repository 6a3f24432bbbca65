//! `stream-notify-all` / `public-settings-changed`: what rc-bootstrap's 6.x admin wait relies on
//! (README ledger rows "notify-all read by anyone" and "setup wizard pushed").

use super::methods::Conn;
use crate::tests::sim;
use serde_json::{json, Value};
use std::collections::HashMap;

fn connected(s: &crate::Sim, n: u64) -> Conn {
    let mut c = Conn::new(n, s);
    let out = c.handle(
        s,
        &json!({"msg": "connect", "version": "1", "support": ["1"]}),
    );
    assert_eq!(out[0]["msg"], "connected", "{out:?}");
    c
}

fn sub(c: &mut Conn, s: &crate::Sim, id: &str, params: Value) -> Vec<Value> {
    c.handle(
        s,
        &json!({"msg": "sub", "id": id, "name": "stream-notify-all", "params": params}),
    )
}

#[test]
fn anyone_may_read_public_settings_and_is_pushed_the_setup_wizard_step() {
    let s = sim("6.13.0", &[], &[]);
    let mut c = connected(&s, 1);
    let out = sub(&mut c, &s, "a", json!(["public-settings-changed", false]));
    assert_eq!(out, vec![json!({"msg": "ready", "subs": ["a"]})]);
    // The object form with useCollection adds the "collection compatibility" document.
    let out = sub(
        &mut c,
        &s,
        "b",
        json!(["public-settings-changed", {"useCollection": true, "args": []}]),
    );
    assert_eq!(out[0]["msg"], "added", "{out:?}");
    assert_eq!(out[0]["collection"], "stream-notify-all");
    assert_eq!(out[1]["msg"], "ready");
    assert!(c.due(&s).is_empty(), "no initial state is pushed");

    // initialData on a fresh database: the admin, then pending -> in_progress.
    let env: HashMap<String, String> = [("ADMIN_USERNAME", "root"), ("ADMIN_PASS", "pw")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert!(s.lock().insert_admin_from_env(&env).is_some());
    let pushed = c.due(&s);
    assert_eq!(pushed.len(), 2, "one event per subscription: {pushed:?}");
    assert_eq!(
        pushed[0],
        json!({"msg": "changed", "collection": "stream-notify-all", "id": "id",
            "fields": {"eventName": "public-settings-changed",
                "args": ["updated", {"_id": "Show_Setup_Wizard", "value": "in_progress"}]}})
    );
    assert!(c.due(&s).is_empty(), "pushed once");
    // An update that changes nothing fires nothing (no document modified).
    s.lock()
        .update_setting("Show_Setup_Wizard", json!("in_progress"));
    assert!(c.due(&s).is_empty());
    // A session subscribing later is not told of the past.
    let mut late = connected(&s, 2);
    sub(
        &mut late,
        &s,
        "c",
        json!(["public-settings-changed", false]),
    );
    assert!(late.due(&s).is_empty());
}

#[test]
fn refused_notify_all_subscriptions() {
    let s = sim("6.13.0", &[], &[]);
    let mut c = connected(&s, 1);
    let out = sub(&mut c, &s, "x", json!(["", false]));
    assert_eq!(out[0]["msg"], "nosub");
    assert_eq!(out[0]["error"]["error"], "invalid-event-name");
    let out = sub(&mut c, &s, "y", json!(["private-settings-changed", false]));
    assert_eq!(out[0]["msg"], "nosub");
    assert_eq!(out[0]["error"]["error"], "not-allowed");
    assert!(
        out[0]["error"].get("reason").is_none(),
        "no reason upstream"
    );
    // Any other event name is readable by anyone (allowRead('all')), and simply never fires.
    let out = sub(&mut c, &s, "z", json!(["deleteCustomSound", false]));
    assert_eq!(out[0]["msg"], "ready");
}

#[test]
fn a_registered_first_user_moves_the_setup_wizard_too() {
    // users.register of the first user makes it admin: same pending -> in_progress push.
    let s = sim("6.13.0", &[], &[]);
    let mut c = connected(&s, 1);
    sub(&mut c, &s, "a", json!(["public-settings-changed", false]));
    let r = s.handle(&crate::tests::req(
        "POST",
        "/api/v1/users.register",
        json!({"username": "first", "email": "first@example.org", "pass": "Passw0rd!xyzQ",
            "name": "First"}),
        None,
    ));
    assert_eq!(r.status, 200, "{:?}", crate::tests::body(&r));
    let pushed = c.due(&s);
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0]["fields"]["args"][1]["value"], "in_progress");
}
