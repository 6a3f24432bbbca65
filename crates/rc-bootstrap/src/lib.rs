//! rc-bootstrap: one-shot, idempotent set-up of a (possibly still starting) Rocket.Chat:
//! admin session → bot user → room → bot membership (+ post rights in a read-only room) →
//! incoming webhook running the GitLab script → webhook URL published to a 0600 file.
//! A second run changes nothing and says "unchanged" for every object; `--dry-run` only reads.
//! The admin (and the bot session used for checks) are logged out at the end, also on failure.

pub mod admin_login;
pub mod bot_login;
pub mod cli;

use rc_client::{mask, Client, IncomingWebhook, Integration, RcError, Room, RoomKind, User};
use serde_json::{json, Map, Value};
use sidecar::file::write_private_atomic;
use sidecar::report::{Report, Reporter};
use sidecar::retry::{retry, Backoff};
use sidecar::{Deadline, Failure, Secret};
use std::path::PathBuf;
use std::time::Duration;

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
    /// At most how long a refused admin login is retried (the server creates the ADMIN_* admin a
    /// little after it starts answering; at most 3 attempts, see admin_login.rs) before falling
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

/// What happened to each object: `unchanged`, `created`, `updated`, … (or `would …` in a dry run).
#[derive(Debug, Default)]
pub struct Outcome {
    pub steps: Vec<(String, String)>,
    pub webhook_url: Option<Secret>,
}

impl Outcome {
    fn set(&mut self, reporter: &Reporter, what: &str, status: impl Into<String>) {
        let status = status.into();
        reporter.progress(format!("{what}: {status}"));
        self.steps.push((what.to_string(), status));
    }
}

/// Everything that talks to the server. Logs sessions out whatever happens.
pub fn run(cfg: &Config, deadline: Deadline, reporter: &Reporter) -> Result<Report, Failure> {
    let mut admin = Client::new(&cfg.url, deadline);
    let r = *reporter;
    admin.on_wait(move |m| r.progress(m));
    let mut bot = Client::new(&cfg.url, deadline);
    bot.on_wait(move |m| r.progress(m));
    let mut out = Outcome::default();
    let result = steps(cfg, deadline, reporter, &mut admin, &mut bot, &mut out);
    // Never leave a token behind: the bot's check session and the admin's.
    let _ = bot.logout();
    if let Err(e) = admin.logout() {
        reporter.progress(format!("could not log the admin out: {e}"));
    }
    result?;
    let mut fields = Map::new();
    for (k, v) in &out.steps {
        fields.insert(k.clone(), Value::String(v.clone()));
    }
    let shown_url = out
        .webhook_url
        .as_ref()
        .map(|u| show_url(u, cfg.show_token));
    let changed = out
        .steps
        .iter()
        .filter(|(_, s)| s != "unchanged" && !s.starts_with("unchanged"))
        .count();
    let summary = out
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
    let mut report = Report::ok(reason).with("objects", Value::Object(fields));
    report = report.with("changed", changed as u64);
    report = report.with(
        "webhook_url",
        shown_url.map(Value::from).unwrap_or(Value::Null),
    );
    Ok(report)
}

/// `<root>/hooks/<id>/<token>` with the token masked unless `--show-token`.
pub fn show_url(url: &Secret, show: bool) -> String {
    let u = url.expose();
    if show {
        return u.to_string();
    }
    match u.rsplit_once('/') {
        Some((head, token)) => format!("{head}/{}", mask(token)),
        None => "***".into(),
    }
}

