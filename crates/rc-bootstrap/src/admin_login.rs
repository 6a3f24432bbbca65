//! Step 1: the admin session, spending few login attempts: Rocket.Chat's brute-force
//! protection (app/authentication/server/lib/restrictLoginAttempts.ts, on by default from 7.0)
//! blocks a username for 5 minutes after 10 failed logins within 5 minutes, and an IP after
//! 50 — and every refused login counts, also one for an admin the server has not created yet.
//! Waiting for the server itself is done on `/api/info` (wait.rs), never with logins.
//!
//! When can a refused login mean "not created yet"? initialData
//! (apps/meteor/server/startup/initialData.ts) creates the ADMIN_* admin in a
//! `Meteor.startup(async …)` hook. Meteor 3 (Rocket.Chat ≥ 7.0) awaits every startup hook before
//! `runMain()`, whose webapp `main` starts the HTTP server (tools/static-assets/server/boot.js
//! callStartupHooks/startServerProcess): the admin exists before the first answer, so a refusal
//! is final. Meteor 2 (Rocket.Chat 6.x) calls the hooks without awaiting them: the server may
//! answer while initialData is still running, and only then are a few spaced retries worth it.
//!
//! Those retries are woken by the server itself: at the first refusal, a 6.x run opens an
//! anonymous realtime session subscribed to the public settings (rc_client::realtime).
//! initialData sets `Show_Setup_Wizard` from `pending` to `in_progress` right after the admin,
//! its password and its role exist, and that change is pushed at once: the next login is sent
//! then, not at the end of the pause. Without a push (no websocket through a proxy, the setting
//! not `pending`, the session lost) the pauses run to their end, as before.
//!
//! Why at the first refusal and not before the first login: a run whose admin exists — every
//! restart — then costs the server nothing more than one login. The price: a creation that ends
//! in the few milliseconds between that refusal and the subscription is not pushed, and is
//! found at the pause's end (1 s).

use crate::status::{Action, Status};
use crate::{is_blocked, Bootstrap};
use rc_client::realtime::SettingsWatch;
use rc_client::rules::{Account, LoginRefusal};
use rc_client::Login;
use sidecar::{Deadline, Failure};
use std::time::{Duration, Instant};

/// Pauses between refused admin logins while a 6.x server may still be creating its ADMIN_*
/// admin: at most 3 attempts a run (at 0 s, 1 s, 6 s). `restart: on-failure` reruns a failing
/// welder, so three runs in a row still stay under the 10-failure threshold; a fourth is told
/// it is blocked (before 8.0) instead of extending the block.
pub const PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

/// The public setting initialData moves off `pending` once the ADMIN_* admin exists.
pub const SETUP_WIZARD: &str = "Show_Setup_Wizard";

/// How the admin logins ended.
enum AdminLogin {
    LoggedIn(Login),
    /// Every attempt refused: no such admin (yet), or a wrong password.
    Refused,
    /// Refused after the server pushed the end of initialData: its admin exists and is not
    /// this one (the refusal, for the message).
    RefusedAfterPush(String),
}

/// Whether a server of this `/api/info` version has created its ADMIN_* admin before it
/// answers (Meteor 3, Rocket.Chat ≥ 7.0: see the module comment). Unknown versions: no.
pub fn admin_exists_when_answering(version: Option<&str>) -> bool {
    version
        .and_then(crate::wait::major)
        .is_some_and(|major| major >= 7)
}

