//! Brute-force protection of password logins, as Rocket.Chat does it (read in
//! RocketChat/Rocket.Chat, develop, 2026-12; the logic is unchanged since PR #30018, 6.4):
//!
//! * apps/meteor/app/authentication/server/lib/restrictLoginAttempts.ts
//!   `isValidLoginAttemptByIp` / `isValidAttemptByUser`: failed attempts are counted since
//!   `max(now - Time_To_Unblock minutes, last successful login)`; at `Attempts_Until_Block`
//!   failures or more the attempt is refused. The user counter is keyed by the *username given
//!   in the login* (`methodArguments[0].user.username`: an e-mail login is not counted per
//!   user), whether or not that user exists. The IP whitelist is a comma list.
//! * apps/meteor/server/lib/accounts.ts `validateLoginAttemptAsync`: the IP check, then the
//!   user check, run before the outcome of the password check is looked at, so a blocked
//!   user is refused even with the right password: `error-login-blocked-for-ip` ("Login has
//!   been temporarily blocked For IP"), `error-login-blocked-for-user` ("… For User").
//! * apps/meteor/app/authentication/server/hooks/login.ts `onLoginFailure`: every failure is
//!   stored except `totp-required` and `error-login-blocked-for-user` (so a blocked-for-IP
//!   attempt extends the IP block; a blocked-for-user one does not extend the user block);
//!   `afterValidateLogin` stores successes.
//! * Settings (apps/meteor/server/settings/accounts.ts, Accounts_Subsection_Brute_Force_Protection):
//!   `_Enabled` true, `_By_User` true (10 attempts, 5 minutes), `_By_Ip` true (50, 5 minutes),
//!   `_Ip_Whitelist` "".

use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};

/// Failures older than this are never looked at again (an hour, well past any window used).
const KEEP_MS: u64 = 3_600_000;
/// Bounded memory whatever a client sends.
const MAX_EVENTS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    Ip,
    User,
}

impl Blocked {
    pub fn error(self) -> &'static str {
        match self {
            Blocked::Ip => "error-login-blocked-for-ip",
            Blocked::User => "error-login-blocked-for-user",
        }
    }
    pub fn reason(self) -> &'static str {
        match self {
            Blocked::Ip => "Login has been temporarily blocked For IP",
            Blocked::User => "Login has been temporarily blocked For User",
        }
    }
}

struct Failure {
    ts: u64,
    ip: String,
    username: Option<String>,
}

/// The server_events collection, reduced to what the checks read.
#[derive(Default)]
pub struct Events {
    failures: VecDeque<Failure>,
    last_ok_ip: HashMap<String, u64>,
    last_ok_user: HashMap<String, u64>,
    /// Every login answered (test inspection: /_sim/logins).
    pub failed_total: u64,
    pub ok_total: u64,
}

fn bool_setting(s: &Map<String, Value>, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool).unwrap_or(false)
}

fn num_setting(s: &Map<String, Value>, k: &str) -> f64 {
    match s.get(k) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(t)) => t.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

impl Events {
    /// `None` when the attempt may proceed; else which block refuses it.
    pub fn check(
        &self,
        s: &Map<String, Value>,
        ip: &str,
        username: Option<&str>,
        now: u64,
    ) -> Option<Blocked> {
        if !bool_setting(s, "Block_Multiple_Failed_Logins_Enabled") {
            return None;
        }
        let whitelist = s
            .get("Block_Multiple_Failed_Logins_Ip_Whitelist")
            .and_then(Value::as_str)
            .unwrap_or("");
        if bool_setting(s, "Block_Multiple_Failed_Logins_By_Ip")
            && !whitelist.split(',').any(|w| w == ip)
            && self.over(
                s,
                "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip",
                "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
                self.last_ok_ip.get(ip).copied(),
                now,
                |f| f.ip == ip,
            )
        {
            return Some(Blocked::Ip);
        }
        if let Some(u) = username {
            // Mongo matches `u.username` exactly: case-sensitive.
            let key = u.to_string();
            if bool_setting(s, "Block_Multiple_Failed_Logins_By_User")
                && self.over(
                    s,
                    "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User",
                    "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
                    self.last_ok_user.get(&key).copied(),
                    now,
                    |f| f.username.as_deref() == Some(key.as_str()),
                )
            {
                return Some(Blocked::User);
            }
        }
        None
    }

