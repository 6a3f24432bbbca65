//! "Hubot is really connected": the bot's own `users.getPresence` must report
//! `connectionStatus: "online"`, i.e. a logged-in realtime (DDP) session of the bot lives.
//!
//! Why `connectionStatus` and not `presence`: `presence` is the status shown to users, which a
//! bot can set (users.setStatus) with no connection at all; `connectionStatus` is
//! `statusConnection`, computed by Rocket.Chat's presence service from live sessions only.
//!
//! Rocket.Chat counts a password login over DDP as a connection only since 6.10.0 (PR #32500,
//! "Fix user not being set as online when setting 'Use REST instead of websocket for Meteor
//! calls' is disabled", apps/meteor/CHANGELOG.md): before that a connected Hubot reads offline.
//! On such a server the check is skipped and the result line says so once (a failing check there
//! would flag every healthy bot). Servers that do not tell their version anonymously are checked.
//!
//! Cost: one authenticated GET with the session already in use: no login, nothing written.

use rc_client::{Client, Presence};
use sidecar::Failure;

/// `--presence` / `RC_PROBE_PRESENCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Mode {
    /// Healthy only while Hubot is connected (the default).
    #[default]
    Required,
    /// Check the account only (e.g. before Hubot runs, or for a bot that does not stay connected).
    Off,
}

/// What the check found: `Ok(None)` connected, `Ok(Some(note))` not checked (the note says why,
/// for the result line), `Err` not connected.
pub fn check(
    client: &Client,
    mode: Mode,
    server_version: Option<&str>,
    username: &str,
) -> Result<Option<String>, Failure> {
    if mode == Mode::Off {
        return Ok(None);
    }
    if let Some(v) = server_version {
        if !counts_ddp_logins(v) {
            return Ok(Some(format!(
                "Hubot's connection not checked: Rocket.Chat {v} counts a bot's password login as a connection only from 6.10 on"
            )));
        }
    }
    let p = client
        .own_presence()
        .map_err(|e| e.failure("reading the bot's presence (users.getPresence)"))?;
    verdict(&p, username)
}

/// The decision on one answer.
pub fn verdict(p: &Presence, username: &str) -> Result<Option<String>, Failure> {
    match p.connection_status.as_deref() {
        Some("online") | Some("away") | Some("busy") => Ok(None),
        None => Ok(Some(
            "Hubot's connection not checked: this Rocket.Chat reports no connectionStatus".into(),
        )),
        Some(other) => {
            let since = match &p.last_login {
                Some(t) => format!("{other}; last login {t}"),
                None => other.to_string(),
            };
            Err(Failure::unavailable(format!(
                "bot account OK but Hubot is not connected ({username} is {since}): is Hubot running? \
                 its log says why it is not logged in; use --presence off to check the account only"
            )))
        }
    }
}

/// True from 6.10 on. `version` is what /api/info tells anonymously (`major.minor`) or in full.
pub fn counts_ddp_logins(version: &str) -> bool {
    let mut parts = version.trim().split(['.', '-']);
    let major: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    let minor: Option<u32> = parts.next().and_then(|p| p.parse().ok());
    match (major, minor) {
        (Some(ma), Some(mi)) => (ma, mi) >= (6, 10),
        (Some(ma), None) => ma > 6,
        // Unparsable: check rather than skip.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    fn p(conn: Option<&str>, last: Option<&str>) -> Presence {
        Presence {
            presence: Some("online".into()),
            connection_status: conn.map(str::to_string),
            last_login: last.map(str::to_string),
        }
    }

    #[test]
    fn online_connection_is_healthy_whatever_the_declared_status() {
        assert_eq!(verdict(&p(Some("online"), None), "hubot").unwrap(), None);
        assert_eq!(verdict(&p(Some("away"), None), "hubot").unwrap(), None);
    }

    #[test]
    fn offline_connection_is_unhealthy_in_operator_words() {
        let mut declared_online = p(Some("offline"), Some("2026-12-01T10:00:00.000Z"));
        declared_online.presence = Some("online".into());
        let f = verdict(&declared_online, "hubot").unwrap_err();
        assert_eq!(f.exit, Exit::Unavailable);
        assert!(
            f.message
                .starts_with("bot account OK but Hubot is not connected (hubot is offline; last login 2026-12-01T10:00:00.000Z)"),
            "{}",
            f.message
        );
    }

    #[test]
    fn a_server_without_connection_status_is_said_not_checked() {
        let note = verdict(&p(None, None), "hubot").unwrap().unwrap();
        assert!(note.contains("not checked"), "{note}");
    }

    #[test]
    fn ddp_logins_count_from_6_10() {
        for v in [
            "6.10",
            "6.10.0",
            "6.13",
            "7.10.0",
            "8.1",
            "10.0",
            "7",
            "7.0.0-rc.1",
            "x",
        ] {
            assert!(counts_ddp_logins(v), "{v}");
        }
        for v in ["6.9", "6.9.3", "5.4.2", "6", "4.8.1"] {
            assert!(!counts_ddp_logins(v), "{v}");
        }
    }
}