impl Bootstrap<'_> {
    pub(crate) fn admin_session(&mut self, version: Option<&str>) -> Result<Status, Failure> {
        let cfg = self.cfg;
        let user = cfg.admin_user.as_str();
        let pauses: &[Duration] = if admin_exists_when_answering(version) {
            &[]
        } else {
            &PAUSES
        };
        match self.admin_login(pauses)? {
            AdminLogin::LoggedIn(l) => {
                if !l.me.roles.is_empty() && !l.me.has_role("admin") {
                    return Err(Failure::refused(format!(
                        "{user} logs in but is not an admin (roles: {}): give --admin-username of an admin",
                        l.me.roles.join(",")
                    )));
                }
                return Ok(Status::Unchanged {
                    how: Some("logged in"),
                });
            }
            // The server has an admin now, and it is not this one: registering would only add
            // a user that is not an admin (the first user alone becomes one).
            AdminLogin::RefusedAfterPush(why) => {
                return Err(Failure::refused(format!(
                    "admin login as {user} still refused after the server finished creating its admin \
                     ({why}): that admin is not {user} with this password; check ADMIN_USERNAME/ADMIN_PASS \
                     against the server's ADMIN_* (a name refused or taken there becomes `admin`), or \
                     an admin that existed before"
                )));
            }
            AdminLogin::Refused => {}
        }
        // The admin never appeared: no ADMIN_PASS on the server, or a wrong password.
        if is_blocked(user) {
            return Err(Failure::usage(format!(
                "admin login as {user} keeps failing and {user:?} cannot be registered: it is a blocked username \
                 (admin, administrator, system, user, all, here); check ADMIN_PASS, or pick another ADMIN_USERNAME"
            )));
        }
        if cfg.dry_run {
            return Ok(Status::planned(Action::Register).with("admin login refused"));
        }
        self.reporter.progress(
            "admin login still refused (attempts spent sparingly: brute-force protection); trying \
             users.register (the first user becomes admin)",
        );
        let email = cfg
            .admin_email
            .clone()
            .unwrap_or_else(|| format!("{user}@localhost.localdomain"));
        match self
            .admin
            .register_user(user, &email, &cfg.admin_password, user)
        {
            Ok(_) => {}
            Err(e) if e.password_policy_rules().is_some() => {
                return Err(e.failure("registering the admin"))
            }
            Err(e) => {
                return Err(Failure::refused(format!(
                    "admin login as {user} refused and registering it failed ({e}): check ADMIN_USERNAME/ADMIN_PASS \
                     against the server's ADMIN_* (Accounts_RegistrationForm may be disabled, or the user exists with another \
                     password; on 8.0.0 a login blocked by brute-force protection is also just refused: it lifts 5 minutes \
                     after the last failures)"
                )))
            }
        }
        let l = self
            .admin
            .login(user, &cfg.admin_password)
            .map_err(|e| e.failure("logging in as the freshly registered admin"))?;
        if !l.me.roles.is_empty() && !l.me.has_role("admin") {
            return Err(Failure::refused(format!(
                "registered {user}, but it is not an admin (another admin already exists): use that admin's credentials"
            )));
        }
        Ok(Status::done(Action::Register).with("first user, admin"))
    }

    /// One attempt, then one more after each pause that fits in `--admin-wait` and the
    /// deadline. Err for a block, 2FA or a failure that is not a refusal.
    fn admin_login(&mut self, pauses: &[Duration]) -> Result<AdminLogin, Failure> {
        let cfg = self.cfg;
        let user = cfg.admin_user.as_str();
        let wait = Deadline::after(cfg.admin_wait.min(self.deadline.remaining()));
        let mut watch: Option<SettingsWatch> = None;
        // Opening is tried at the first refusal, and once more (in the longer pause) if that
        // try only ran out of time: a busy Meteor 2 in initialData may be slow to upgrade.
        let mut opens_left = 2u8;
        let mut pauses = pauses.iter();
        let mut attempt = 1;
        let mut pushed = false;
        loop {
            let e = match self.admin.login(user, &cfg.admin_password) {
                Ok(l) => return Ok(AdminLogin::LoggedIn(l)),
                Err(e) => e,
            };
            match LoginRefusal::of(&e, false) {
                None => return Err(e.failure(&format!("admin login as {user}"))),
                Some(LoginRefusal::Refused) => {}
                Some(refusal) => return Err(refusal.failure(Account::Admin, user, &e)),
            }
            // Refused after initialData said it is done: the server's admin is not this one
            // (ADMIN_USERNAME refused or taken, another admin first); more logins change nothing.
            if pushed {
                return Ok(AdminLogin::RefusedAfterPush(e.to_string()));
            }
            let Some(pause) = pauses.next().filter(|p| **p < wait.remaining()) else {
                return Ok(AdminLogin::Refused);
            };
            let until = Instant::now() + *pause;
            let sooner = if watch.is_some() || opens_left > 0 {
                ", or as soon as the server pushes the end of initialData over its realtime API"
            } else {
                ""
            };
            self.reporter.progress(format!(
                "admin login as {user} refused (attempt {attempt}; the server may not have created \
                 the ADMIN_* admin yet): {e}; next attempt in {}{sooner} (logins are spent \
                 sparingly: 10 failures block the user for 5 minutes)",
                sidecar::duration::display(*pause)
            ));
            if watch.is_none() && opens_left > 0 {
                opens_left -= 1;
                match SettingsWatch::open(&self.cfg.url, until) {
                    Ok(w) => watch = Some(w),
                    Err(why) => {
                        if !why.timed_out {
                            opens_left = 0;
                        }
                        self.reporter.progress(format!(
                            "no realtime push from Rocket.Chat ({why}): {}",
                            if opens_left > 0 {
                                "tried again at the next refusal"
                            } else {
                                "a refused admin login is retried on a timer only"
                            }
                        ));
                    }
                }
            }
            pushed = self.pause(&mut watch, until);
            attempt += 1;
        }
    }

    /// Sleeps until `until`, or less when the server pushes a change of the setup-wizard
    /// setting (then true).
    fn pause(&self, watch: &mut Option<SettingsWatch>, until: Instant) -> bool {
        if let Some(w) = watch.as_mut() {
            match w.wait_for_change(SETUP_WIZARD, "pending", until) {
                Ok(Some(value)) => {
                    self.reporter.progress(format!(
                        "the server pushed {SETUP_WIZARD} = {value} (initialData is done): logging in now"
                    ));
                    return true;
                }
                Ok(None) => return false,
                Err(why) => {
                    self.reporter.progress(format!(
                        "realtime push lost ({why}): the next admin login waits for the timer"
                    ));
                    *watch = None;
                }
            }
        }
        std::thread::sleep(until.saturating_duration_since(Instant::now()));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_meteor_2_releases_answer_before_their_admin_exists() {
        assert!(!admin_exists_when_answering(Some("6.13.0")));
        assert!(admin_exists_when_answering(Some("7.10.0")));
        assert!(admin_exists_when_answering(Some("8.1")));
        assert!(!admin_exists_when_answering(None));
        assert!(!admin_exists_when_answering(Some("garbage")));
    }
}