fn steps(
    cfg: &Config,
    deadline: Deadline,
    reporter: &Reporter,
    admin: &mut Client,
    bot: &mut Client,
    out: &mut Outcome,
) -> Result<(), Failure> {
    // 0. Wait for Rocket.Chat to answer at all (refused, 502/503 from a proxy, starting up),
    // on /api/info only: it is not rate limited and costs the server nothing, so a short
    // bounded interval (50 ms, then 100 ms; a refused connection costs the server nothing)
    // notices readiness within ~50 ms.
    let info_backoff = Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(100),
    };
    let version = retry(
        &deadline,
        info_backoff,
        |_| {
            admin
                .info()
                .map_err(|e| e.failure("waiting for Rocket.Chat"))
        },
        |n, f, _| {
            // Polled every 0.1 s: one line at first, then one every ~5 s, not 10 a second.
            if n == 1 || n % 50 == 0 {
                reporter.progress(format!(
                    "attempt {n}: {f}; polling /api/info every 0.1 s until it answers"
                ))
            }
        },
    )?;
    reporter.progress(format!(
        "Rocket.Chat answers at {} (version {})",
        cfg.url,
        version.as_deref().unwrap_or("not disclosed")
    ));

    // 1. Admin.
    let admin_status = admin_session(cfg, deadline, reporter, admin)?;
    out.set(reporter, "admin", admin_status);

    // 2. Bot user.
    let bot_user = ensure_bot(cfg, admin, bot, reporter, out)?;

    // 3. Room, membership, post rights.
    ensure_room(cfg, admin, bot, &bot_user, reporter, out)?;

    // 4. Incoming webhook.
    let user_update = version.as_deref().is_some_and(updates_hook_user);
    let integration = ensure_webhook(cfg, admin, user_update, reporter, out)?;
    if let (Some(i), Some(_)) = (&integration, &cfg.script) {
        check_script_compiled(i, &cfg.webhook_name)?;
    }

    // 5. Publish its URL.
    if let Some(integration) = integration {
        let token = integration.token.clone().unwrap_or_default();
        if token.is_empty() {
            return Err(Failure::refused(format!(
                "integration {} has no token in the server's answer: cannot build its URL",
                integration.id
            )));
        }
        let url = Secret::new(format!(
            "{}/hooks/{}/{}",
            cfg.public_url, integration.id, token
        ));
        if cfg.show_token {
            // Printed on purpose: take it out of the redaction registry.
            sidecar::redact::allow(url.expose());
        }
        if let Some(path) = &cfg.webhook_url_file {
            let current = sidecar::file::read_capped(
                path,
                sidecar::file::SECRET_FILE_MAX,
                "--webhook-url-file",
            )
            .ok()
            .and_then(|(bytes, _)| String::from_utf8(bytes).ok());
            let wanted = format!("{}\n", url.expose());
            if current.as_deref() == Some(wanted.as_str()) {
                out.set(reporter, "url_file", "unchanged");
            } else if cfg.dry_run {
                out.set(reporter, "url_file", "would write");
            } else {
                write_private_atomic(path, wanted.as_bytes()).map_err(|e| {
                    Failure::usage(format!(
                        "--webhook-url-file {}: cannot write: {e} (mount a writable directory)",
                        path.display()
                    ))
                })?;
                out.set(reporter, "url_file", "written");
            }
        }
        out.webhook_url = Some(url);
    }
    Ok(())
}

