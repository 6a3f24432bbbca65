//! rc-bootstrap: one-shot, idempotent set-up of a (possibly still starting) Rocket.Chat:
//! admin session → bot user → room → bot membership (+ post rights in a read-only room) →
//! incoming webhook running the GitLab script → webhook URL published to a 0600 file.
//! A second run changes nothing and says "unchanged" for every object; `--dry-run` only reads.
//! The admin (and the bot session used for checks) are logged out at the end, also on failure.

pub mod admin_login;
pub mod bot;
pub mod bot_login;
pub mod cli;
pub mod room;
pub mod status;
pub mod wait;
pub mod webhook;

use rc_client::Client;
use serde_json::{Map, Value};
use sidecar::report::{Report, Reporter};
use sidecar::{Deadline, Failure, Secret};
use status::Status;
use std::path::PathBuf;
use std::time::Duration;

pub use webhook::{check_script_compiled, updates_hook_user, webhook_diff};

/// The GitLab → Rocket.Chat script installed by default.
pub const GITLAB_SCRIPT: &str = include_str!("../../../integrations/gitlab.js");

/// Usernames Rocket.Chat refuses: Accounts_SystemBlockedUsernameList defaults to
/// `admin,administrator,system,user` (server/settings/accounts.ts) and checkUsernameAvailability
/// always adds `all` and `here` (app/lib/server/functions/checkUsernameAvailability.ts).
pub const BLOCKED_USERNAMES: &[&str] = &["admin", "administrator", "system", "user", "all", "here"];

pub fn is_blocked(username: &str) -> bool {
    BLOCKED_USERNAMES
        .iter()
        .any(|b| b.eq_ignore_ascii_case(username.trim()))
}

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    /// The public base URL the webhook URL is built on (Rocket.Chat's ROOT_URL).
    pub public_url: String,
    pub admin_user: String,
    pub admin_password: Secret,
    pub admin_email: Option<String>,
    /// At most how long a refused admin login is retried on a server that may answer before it
    /// created its ADMIN_* admin (6.x; at most 3 attempts, see admin_login.rs) before falling
    /// back to users.register.
    pub admin_wait: Duration,
    pub bot_user: String,
    pub bot_password: Secret,
    pub bot_email: String,
    pub room: String,
    pub private: bool,
    pub read_only: bool,
    pub webhook_name: String,
    /// None: no script (`--no-script`).
    pub script: Option<String>,
    pub webhook_url_file: Option<PathBuf>,
    pub show_token: bool,
    pub fix_drift: bool,
    pub dry_run: bool,
    /// Where a refused bot password is remembered (bot_login.rs); None: not remembered.
    pub refusal_file: Option<PathBuf>,
}

/// What happened to each object (or would, in a dry run), in the order of the steps.
#[derive(Debug, Default)]
pub struct Outcome {
    pub steps: Vec<(&'static str, Status)>,
    pub webhook_url: Option<Secret>,
}

/// One run: the configuration, the deadline, both sessions and what was done so far. The
/// steps are its methods (admin_login.rs, bot.rs, room.rs, webhook.rs, wait.rs).
pub struct Bootstrap<'a> {
    cfg: &'a Config,
    deadline: Deadline,
    reporter: &'a Reporter,
    admin: Client,
    /// The bot's own session: membership is checked as the bot sees it.
    bot: Client,
    out: Outcome,
}

/// Everything that talks to the server. Logs sessions out whatever happens.
pub fn run(cfg: &Config, deadline: Deadline, reporter: &Reporter) -> Result<Report, Failure> {
    let mut run = Bootstrap::new(cfg, deadline, reporter);
    let result = run.steps();
    // Never leave a token behind: the bot's check session and the admin's.
    let _ = run.bot.logout();
    if let Err(e) = run.admin.logout() {
        reporter.progress(format!("could not log the admin out: {e}"));
    }
    result?;
    Ok(run.out.report(cfg))
}

impl<'a> Bootstrap<'a> {
    pub fn new(cfg: &'a Config, deadline: Deadline, reporter: &'a Reporter) -> Self {
        let r = *reporter;
        let mut admin = Client::new(&cfg.url, deadline);
        admin.on_wait(move |m| r.progress(m));
        let mut bot = Client::new(&cfg.url, deadline);
        bot.on_wait(move |m| r.progress(m));
        Bootstrap {
            cfg,
            deadline,
            reporter,
            admin,
            bot,
            out: Outcome::default(),
        }
    }

    fn set(&mut self, what: &'static str, status: Status) {
        self.reporter.progress(format!("{what}: {status}"));
        self.out.steps.push((what, status));
    }

    fn steps(&mut self) -> Result<(), Failure> {
        // 0. Wait for Rocket.Chat to answer at all, on what costs it nothing (wait.rs).
        let version = self.wait_for_server()?;
        // 1. Admin.
        let admin = self.admin_session(version.as_deref())?;
        self.set("admin", admin);
        // 2. Bot user.
        let bot_user = self.ensure_bot()?;
        // 3. Room, membership, post rights.
        self.ensure_room(bot_user.as_ref())?;
        // 4. Incoming webhook, 5. its URL published.
        let user_update = version.as_deref().is_some_and(updates_hook_user);
        let integration = self.ensure_webhook(user_update)?;
        if let (Some(i), Some(_)) = (&integration, &self.cfg.script) {
            check_script_compiled(i, &self.cfg.webhook_name)?;
        }
        if let Some(integration) = integration {
            self.publish_url(&integration)?;
        }
        Ok(())
    }
}

impl Outcome {
    fn report(&self, cfg: &Config) -> Report {
        let mut fields = Map::new();
        for (k, v) in &self.steps {
            fields.insert(k.to_string(), Value::String(v.to_string()));
        }
        let shown_url = self
            .webhook_url
            .as_ref()
            .map(|u| show_url(u, cfg.show_token));
        let changed = self.steps.iter().filter(|(_, s)| s.is_change()).count();
        let summary = self
            .steps
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut reason = if cfg.dry_run {
            format!("dry run, nothing changed: {summary}")
        } else if changed == 0 {
            format!("all unchanged: {summary}")
        } else {
            format!("done: {summary}")
        };
        if let Some(u) = &shown_url {
            reason.push_str(&format!("; webhook URL {u}"));
        }
        Report::ok(reason)
            .with("objects", Value::Object(fields))
            .with("changed", changed as u64)
            .with(
                "webhook_url",
                shown_url.map(Value::from).unwrap_or(Value::Null),
            )
    }
}

/// `<root>/hooks/<id>/<token>` with the token masked unless `--show-token`.
pub fn show_url(url: &Secret, show: bool) -> String {
    let u = url.expose();
    if show {
        return u.to_string();
    }
    match u.rsplit_once('/') {
        Some((head, _token)) => format!("{head}/***"),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocked_names_match_rocket_chat_defaults() {
        for n in ["admin", "Administrator", "SYSTEM", "user", "all", "here"] {
            assert!(is_blocked(n), "{n}");
        }
        assert!(!is_blocked("hubot"));
        assert!(!is_blocked("admin2"));
    }

    #[test]
    fn the_gitlab_script_is_embedded() {
        assert!(GITLAB_SCRIPT.contains("class Script"));
        assert!(GITLAB_SCRIPT.contains("process_incoming_request"));
    }

    #[test]
    fn url_is_masked_unless_asked() {
        let u = Secret::new("http://chat/hooks/abc/0123456789abcdef");
        assert_eq!(show_url(&u, false), "http://chat/hooks/abc/***");
        assert_eq!(show_url(&u, true), u.expose());
    }
}
