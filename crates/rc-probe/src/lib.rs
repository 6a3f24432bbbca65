//! rc-probe: a HEALTHCHECK for the bot's side of Rocket.Chat. Exit 0 only when Rocket.Chat
//! answers, the bot can authenticate, each room exists, the bot is a member and may post there,
//! and (optionally) the incoming webhook URL is valid — checked without posting anything.
//!
//! It keeps ONE session: every password login adds a resume token to the user and the server
//! keeps only the newest 50 (MAX_RESUME_LOGIN_TOKENS), so a probe logging in every 10 s would
//! push out Hubot's own token and trip the login rate limiter. The token is cached in a file
//! (0600, written atomically), validated with `GET /api/v1/me`, and a password login happens only
//! when it is no longer valid.

pub mod cache;
pub mod cli;
pub mod presence;
pub use rc_client::refusal;

pub use cache::{load_cache, save_cache, Cached};
use rc_client::rules::{self, Account, LoginRefusal, PostBlocks};
use rc_client::{Client, RcError, Session};
use serde_json::{json, Value};
use sidecar::report::Report;
use sidecar::{Deadline, Failure, Secret};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Config {
    pub url: String,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// Hubot's ROCKETCHAT_ROOM may list several rooms, comma-separated.
    pub rooms: Vec<String>,
    pub token_cache: Option<PathBuf>,
    /// An operator-given session (`--user-id` + `--auth-token`): never cached, never logged out.
    pub given: Option<Session>,
    pub webhook_url: Option<Secret>,
    /// Require Hubot's live connection (presence.rs).
    pub presence: presence::Mode,
}