fn admin_session(
    cfg: &Config,
    deadline: Deadline,
    reporter: &Reporter,
    admin: &mut Client,
) -> Result<String, Failure> {
    let user = cfg.admin_user.as_str();
    // A few spaced attempts: ADMIN_* creates the admin shortly after startup (admin_login.rs).
    let wait = Deadline::after(cfg.admin_wait.min(deadline.remaining()));
    let login = admin_login::login(admin, user, &cfg.admin_password, wait, reporter)?;
    if let Some(l) = login {
        if !l.me.roles.is_empty() && !l.me.has_role("admin") {
            return Err(Failure::refused(format!(
                "{user} logs in but is not an admin (roles: {}): give --admin-username of an admin",
                l.me.roles.join(",")
            )));
        }
        return Ok("unchanged (logged in)".into());
    }
    // The admin never appeared: no ADMIN_PASS on the server, or a wrong password.
    if is_blocked(user) {
        return Err(Failure::usage(format!(
            "admin login as {user} keeps failing and {user:?} cannot be registered: it is a blocked username \
             (admin, administrator, system, user, all, here); check ADMIN_PASS, or pick another ADMIN_USERNAME"
        )));
    }
    if cfg.dry_run {
        return Ok("would register (admin login refused)".into());
    }
    reporter.progress(
        "admin login still refused (attempts spent sparingly: brute-force protection); trying \
         users.register (the first user becomes admin)",
    );
    let email = cfg
        .admin_email
        .clone()
        .unwrap_or_else(|| format!("{user}@localhost.localdomain"));
    match admin.register_user(user, &email, &cfg.admin_password, user) {
        Ok(_) => {}
        Err(e) if e.password_policy_rules().is_some() => return Err(e.failure("registering the admin")),
        Err(e) => {
            return Err(Failure::refused(format!(
                "admin login as {user} refused and registering it failed ({e}): check ADMIN_USERNAME/ADMIN_PASS \
                 against the server's ADMIN_* (Accounts_RegistrationForm may be disabled, or the user exists with another \
                 password; from 8.0 a login blocked by brute-force protection is also just refused: it lifts 5 minutes \
                 after the last failures)"
            )))
        }
    }
    let l = admin
        .login(user, &cfg.admin_password)
        .map_err(|e| e.failure("logging in as the freshly registered admin"))?;
    if !l.me.roles.is_empty() && !l.me.has_role("admin") {
        return Err(Failure::refused(format!(
            "registered {user}, but it is not an admin (another admin already exists): use that admin's credentials"
        )));
    }
    Ok("registered (first user, admin)".into())
}

