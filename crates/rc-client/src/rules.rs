//! Rules both binaries apply, each written once: may the bot post in a room, which rooms a
//! `--room` / ROCKETCHAT_ROOM value names, and the one-line wording of refused logins.

use crate::{RcError, Room};
use sidecar::Failure;

/// Why the bot cannot post in a room, after canSendMessage
/// (apps/meteor/app/authorization/server/functions/canSendMessage.ts): archived rooms refuse
/// everyone; a read-only room needs `post-readonly` (admin, or room owner/moderator:
/// app/authorization/server/constant/permissions.ts) or an explicit unmute; muted users cannot post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PostBlocks {
    pub archived: bool,
    pub read_only: bool,
    pub muted: bool,
}

impl PostBlocks {
    /// `holds_post_readonly`: the user is an admin, or owner/moderator of this room.
    pub fn of(room: &Room, username: &str, holds_post_readonly: bool) -> PostBlocks {
        let unmuted = room.unmuted.iter().any(|u| u == username);
        PostBlocks {
            archived: room.archived,
            read_only: room.ro && !holds_post_readonly && !unmuted,
            muted: room.muted.iter().any(|u| u == username),
        }
    }

    /// The first block, as one refusal line (checked in canSendMessage's order).
    pub fn check(self, room: &str, username: &str) -> Result<(), Failure> {
        if self.archived {
            return Err(archived(room));
        }
        if self.read_only {
            return Err(Failure::refused(format!(
                "#{room} is read-only and {username} lacks post-readonly: make it moderator/owner of the room \
                 (rc-bootstrap does) or unmute it there"
            )));
        }
        if self.muted {
            return Err(muted(room, username));
        }
        Ok(())
    }
}

pub fn archived(room: &str) -> Failure {
    Failure::refused(format!(
        "#{room} is archived: nobody can post; unarchive it"
    ))
}

pub fn muted(room: &str, username: &str) -> Failure {
    Failure::refused(format!(
        "{username} is muted in #{room}: unmute it (Rocket.Chat refuses its messages)"
    ))
}

/// The rooms of `--room` / Hubot's ROCKETCHAT_ROOM: comma-separated, `#` optional, blanks
/// skipped. Empty when it names none.
pub fn parse_rooms(list: &str) -> Vec<String> {
    list.split(',')
        .map(|r| r.trim().trim_start_matches('#').trim())
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect()
}

/// Who a login was for, in the refusal lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// rc-bootstrap's admin.
    Admin,
    /// The bot (Hubot's account), as seen by rc-bootstrap or rc-probe.
    Bot,
}

/// A refused login, classified once from the server's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginRefusal {
    /// Brute-force protection (`error-login-blocked-for-user` / `-for-ip`; 8.0.0 alone answered
    /// a bare `unauthorized`: from 8.0.1 the legacy fields are back until the 9.0.0 switch).
    Blocked { ip: bool },
    /// A second factor is asked (`totp-required`), or inferred (`inferred`: on 8.0.0 the answer
    /// was a bare `unauthorized`; a verified email with email-2FA auto opt-in is the likely cause).
    SecondFactor { inferred: bool },
    /// Wrong password, unknown or deactivated user.
    Refused,
}

impl LoginRefusal {
    /// None: not a refusal (unreachable, rate limited, …): classify with [`RcError::failure`].
    /// `verified_email`: the account is known to have a verified email (8.x 2FA inference).
    pub fn of(e: &RcError, verified_email: bool) -> Option<LoginRefusal> {
        if let Some(scope) = e.login_block() {
            return Some(LoginRefusal::Blocked { ip: scope == "ip" });
        }
        if e.is_totp_required() {
            return Some(LoginRefusal::SecondFactor { inferred: false });
        }
        if !e.is_auth_failure() {
            return None;
        }
        if verified_email {
            return Some(LoginRefusal::SecondFactor { inferred: true });
        }
        Some(LoginRefusal::Refused)
    }

    /// The one line (exit 3) for this refusal of `user`'s login; `e` is the server's answer.
    pub fn failure(self, account: Account, user: &str, e: &RcError) -> Failure {
        match self {
            LoginRefusal::Blocked { ip } => blocked(user, ip, e),
            LoginRefusal::SecondFactor { inferred } => second_factor(account, user, inferred),
            LoginRefusal::Refused => Failure::refused(match account {
                Account::Admin => format!(
                    "admin login as {user} refused: check ADMIN_USERNAME/ADMIN_PASS against the server's admin: {e}"
                ),
                Account::Bot => format!(
                    "login as {user} refused: wrong --user/--password, or the account is deactivated or has 2FA: {e}"
                ),
            }),
        }
    }
}

