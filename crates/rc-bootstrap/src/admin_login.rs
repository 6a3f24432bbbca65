//! The admin login, spending few attempts: Rocket.Chat's brute-force protection
//! (app/authentication/server/lib/restrictLoginAttempts.ts, on by default) blocks a username
//! for 5 minutes after 10 failed logins within 5 minutes, and an IP after 50 — and every
//! refused login counts, also one for an admin the server has not created yet. Waiting for the
//! server itself is done on `/api/info` (free, not rate limited), never with logins.

use rc_client::{Client, Login, RcError};
use sidecar::report::Reporter;
use sidecar::{Deadline, Failure, Secret};
use std::time::Duration;

/// Pauses between refused admin logins while the server may still be creating its ADMIN_*
/// admin: at most 3 attempts a run (at 0 s, 1 s, 6 s). `restart: on-failure` reruns a failing
/// welder, so three runs in a row still stay under the 10-failure threshold; a fourth is told
/// it is blocked (before 8.0) instead of extending the block.
pub const PAUSES: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(5)];

/// Ok(Some) logged in; Ok(None) every attempt was refused (wrong password or no such admin);
/// Err for a block, 2FA or a failure that is not a refusal.
pub fn login(
    admin: &mut Client,
    user: &str,
    password: &Secret,
    wait: Deadline,
    reporter: &Reporter,
) -> Result<Option<Login>, Failure> {
    let mut pauses = PAUSES.iter();
    let mut attempt = 1;
    loop {
        match admin.login(user, password) {
            Ok(l) => return Ok(Some(l)),
            Err(e) if e.login_block().is_some() => return Err(blocked(user, &e)),
            Err(e) if e.is_totp_required() => {
                return Err(Failure::refused(format!(
                    "admin login as {user} answers totp-required: the admin has two-factor auth on; \
                     rc-bootstrap needs a password-only admin (disable its 2FA, or unverify its email when \
                     email 2FA auto opt-in is on)"
                )))
            }
            Err(e) if e.is_auth_failure() => {
                let Some(pause) = pauses.next().filter(|p| **p < wait.remaining()) else {
                    return Ok(None);
                };
                reporter.progress(format!(
                    "admin login as {user} refused (attempt {attempt}; the server may not have created \
                     the ADMIN_* admin yet): {e}; next attempt in {} (logins are spent sparingly: \
                     10 failures block the user for 5 minutes)",
                    sidecar::duration::display(*pause)
                ));
                std::thread::sleep(*pause);
                attempt += 1;
            }
            Err(e) => return Err(e.failure(&format!("admin login as {user}"))),
        }
    }
}

/// The one line for a login refused by the brute-force protection.
pub fn blocked(user: &str, e: &RcError) -> Failure {
    let (what, setting) = match e.login_block() {
        Some("ip") => (
            "this IP address".to_string(),
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
        ),
        _ => (
            format!("user {user}"),
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
        ),
    };
    Failure::refused(format!(
        "login as {user} is blocked by Rocket.Chat's brute-force protection ({}): too many failed logins for {what}; \
         it lifts {setting} (5 minutes by default) after the last failures — fix the password, then wait that long \
         (or have an admin clear it) before retrying",
        e.error
    ))
}