    fn over(
        &self,
        s: &Map<String, Value>,
        attempts_key: &str,
        minutes_key: &str,
        last_ok: Option<u64>,
        now: u64,
        matches: impl Fn(&Failure) -> bool,
    ) -> bool {
        // "misconfigured": 0 attempts never blocks.
        let attempts = num_setting(s, attempts_key);
        if attempts <= 0.0 {
            return false;
        }
        let window = (num_setting(s, minutes_key) * 60_000.0).max(0.0) as u64;
        let start = now.saturating_sub(window).max(last_ok.unwrap_or(0));
        let n = self
            .failures
            .iter()
            .filter(|f| f.ts >= start && matches(f))
            .count();
        n as f64 >= attempts
    }

    /// onLoginFailure: stored unless the error is `totp-required` / blocked-for-user.
    pub fn failed(&mut self, ip: &str, username: Option<&str>, error: &str, now: u64) {
        self.failed_total += 1;
        if error == "totp-required" || error == Blocked::User.error() {
            return;
        }
        while self.failures.front().is_some_and(|f| f.ts + KEEP_MS < now)
            || self.failures.len() >= MAX_EVENTS
        {
            self.failures.pop_front();
        }
        self.failures.push_back(Failure {
            ts: now,
            ip: ip.to_string(),
            username: username.map(str::to_string),
        });
    }

    /// afterValidateLogin: a success resets both counters (the window starts after it).
    pub fn succeeded(&mut self, ip: &str, username: &str, now: u64) {
        self.ok_total += 1;
        if self.last_ok_ip.len() >= MAX_EVENTS {
            self.last_ok_ip.clear();
            self.last_ok_user.clear();
        }
        self.last_ok_ip.insert(ip.to_string(), now);
        self.last_ok_user.insert(username.to_string(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Map<String, Value> {
        let v = json!({
            "Block_Multiple_Failed_Logins_Enabled": true,
            "Block_Multiple_Failed_Logins_By_User": true,
            "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User": 3,
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes": 1,
            "Block_Multiple_Failed_Logins_By_Ip": true,
            "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip": 5,
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes": 1,
            "Block_Multiple_Failed_Logins_Ip_Whitelist": "10.0.0.9",
        });
        v.as_object().unwrap().clone()
    }

    #[test]
    fn user_block_after_threshold_window_and_reset_by_success() {
        let s = settings();
        let mut e = Events::default();
        for t in 0..3 {
            assert_eq!(e.check(&s, "1.1.1.1", Some("bob"), t), None);
            e.failed("1.1.1.1", Some("bob"), "403", t);
        }
        assert_eq!(e.check(&s, "1.1.1.1", Some("bob"), 10), Some(Blocked::User));
        // Mongo matches the username exactly: another spelling is another key.
        assert_eq!(e.check(&s, "1.1.1.1", Some("BOB"), 10), None);
        // Another user from the same IP is not blocked by the user counter.
        assert_eq!(e.check(&s, "1.1.1.1", Some("alice"), 10), None);
        // A blocked-for-user attempt is not stored: the window ends a minute after the failures.
        e.failed("1.1.1.1", Some("bob"), "error-login-blocked-for-user", 20);
        assert_eq!(e.check(&s, "1.1.1.1", Some("bob"), 60_001), None);
        // A success resets the user's count.
        let mut e = Events::default();
        for t in 0..3 {
            e.failed("1.1.1.1", Some("bob"), "403", t);
        }
        e.succeeded("1.1.1.1", "bob", 5);
        assert_eq!(e.check(&s, "1.1.1.1", Some("bob"), 6), None);
    }

    #[test]
    fn ip_block_counts_every_user_and_honours_the_whitelist() {
        let s = settings();
        let mut e = Events::default();
        for (t, u) in ["a", "b", "c", "d", "e"].iter().enumerate() {
            e.failed("2.2.2.2", Some(u), "403", t as u64);
            e.failed("10.0.0.9", Some(u), "403", t as u64);
        }
        assert_eq!(e.check(&s, "2.2.2.2", Some("z"), 9), Some(Blocked::Ip));
        assert_eq!(e.check(&s, "10.0.0.9", Some("z"), 9), None);
        let mut off = s.clone();
        off.insert("Block_Multiple_Failed_Logins_Enabled".into(), json!(false));
        assert_eq!(e.check(&off, "2.2.2.2", Some("z"), 9), None);
    }
}