fn ensure_bot(
    cfg: &Config,
    admin: &Client,
    bot: &mut Client,
    reporter: &Reporter,
    out: &mut Outcome,
) -> Result<Option<User>, Failure> {
    let name = cfg.bot_user.as_str();
    let existing = admin
        .user_info(name)
        .map_err(|e| e.failure(&format!("looking up bot user {name}")))?;
    let Some(user) = existing else {
        if cfg.dry_run {
            out.set(reporter, "bot", "would create");
            return Ok(None);
        }
        let user = admin
            .create_bot_user(name, &cfg.bot_email, &cfg.bot_password)
            .map_err(|e| e.failure(&format!("creating bot user {name}")))?;
        bot_login::fresh(cfg, bot, name).map_err(|e| bot_login_failure(name, &e, Some(&user)))?;
        out.set(reporter, "bot", "created");
        return Ok(Some(user));
    };
    let mut drift = Vec::new();
    if !user.roles.is_empty() && !user.has_role("bot") {
        drift.push("it lacks the bot role".to_string());
    }
    if user.active == Some(false) {
        drift.push("it is deactivated".to_string());
    }
    match bot_login::login(cfg, bot, name) {
        Ok(_) => {}
        Err(bot_login::Refused::Remembered(text)) => drift.push(text),
        Err(bot_login::Refused::Now(e)) if e.login_block().is_some() => {
            return Err(admin_login::blocked(name, &e))
        }
        Err(bot_login::Refused::Now(e)) if e.is_auth_failure() => {
            drift.push(bot_login_failure(name, &e, Some(&user)).message)
        }
        Err(bot_login::Refused::Now(e)) => {
            return Err(e.failure(&format!("checking bot {name}'s password")))
        }
    }
    if drift.is_empty() {
        out.set(reporter, "bot", "unchanged");
        return Ok(Some(user));
    }
    let text = drift.join("; ");
    if !cfg.fix_drift {
        return Err(Failure::refused(format!(
            "bot user {name} differs from the configuration: {text}; rerun with --fix-drift to reset it"
        )));
    }
    if cfg.dry_run {
        out.set(reporter, "bot", "would fix drift");
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
    admin
        .update_user(&user.id, data, &cfg.admin_password)
        .map_err(|e| e.failure(&format!("fixing bot user {name} (users.update)")))?;
    bot_login::fresh(cfg, bot, name).map_err(|e| bot_login_failure(name, &e, Some(&user)))?;
    out.set(reporter, "bot", "updated (drift fixed)");
    Ok(Some(user))
}

fn bot_login_failure(name: &str, e: &RcError, user: Option<&User>) -> Failure {
    if e.login_block().is_some() {
        return admin_login::blocked(name, e);
    }
    // From 8.0 the login failure no longer says totp-required: infer it from a verified email.
    if e.is_totp_required() || (e.is_auth_failure() && user.is_some_and(User::has_verified_email)) {
        let seen = if e.is_totp_required() {
            "answers totp-required"
        } else {
            "is refused and the bot's email is verified"
        };
        return Failure::refused(format!(
            "login as bot {name} {seen}: a verified email with email 2FA (Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In) \
             makes password logins ask for an emailed code, which Hubot cannot give; unverify the bot's email or \
             disable its 2FA (--fix-drift unverifies it)"
        ));
    }
    if e.is_auth_failure() {
        return Failure::refused(format!("the bot's password does not match ({e})"));
    }
    e.failure(&format!("login as bot {name}"))
}

fn ensure_room(
    cfg: &Config,
    admin: &Client,
    bot: &Client,
    bot_user: &Option<User>,
    reporter: &Reporter,
    out: &mut Outcome,
) -> Result<(), Failure> {
    let kind = if cfg.private {
        RoomKind::Group
    } else {
        RoomKind::Channel
    };
    let name = cfg.room.as_str();
    let other = if cfg.private {
        RoomKind::Channel
    } else {
        RoomKind::Group
    };
    let mut room = admin
        .kind_info(kind, name)
        .map_err(|e| e.failure(&format!("looking up #{name}")))?;
    if room.is_none() {
        if let Ok(Some(_)) = admin.kind_info(other, name) {
            return Err(Failure::refused(format!(
                "#{name} exists as a {}, not a {}: fix --private or rename one of them",
                other.noun(),
                kind.noun()
            )));
        }
    }
    let mut invited_at_creation = false;
    match &room {
        Some(r) if cfg.read_only && !r.ro => {
            if cfg.dry_run {
                out.set(reporter, "room", "would set read-only");
            } else {
                admin
                    .set_read_only(kind, &r.id, true)
                    .map_err(|e| e.failure(&format!("making #{name} read-only")))?;
                room = admin
                    .kind_info(kind, name)
                    .map_err(|e| e.failure(&format!("looking up #{name}")))?;
                out.set(reporter, "room", "updated (read-only)");
            }
        }
        Some(_) => out.set(reporter, "room", "unchanged"),
        None if cfg.dry_run => {
            out.set(reporter, "room", format!("would create ({})", kind.noun()));
            out.set(reporter, "membership", "would invite");
            return Ok(());
        }
        None => {
            let members: Vec<&str> = bot_user
                .as_ref()
                .map(|_| name_of(cfg))
                .into_iter()
                .collect();
            let created = admin
                .create_room(kind, name, &members, cfg.read_only)
                .map_err(|e| match e.error.as_str() {
                    "error-duplicate-channel-name" => Failure::refused(format!(
                        "#{name} already exists but the admin cannot see it (a private group it is not in?): {e}"
                    )),
                    _ => e.failure(&format!("creating #{name}")),
                })?;
            invited_at_creation = !members.is_empty();
            room = Some(created);
            out.set(reporter, "room", format!("created ({})", kind.noun()));
        }
    }
    let Some(room) = room else {
        return Ok(());
    };
    let Some(bot_user) = bot_user else {
        out.set(reporter, "membership", "would invite");
        return Ok(());
    };
    // Membership, seen from the bot's own session.
    let sub = bot
        .subscription(&room.id)
        .map_err(|e| e.failure("reading the bot's subscription"))?;
    let sub = match sub {
        Some(s) => {
            out.set(
                reporter,
                "membership",
                if invited_at_creation {
                    "added at creation"
                } else {
                    "unchanged"
                },
            );
            s
        }
        None if cfg.dry_run => {
            out.set(reporter, "membership", "would invite");
            return Ok(());
        }
        None => {
            admin
                .invite(kind, &room.id, &bot_user.id)
                .map_err(|e| e.failure(&format!("inviting {} to #{name}", cfg.bot_user)))?;
            out.set(reporter, "membership", "invited");
            bot.subscription(&room.id)
                .map_err(|e| e.failure("reading the bot's subscription"))?
                .ok_or_else(|| {
                    Failure::refused(format!(
                        "invited {} to #{name} but it has no subscription there",
                        cfg.bot_user
                    ))
                })?
        }
    };
    ensure_post_rights(
        cfg,
        admin,
        kind,
        &room,
        bot_user,
        sub.may_post_readonly(),
        reporter,
        out,
    )
}

fn name_of(cfg: &Config) -> &str {
    cfg.bot_user.as_str()
}

#[allow(clippy::too_many_arguments)]
fn ensure_post_rights(
    cfg: &Config,
    admin: &Client,
    kind: RoomKind,
    room: &Room,
    bot_user: &User,
    is_moderator: bool,
    reporter: &Reporter,
    out: &mut Outcome,
) -> Result<(), Failure> {
    let name = cfg.bot_user.as_str();
    if room.muted.iter().any(|u| u == name) {
        return Err(Failure::refused(format!(
            "{name} is muted in #{}: unmute it (Rocket.Chat refuses its messages)",
            cfg.room
        )));
    }
    // post-readonly is held by admin, owner, moderator (app/authorization/server/constant/permissions.ts).
    let needs = room.ro && !is_moderator && !room.unmuted.iter().any(|u| u == name);
    if !needs {
        if room.ro {
            out.set(reporter, "post_rights", "unchanged");
        }
        return Ok(());
    }
    if cfg.dry_run {
        out.set(reporter, "post_rights", "would make moderator");
        return Ok(());
    }
    admin
        .add_moderator(kind, &room.id, &bot_user.id)
        .map_err(|e| {
            e.failure(&format!(
                "making {name} moderator of read-only #{}",
                cfg.room
            ))
        })?;
    out.set(reporter, "post_rights", "moderator granted");
    Ok(())
}

/// integrations.update takes `username` (the posting user) for incoming hooks from 7.x on; 6.x
/// needs remove + create, which changes the URL. `version` is /api/info's `major.minor`.
pub fn updates_hook_user(version: &str) -> bool {
    version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok())
        .is_some_and(|major| major >= 7)
}