/// What a check found, as a report.
pub fn run(cfg: &Config, deadline: Deadline) -> Result<Report, Failure> {
    let mut client = Client::new(&cfg.url, deadline);
    let version = client
        .info()
        .map_err(|e| e.failure(&format!("Rocket.Chat at {}", cfg.url)))?;

    let auth = authenticate(&mut client, cfg, deadline)?;
    let result = check_rooms_and_hook(&client, cfg, &auth).and_then(|r| {
        presence::check(&client, cfg.presence, version.as_deref(), &auth.username).map(|n| (r, n))
    });
    if auth.logout_after {
        // The token could not be cached: drop it so that runs do not pile tokens up.
        let _ = client.logout();
    }
    let ((rooms, webhook), presence_note) = result?;
    let mut reason = format!(
        "ok: {} can post in {}",
        auth.username,
        rooms
            .iter()
            .map(|r| format!("#{r}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(w) = &webhook {
        reason.push_str(&format!("; webhook {w}"));
    }
    let hubot = match (cfg.presence, &presence_note) {
        (presence::Mode::Off, _) => "not required",
        (_, Some(_)) => "not checked",
        (_, None) => "connected",
    };
    if hubot == "connected" {
        reason.push_str("; Hubot connected");
    }
    for note in [&auth.note, &presence_note].into_iter().flatten() {
        reason.push_str(&format!(" ({note})"));
    }
    Ok(Report::ok(reason)
        .with("user", auth.username.clone())
        .with("rooms", json!(rooms))
        .with("session", auth.source)
        .with("webhook", webhook.map(Value::from).unwrap_or(Value::Null))
        .with("hubot", hubot))
}

struct Auth {
    username: String,
    is_admin: bool,
    /// `given`, `cached` or `login`.
    source: &'static str,
    logout_after: bool,
    note: Option<String>,
}

fn authenticate(client: &mut Client, cfg: &Config, deadline: Deadline) -> Result<Auth, Failure> {
    if let Some(session) = &cfg.given {
        client.set_session(Some(session.clone()));
        let me = client.me().map_err(|e| {
            if e.is_auth_failure() {
                Failure::refused(format!(
                    "the given --auth-token for user id {} is not valid (logged out or expired): {e}",
                    session.user_id
                ))
            } else {
                e.failure("checking the given token with /api/v1/me")
            }
        })?;
        return Ok(Auth {
            username: me.username.clone().unwrap_or_default(),
            is_admin: me.has_role("admin"),
            source: "given",
            logout_after: false,
            note: None,
        });
    }
    let (Some(user), Some(password)) = (&cfg.user, &cfg.password) else {
        return Err(Failure::usage(
            "give the bot's --user and --password/--password-file (ROCKETCHAT_USER, ROCKETCHAT_PASSWORD[_FILE]), \
             or --user-id with --auth-token[-file]",
        ));
    };
    // Held until the new token is cached: concurrent runs wait, then reuse it.
    let mut _lock = None;
    let mut lock_busy = false;
    if let Some(path) = &cfg.token_cache {
        if let Some(auth) = cached_auth(client, path, cfg, user)? {
            return Ok(auth);
        }
        match cache::login_lock(path, deadline) {
            Ok(Some(lock)) => {
                _lock = Some(lock);
                if let Some(auth) = cached_auth(client, path, cfg, user)? {
                    return Ok(auth);
                }
            }
            // Still held near the deadline: log in, but do not cache; log out after the run.
            Ok(None) => lock_busy = true,
            // No lock file (read-only directory): the cache write below says so.
            Err(_) => {}
        }
    }
    let login = login_once(client, cfg, user, password)?;
    let mut auth = Auth {
        username: login.me.username.clone().unwrap_or_else(|| user.clone()),
        is_admin: login.me.has_role("admin"),
        source: "login",
        logout_after: true,
        note: None,
    };
    if let (Some(path), false) = (&cfg.token_cache, lock_busy) {
        match save_cache(path, &cfg.url, user, &login.session) {
            Ok(()) => auth.logout_after = false,
            Err(e) => {
                auth.note = Some(format!(
                    "token cache {} not writable ({e}): logging out after each run; mount a writable /tmp or set --token-cache",
                    path.display()
                ))
            }
        }
    }
    Ok(auth)
}

/// The password login, never repeated with a password the server already refused
/// (refusal.rs): a probe must not walk the bot into the brute-force block.
fn login_once(
    client: &mut Client,
    cfg: &Config,
    user: &str,
    password: &Secret,
) -> Result<rc_client::Login, Failure> {
    if let Some(cache) = &cfg.token_cache {
        if let Some((error, at)) =
            refusal::remembered(&refusal::path_for(cache), &cfg.url, user, password)
        {
            return Err(Failure::refused(format!(
                "login as {user} not tried: this password was refused {} ago ({error}); not retrying it until \
                 it changes, so that probes do not trip the brute-force block (delete {} to force a retry)",
                sidecar::duration::display(refusal::age(at)),
                refusal::path_for(cache).display()
            )));
        }
    }
    match client.login(user, password) {
        Ok(l) => {
            if let Some(cache) = &cfg.token_cache {
                refusal::forget(&refusal::path_for(cache));
            }
            Ok(l)
        }
        Err(e) => {
            // A block is temporary and not the password's fault: do not remember it.
            if refusal::worth_remembering(&e) {
                if let Some(cache) = &cfg.token_cache {
                    refusal::remember(
                        &refusal::path_for(cache),
                        &cfg.url,
                        user,
                        password,
                        &e.to_string(),
                    );
                }
            }
            Err(login_failure(user, &e))
        }
    }
}

/// The session in the token cache, if it is still valid for `user`. An exposed cache (readable
/// by others) has its token logged out and is replaced after the login.
fn cached_auth(
    client: &mut Client,
    path: &Path,
    cfg: &Config,
    user: &str,
) -> Result<Option<Auth>, Failure> {
    let session = match load_cache(path, &cfg.url, user)? {
        Cached::Missing => return Ok(None),
        Cached::Exposed(session) => {
            client.set_session(Some(session));
            let _ = client.logout();
            return Ok(None);
        }
        Cached::Private(session) => session,
    };
    client.set_session(Some(session));
    match client.me() {
        Ok(me) if same_user(&me.username, user) => {
            return Ok(Some(Auth {
                username: me.username.clone().unwrap_or_default(),
                is_admin: me.has_role("admin"),
                source: "cached",
                logout_after: false,
                note: None,
            }))
        }
        Ok(_) => {}
        Err(e) if e.is_auth_failure() => {}
        Err(e) => return Err(e.failure("checking the cached token with /api/v1/me")),
    }
    client.set_session(None);
    Ok(None)
}

fn same_user(actual: &Option<String>, wanted: &str) -> bool {
    actual
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(wanted))
}

fn login_failure(user: &str, e: &RcError) -> Failure {
    match LoginRefusal::of(e, false) {
        Some(refusal) => refusal.failure(Account::Bot, user, e),
        None => e.failure(&format!("login as {user}")),
    }
}

fn check_rooms_and_hook(
    client: &Client,
    cfg: &Config,
    auth: &Auth,
) -> Result<(Vec<String>, Option<String>), Failure> {
    let mut checked = Vec::new();
    for name in &cfg.rooms {
        let room = client
            .room_info(name)
            .map_err(|e| room_lookup_failure(name, &e))?
            .ok_or_else(|| {
                Failure::refused(format!(
                    "room #{name} not found (or it is a private group the bot is not in): run rc-bootstrap or create it"
                ))
            })?;
        let sub = client
            .subscription(&room.id)
            .map_err(|e| e.failure(&format!("reading the bot's subscription to #{name}")))?
            .ok_or_else(|| {
                Failure::refused(format!(
                    "{} is not a member of #{name}: invite it (rc-bootstrap does)",
                    auth.username
                ))
            })?;
        PostBlocks::of(
            &room,
            &auth.username,
            auth.is_admin || sub.may_post_readonly(),
        )
        .check(name, &auth.username)?;
        checked.push(name.clone());
    }
    let webhook = match &cfg.webhook_url {
        None => None,
        Some(url) => Some(check_webhook(client, url)?),
    };
    Ok((checked, webhook))
}

/// rooms.info refuses an archived room before anything else on 6.x/7.x (`error-room-archived`).
fn room_lookup_failure(name: &str, e: &RcError) -> Failure {
    if e.error == "error-room-archived" {
        return rules::archived(name);
    }
    e.failure(&format!("looking up room #{name}"))
}

fn check_webhook(client: &Client, url: &Secret) -> Result<String, Failure> {
    match client.webhook_info(url.expose()) {
        Ok(()) => Ok("valid".into()),
        // /hooks/* are rate limited per URL even for bots (WebHookAPI.shouldVerifyRateLimit has
        // no api-bypass-rate-limit check): a 429 says nothing about validity, do not flap on it.
        Err(e) if e.is_rate_limited() => Ok("not re-checked (rate limited)".into()),
        // Since Restivus was removed, an unknown id/token makes authenticatedRoute throw outside
        // the route's try/catch and the router answers a bare 500 (ApiClass.ts, Hono's default
        // error handler); the REST API answered this very run, so it is the hook that is wrong.
        Err(e) if e.is_bare_server_error() => Err(Failure::refused(format!(
            "the webhook URL is not valid (integration removed, disabled or token changed; rerun rc-bootstrap): {e} \
             (Rocket.Chat answers a bare 500 for an unknown webhook id or token)"
        ))),
        Err(e) if e.is_unavailable() => Err(e.failure("checking the webhook URL")),
        Err(e) => Err(Failure::refused(format!(
            "the webhook URL is not valid (integration removed, disabled or token changed; rerun rc-bootstrap): {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    #[test]
    fn cache_round_trip_is_private_and_keyed_by_url_and_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("rc-probe-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token");
        let s = Session {
            user_id: "u1".into(),
            token: Secret::new("tok"),
        };
        save_cache(&path, "http://rc", "bot", &s).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            load_cache(&path, "http://rc", "BOT"),
            Ok(Cached::Private(s.clone()))
        );
        assert_eq!(
            load_cache(&path, "http://other", "bot"),
            Ok(Cached::Missing)
        );
        assert_eq!(
            load_cache(&path, "http://rc", "someone"),
            Ok(Cached::Missing)
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            load_cache(&path, "http://rc", "bot"),
            Ok(Cached::Exposed(s))
        );
        std::fs::write(&path, "garbage").unwrap();
        assert_eq!(load_cache(&path, "http://rc", "bot"), Ok(Cached::Missing));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(50 << 20)
            .unwrap();
        let big = load_cache(&path, "http://rc", "bot").unwrap_err();
        assert_eq!(big.exit, Exit::Usage);
        assert!(big.message.contains("token"), "{big}");
        assert!(save_cache(
            &dir.join("missing/dir/token"),
            "u",
            "b",
            &Session {
                user_id: "x".into(),
                token: Secret::new("y")
            }
        )
        .is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
