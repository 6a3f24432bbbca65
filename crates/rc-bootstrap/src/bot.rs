//! Step 2: the bot user — created with the bot role and an unverified email, or checked for
//! drift (role, deactivation, password) and reset with `--fix-drift`.

use crate::bot_login::{self, Refused};
use crate::status::{Action, Status};
use crate::Bootstrap;
use rc_client::rules::{Account, LoginRefusal};
use rc_client::{RcError, User};
use serde_json::json;
use sidecar::Failure;

impl Bootstrap<'_> {
    pub(crate) fn ensure_bot(&mut self) -> Result<Option<User>, Failure> {
        let cfg = self.cfg;
        let name = cfg.bot_user.as_str();
        let existing = self
            .admin
            .user_info(name)
            .map_err(|e| e.failure(&format!("looking up bot user {name}")))?;
        let Some(user) = existing else {
            if cfg.dry_run {
                self.set("bot", Status::planned(Action::Create));
                return Ok(None);
            }
            let user = self
                .admin
                .create_bot_user(name, &cfg.bot_email, &cfg.bot_password)
                .map_err(|e| e.failure(&format!("creating bot user {name}")))?;
            bot_login::fresh(cfg, &mut self.bot, name)
                .map_err(|e| login_failure(name, &e, Some(&user)))?;
            self.set("bot", Status::done(Action::Create));
            return Ok(Some(user));
        };
        let mut drift = Vec::new();
        if !user.roles.is_empty() && !user.has_role("bot") {
            drift.push("it lacks the bot role".to_string());
        }
        if user.active == Some(false) {
            drift.push("it is deactivated".to_string());
        }
        match bot_login::login(cfg, &mut self.bot, name) {
            Ok(_) => {}
            Err(Refused::Remembered(text)) => drift.push(text),
            Err(Refused::Now(e)) => {
                match LoginRefusal::of(&e, user.has_verified_email()) {
                    None => return Err(e.failure(&format!("checking bot {name}'s password"))),
                    Some(LoginRefusal::Blocked { .. }) => {
                        return Err(login_failure(name, &e, Some(&user)))
                    }
                    // A refused password (or 2FA) is drift: --fix-drift resets it.
                    Some(_) => drift.push(login_failure(name, &e, Some(&user)).message),
                }
            }
        }
        if drift.is_empty() {
            self.set("bot", Status::UNCHANGED);
            return Ok(Some(user));
        }
        let text = drift.join("; ");
        if !cfg.fix_drift {
            return Err(Failure::refused(format!(
                "bot user {name} differs from the configuration: {text}; rerun with --fix-drift to reset it"
            )));
        }
        if cfg.dry_run {
            self.set("bot", Status::planned(Action::FixDrift));
            return Ok(Some(user));
        }
        let mut roles = user.roles.clone();
        if !roles.iter().any(|r| r == "bot") {
            roles.push("bot".into());
        }
        // users.update is twoFactorRequired: the admin's password hash is the second factor.
        let data = json!({
            "password": cfg.bot_password.expose(),
            "roles": roles,
            "active": true,
            "requirePasswordChange": false,
            // Unverified: email 2FA (auto opt-in) is what makes password logins answer totp-required.
            "verified": false,
        });
        self.admin
            .update_user(&user.id, data, &cfg.admin_password)
            .map_err(|e| e.failure(&format!("fixing bot user {name} (users.update)")))?;
        bot_login::fresh(cfg, &mut self.bot, name)
            .map_err(|e| login_failure(name, &e, Some(&user)))?;
        self.set("bot", Status::done(Action::FixDrift).with("drift fixed"));
        Ok(Some(user))
    }
}

/// A refused bot login, worded once (rc_client::rules); from 8.0 the 2FA case is inferred from
/// a verified email. A plain refusal reads as drift ("the bot's password does not match").
fn login_failure(name: &str, e: &RcError, user: Option<&User>) -> Failure {
    let verified = user.is_some_and(User::has_verified_email);
    match LoginRefusal::of(e, verified) {
        Some(LoginRefusal::Refused) => {
            Failure::refused(format!("the bot's password does not match ({e})"))
        }
        Some(refusal) => refusal.failure(Account::Bot, name, e),
        None => e.failure(&format!("login as bot {name}")),
    }
}