/// integrations.create/.update answer 200 even when the script does not compile; they set
/// `scriptError` and the hook then posts raw payloads instead of running the script.
pub fn check_script_compiled(i: &Integration, name: &str) -> Result<(), Failure> {
    match i.script_error_text() {
        None => Ok(()),
        Some(text) => Err(Failure::refused(format!(
            "incoming webhook {name:?}: Rocket.Chat could not compile its script ({text}); the hook would post \
             raw payloads: fix the script (--script) and rerun"
        ))),
    }
}

fn ensure_webhook(
    cfg: &Config,
    admin: &Client,
    user_update: bool,
    reporter: &Reporter,
    out: &mut Outcome,
) -> Result<Option<Integration>, Failure> {
    let wanted = IncomingWebhook {
        name: cfg.webhook_name.clone(),
        username: cfg.bot_user.clone(),
        channel: format!("#{}", cfg.room),
        script: cfg.script.clone(),
    };
    let all = admin
        .integrations()
        .map_err(|e| e.failure("listing integrations"))?;
    let found: Vec<&Integration> = all
        .iter()
        .filter(|i| i.kind == "webhook-incoming" && i.name == cfg.webhook_name)
        .collect();
    if found.len() > 1 {
        return Err(Failure::refused(format!(
            "{} incoming webhooks are named {:?}: remove the extra ones, rc-bootstrap cannot tell which is meant",
            found.len(),
            cfg.webhook_name
        )));
    }
    let Some(current) = found.first() else {
        if cfg.dry_run {
            out.set(reporter, "webhook", "would create");
            return Ok(None);
        }
        let created = admin
            .create_incoming(&wanted)
            .map_err(|e| e.failure(&format!("creating incoming webhook {:?}", cfg.webhook_name)))?;
        out.set(reporter, "webhook", "created");
        return Ok(Some(created));
    };
    let diff = webhook_diff(current, &wanted);
    if diff.is_empty() {
        out.set(reporter, "webhook", "unchanged");
        return Ok(Some((*current).clone()));
    }
    // Recreating changes the URL: only when the server cannot update the posting user.
    let user_changed =
        current.username.as_deref() != Some(wanted.username.as_str()) && !user_update;
    if cfg.dry_run {
        let action = if user_changed {
            "would recreate"
        } else {
            "would update"
        };
        out.set(
            reporter,
            "webhook",
            format!("{action} ({})", diff.join(", ")),
        );
        return Ok(Some((*current).clone()));
    }
    if user_changed {
        // integrations.update cannot change the posting user (IntegrationsUpdateProps has no
        // username for webhook-incoming): remove and create; the URL changes.
        admin
            .remove_integration(&current.id, &current.kind)
            .map_err(|e| e.failure("removing the old incoming webhook"))?;
        let created = admin
            .create_incoming(&wanted)
            .map_err(|e| e.failure("recreating the incoming webhook"))?;
        out.set(
            reporter,
            "webhook",
            format!("recreated ({}; new URL)", diff.join(", ")),
        );
        return Ok(Some(created));
    }
    let updated = admin
        .update_incoming(&current.id, &wanted, user_update)
        .map_err(|e| e.failure("updating the incoming webhook"))?;
    out.set(
        reporter,
        "webhook",
        format!("updated ({})", diff.join(", ")),
    );
    // Some versions do not echo the token on update; the id and token do not change.
    let mut merged = updated;
    if merged.token.is_none() {
        merged.token = current.token.clone();
    }
    Ok(Some(merged))
}