fn blocked(user: &str, ip: bool, e: &RcError) -> Failure {
    let (what, setting) = if ip {
        (
            "this IP address".to_string(),
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
        )
    } else {
        (
            format!("user {user}"),
            "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
        )
    };
    Failure::refused(format!(
        "login as {user} is blocked by Rocket.Chat's brute-force protection ({}): too many failed logins for {what}; \
         it lifts {setting} (5 minutes by default) after the last failures — fix the password, then wait that long \
         (or have an admin clear it) before retrying",
        e.error
    ))
}

fn second_factor(account: Account, user: &str, inferred: bool) -> Failure {
    let seen = if inferred {
        "is refused and the account's email is verified"
    } else {
        "answers totp-required"
    };
    let remedy = match account {
        Account::Admin => {
            "rc-bootstrap needs a password-only admin: disable its 2FA, or unverify its email"
        }
        Account::Bot => {
            "Hubot cannot give the emailed code: unverify the bot's email or disable its 2FA \
             (rc-bootstrap creates bots unverified; its --fix-drift unverifies them)"
        }
    };
    let who = match account {
        Account::Admin => "admin",
        Account::Bot => "bot",
    };
    Failure::refused(format!(
        "login as {who} {user} {seen}: two-factor auth is on (a verified email with \
         Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In turns email 2FA on) and a password login \
         cannot answer it; {remedy}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sidecar::Exit;

    fn room(ro: bool, muted: &[&str], unmuted: &[&str], archived: bool) -> Room {
        serde_json::from_value(json!({
            "_id": "r1", "t": "c", "name": "ops", "ro": ro, "muted": muted, "unmuted": unmuted,
            "archived": archived
        }))
        .unwrap()
    }

    #[test]
    fn posting_rules_follow_can_send_message() {
        let ok = |r: &Room, right| PostBlocks::of(r, "bot", right).check("ops", "bot");
        assert!(ok(&room(false, &[], &[], false), false).is_ok());
        let ro = ok(&room(true, &[], &[], false), false).unwrap_err();
        assert_eq!(ro.exit, Exit::Refused);
        assert!(
            ro.message.contains("read-only") && ro.message.contains("post-readonly"),
            "{ro}"
        );
        assert!(ok(&room(true, &[], &[], false), true).is_ok());
        assert!(ok(&room(true, &[], &["bot"], false), false).is_ok());
        let muted = ok(&room(false, &["bot"], &[], false), true).unwrap_err();
        assert!(muted.message.contains("muted"), "{muted}");
        let archived = ok(&room(true, &["bot"], &[], true), true).unwrap_err();
        assert!(archived.message.contains("archived"), "{archived}");
        let both = PostBlocks::of(&room(true, &["bot"], &[], false), "bot", false);
        assert!(both.read_only && both.muted && !both.archived);
    }

    #[test]
    fn room_lists_are_split_once() {
        assert_eq!(parse_rooms(" #ops, dev ,,# ,x"), vec!["ops", "dev", "x"]);
        assert!(parse_rooms(" , #").is_empty());
    }

    #[test]
    fn login_refusals_are_classified_and_worded_once() {
        let totp = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"status":"error","success":false,"error":"totp-required","message":"TOTP Required"}"#,
        );
        let r = LoginRefusal::of(&totp, false).unwrap();
        assert_eq!(r, LoginRefusal::SecondFactor { inferred: false });
        let f = r.failure(Account::Bot, "bot", &totp);
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("totp-required") && f.message.contains("verified email"));
        let wrong = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"success":false,"error":"unauthorized"}"#,
        );
        assert_eq!(
            LoginRefusal::of(&wrong, true),
            Some(LoginRefusal::SecondFactor { inferred: true })
        );
        let refused = LoginRefusal::of(&wrong, false).unwrap();
        assert!(refused
            .failure(Account::Bot, "bot", &wrong)
            .message
            .contains("wrong --user/--password"));
        let blocked = RcError::from_body(
            "POST /api/v1/login",
            401,
            r#"{"success":false,"error":"error-login-blocked-for-ip","message":"Login has been temporarily blocked For IP"}"#,
        );
        let f =
            LoginRefusal::of(&blocked, false)
                .unwrap()
                .failure(Account::Admin, "root", &blocked);
        assert!(f
            .message
            .contains("blocked by Rocket.Chat's brute-force protection"));
        assert!(f.message.contains("By_Ip"), "{f}");
        let down = RcError::transport("POST /api/v1/login", "connection refused");
        assert_eq!(LoginRefusal::of(&down, false), None);
    }
}
