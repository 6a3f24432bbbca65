//! rc-bootstrap's wait for a starting Rocket.Chat (issue 10): it polls what costs the server
//! nothing (`/api/info`) and spends admin logins only where the admin can still be missing.

use e2e::rc::*;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// rc-sim's count of refused logins (test-only route).
fn failed_logins(sim: &Sim) -> u64 {
    let (_, v) = http_json(&sim.url, "GET", "/_sim/logins", &[], None);
    v["failed"].as_u64().expect("failed")
}

#[test]
fn late_initial_data_spends_no_admin_login() {
    // 7.10 (Meteor 3): the server accepts requests only once initialData created the admin.
    let mut sim = Sim::start_env(
        &["--admin-delay", "700ms"],
        &[("ADMIN_USERNAME", ADMIN), ("ADMIN_PASS", ADMIN_PASS)],
        false,
    );
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    let exited = now_ms();
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(
        !r.stderr.contains("admin login as root refused"),
        "no login spent on waiting: {r:?}"
    );
    let line = sim
        .proc
        .wait_for_line("\"listening\"", Duration::from_secs(5));
    assert_eq!(
        failed_logins(&sim),
        0,
        "no refused login while the server was starting"
    );
    let ready = serde_json::from_str::<Value>(&line).unwrap()["ts_ms"]
        .as_u64()
        .expect("listening ts_ms");
    // Generous (the machine is shared): the 1 s + 5 s login pauses would be far beyond it;
    // bench/rc_convergence.py measures the real figure.
    assert!(
        exited.saturating_sub(ready) < 2_000,
        "exit {} ms after the server was ready",
        exited.saturating_sub(ready)
    );
}

/// When rc-sim created `user` (epoch ms).
fn created_ms(sim: &Sim, user: &str) -> u64 {
    sim.user(user)["created_ms"].as_u64().expect("created_ms")
}

fn ddp_sessions(sim: &Sim) -> u64 {
    let (_, v) = http_json(&sim.url, "GET", "/_sim/ddp", &[], None);
    v["opened"].as_u64().expect("opened")
}

#[test]
fn a_6x_late_admin_wakes_the_retry_over_the_realtime_api() {
    // 6.13 (Meteor 2): the server answers while initialData still runs; the admin comes
    // 2.5 s later. Timed retries alone would log in at 0 s, 1 s and 6 s (two refusals, exit
    // 3.5 s after the admin at best); the push of Show_Setup_Wizard leaving `pending` wakes
    // the retry at once.
    let sim = Sim::start(&["--version", "6.13.0", "--admin-delay", "2500ms"]);
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    let exited = now_ms();
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stderr.contains("admin login as root refused"), "{r:?}");
    assert!(
        r.stderr
            .contains("the server pushed Show_Setup_Wizard = in_progress"),
        "woken by the push: {r:?}"
    );
    // Refused at 0 s, then at 1 s (the pause's end comes before the admin), then woken.
    assert_eq!(failed_logins(&sim), 2, "{r:?}");
    assert_eq!(ddp_sessions(&sim), 1, "one realtime session");
    // Generous for a loaded machine, and still well under the timer's 3.5 s.
    let after = exited.saturating_sub(created_ms(&sim, ADMIN));
    assert!(after < 2_500, "exit {after} ms after the admin was created");
}

#[test]
fn without_a_push_a_6x_late_admin_is_waited_for_on_the_timer() {
    // OVERWRITE_SETTING_Show_Setup_Wizard=completed (what many deployments set): initialData
    // finds the setting not `pending` and changes nothing, so no push comes; the 1 s pause
    // runs to its end and the second login finds the admin.
    let sim = Sim::start_env(
        &["--version", "6.13.0", "--admin-delay", "800ms"],
        &[
            ("ADMIN_USERNAME", ADMIN),
            ("ADMIN_PASS", ADMIN_PASS),
            ("OVERWRITE_SETTING_Show_Setup_Wizard", "completed"),
        ],
        true,
    );
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert!(r.stderr.contains("admin login as root refused"), "{r:?}");
    assert!(!r.stderr.contains("the server pushed"), "{r:?}");
    assert_eq!(failed_logins(&sim), 1, "{r:?}");
    assert_eq!(ddp_sessions(&sim), 1, "the watch was open, and silent");
}

#[test]
fn a_login_refused_after_the_push_is_final() {
    // The server's admin appears (pushed, before the 1 s pause ends) but with another
    // password: the login after the push is the last one — the timer's third attempt (at 6 s)
    // is not spent, and users.register is not tried (it could only add a non-admin user).
    let sim = Sim::start(&["--version", "6.13.0", "--admin-delay", "800ms"]);
    let mut e = env(&sim.url);
    for (k, v) in e.iter_mut() {
        if k == "ADMIN_PASS" {
            *v = "An0ther-Passw0rd!zz".into();
        }
    }
    let r = bootstrap(&e, &["--timeout", "30s"]);
    r.exits(3)
        .line_has("still refused after the server finished creating its admin")
        .stderr_lacks("users.register");
    assert_eq!(failed_logins(&sim), 2, "{r:?}");
    assert_no_secrets(&r);
}

#[test]
fn a_6x_restart_whose_admin_exists_opens_no_realtime_session() {
    // The common 6.x run (a restart): the first login succeeds, nothing else is asked.
    let sim = Sim::start(&["--version", "6.13.0"]);
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    assert_eq!(r.code(), 0, "{r:?}");
    assert_eq!(failed_logins(&sim), 0, "{r:?}");
    assert_eq!(ddp_sessions(&sim), 0, "the watch opens at a refusal only");
}

#[test]
fn a_7x_run_opens_no_realtime_session() {
    // ≥ 7.0 creates the admin before it listens: nothing to wait for, no websocket opened.
    let sim = Sim::start(&[]);
    let r = bootstrap(&env(&sim.url), &["--timeout", "30s"]);
    assert_eq!(r.code(), 0, "{r:?}");
    let (_, ddp) = http_json(&sim.url, "GET", "/_sim/ddp", &[], None);
    assert_eq!(ddp["opened"], 0, "no realtime session on 7.10");
}