/// What differs between the server's integration and the wanted one.
pub fn webhook_diff(current: &Integration, wanted: &IncomingWebhook) -> Vec<String> {
    let mut diff = Vec::new();
    if current.username.as_deref() != Some(wanted.username.as_str()) {
        diff.push("user".to_string());
    }
    if current.channels() != vec![wanted.channel.clone()] {
        diff.push("room".to_string());
    }
    if !current.enabled {
        diff.push("enabled".to_string());
    }
    if current.script_enabled != wanted.script.is_some() {
        diff.push("script enabled".to_string());
    }
    if let Some(script) = &wanted.script {
        if current.script.as_deref() != Some(script.as_str()) {
            diff.push("script".to_string());
        }
    }
    diff
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
    fn hook_user_updates_from_7() {
        assert!(!updates_hook_user("6.13"));
        assert!(updates_hook_user("7.10"));
        assert!(updates_hook_user("8.1.0"));
        assert!(!updates_hook_user("garbage"));
    }

    #[test]
    fn url_is_masked_unless_asked() {
        let u = Secret::new("http://chat/hooks/abc/0123456789abcdef");
        assert_eq!(show_url(&u, false), "http://chat/hooks/abc/***");
        assert_eq!(show_url(&u, true), u.expose());
    }

    #[test]
    fn webhook_diff_names_what_changed() {
        let current: Integration = serde_json::from_value(json!({
            "_id": "i", "type": "webhook-incoming", "name": "gitlab", "enabled": true,
            "username": "hubot", "channel": ["#ops"], "scriptEnabled": true, "script": "A", "token": "t"
        }))
        .unwrap();
        let mut wanted = IncomingWebhook {
            name: "gitlab".into(),
            username: "hubot".into(),
            channel: "#ops".into(),
            script: Some("A".into()),
        };
        assert!(webhook_diff(&current, &wanted).is_empty());
        wanted.script = Some("B".into());
        assert_eq!(webhook_diff(&current, &wanted), vec!["script"]);
        wanted.script = None;
        assert_eq!(webhook_diff(&current, &wanted), vec!["script enabled"]);
        wanted.channel = "#dev".into();
        wanted.username = "other".into();
        assert_eq!(
            webhook_diff(&current, &wanted),
            vec!["user", "room", "script enabled"]
        );
    }
}
