//! Flags and environment (the names Hubot's rocketchat adapter already uses, so one .env serves
//! both), then one run under a deadline and a watchdog.

use crate::{run, Config};
use clap::Parser;
use rc_client::{normalize_base_url, Session};
use sidecar::report::Report;
use sidecar::Failure;
use std::ffi::OsString;
use std::path::PathBuf;

const LONG_ABOUT: &str = "\
HEALTHCHECK for the bot's side of Rocket.Chat: exits 0 only when Rocket.Chat answers, the bot can
authenticate, every --room exists, the bot is a member and may post there (room not read-only or
the bot holds post-readonly; not muted), and, with --webhook-url[-file], the incoming webhook is
valid (GET /hooks/info/..., which posts nothing), and Hubot is connected: the bot's own
users.getPresence says connectionStatus online (one GET; --presence off checks the account only;
skipped with a note before Rocket.Chat 6.10, which did not count bot logins as connections).
Otherwise ONE line says why.

It keeps ONE session: Rocket.Chat keeps only the newest 50 login tokens per user, so a probe that
logs in every 10 s would log the real bot (Hubot) out and trip the login rate limiter. The token is
cached in --token-cache (0600, atomic) and checked with /api/v1/me; the password is used only
when the cached session is no longer valid. A FROM-scratch image needs a writable /tmp (or point
RC_PROBE_TOKEN_CACHE at a writable volume); without a writable cache each run logs out again.

Examples:
  # Hubot container HEALTHCHECK: reads Hubot's own ROCKETCHAT_URL/USER/PASSWORD/ROOM
  HEALTHCHECK CMD [\"/usr/local/bin/rc-probe\", \"--timeout\", \"8s\"]
  rc-probe --url http://rocketchat:3000 --user hubot --password-file /run/secrets/bot --room ops
  RC_PROBE_WEBHOOK_URL_FILE=/var/lib/coquelicot/webhook-url rc-probe --json

Exit codes:
  0  healthy
  1  Rocket.Chat unavailable or timed out, or Hubot not connected (the next probe period retries)
  2  usage: bad flag, URL, duration or unreadable secret file
  3  refused: wrong password, 2FA on the bot, room missing, bot not a member or may not post

Secrets: prefer ROCKETCHAT_PASSWORD_FILE / RC_PROBE_AUTH_TOKEN_FILE / RC_PROBE_WEBHOOK_URL_FILE to
values; they are never printed. A secret value given as a flag (--password, --auth-token,
--webhook-url) works but prints one warning line on stderr: the command line is visible in ps.
Every flag has its environment variable (shown below); flags win, an empty variable is unset.";

sidecar::common_flags! {
    Shared for Args, prefix = "RC_PROBE", timeout = "5s", timeout_help = "Overall deadline, e.g. 5s, 1500ms",
    json_help = "One JSON object on stdout"
}
sidecar::secret_flags! {
    Password { password, password_file }, long = "password", env = "ROCKETCHAT_PASSWORD",
    help = "The bot's password",
    file_help = "File holding the bot's password (a Docker/Kubernetes secret)"
}
sidecar::secret_flags! {
    AuthToken { auth_token, auth_token_file }, long = "auth-token", env = "RC_PROBE_AUTH_TOKEN",
    help = "Auth token going with --user-id", file_help = "File holding that auth token"
}
sidecar::secret_flags! {
    WebhookUrl { webhook_url, webhook_url_file }, long = "webhook-url",
    env = "RC_PROBE_WEBHOOK_URL", help = "Incoming webhook URL to validate (without posting)",
    file_help = "File holding the webhook URL (what rc-bootstrap --webhook-url-file writes)"
}

#[derive(Parser, Debug)]
#[command(
    name = "rc-probe",
    version,
    about = "HEALTHCHECK: exit 0 only when the bot can log in, its rooms exist, it is a member and may post.",
    long_about = LONG_ABOUT
)]
pub struct Args {
    /// Rocket.Chat base URL.
    #[arg(long, env = "ROCKETCHAT_URL", hide_env_values = true)]
    pub url: String,
    /// The bot's username.
    #[arg(long, env = "ROCKETCHAT_USER")]
    pub user: Option<String>,
    #[command(flatten)]
    pub password: Password,
    /// Room(s) the bot must be able to post in, comma-separated, without '#'.
    #[arg(long, env = "ROCKETCHAT_ROOM")]
    pub room: String,
    /// Where the session token is cached between runs.
    #[arg(
        long,
        env = "RC_PROBE_TOKEN_CACHE",
        default_value = "/tmp/rc-probe.token"
    )]
    pub token_cache: PathBuf,
    /// Do not cache the token (each run logs in and out: costs a login per run).
    #[arg(long, env = "RC_PROBE_NO_TOKEN_CACHE", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_token_cache: bool,
    /// Use this user id + auth token instead of logging in.
    #[arg(long, env = "RC_PROBE_USER_ID")]
    pub user_id: Option<String>,
    #[command(flatten)]
    pub auth_token: AuthToken,
    #[command(flatten)]
    pub webhook_url: WebhookUrl,
    #[command(flatten)]
    pub common: Shared,
    /// Hubot's live connection: `required` (the bot's own users.getPresence must say
    /// connectionStatus online; skipped with a note before Rocket.Chat 6.10) or `off` (account only).
    #[arg(long, env = "RC_PROBE_PRESENCE", value_enum, default_value_t = crate::presence::Mode::Required)]
    pub presence: crate::presence::Mode,
    #[command(flatten)]
    pub tls: rc_client::tls::CaArgs,
}

pub fn config(args: Args) -> Result<Config, Failure> {
    let url = normalize_base_url(&args.url)?;
    args.tls.install()?;
    let password = args.password.resolve()?;
    let token = args.auth_token.resolve()?;
    let given = match (args.user_id, token) {
        (Some(user_id), Some(token)) => Some(Session { user_id, token }),
        (None, None) => None,
        _ => {
            return Err(Failure::usage(
                "--user-id and --auth-token[-file] go together: give both or neither",
            ))
        }
    };
    let webhook_url = args.webhook_url.resolve()?;
    if let Some(url) = &webhook_url {
        check_webhook_url(url.expose())?;
    }
    let token_cache = (!args.no_token_cache).then_some(args.token_cache);
    if let Some(path) = &token_cache {
        crate::cache::check(path)?;
    }
    let rooms = rc_client::rules::parse_rooms(&args.room);
    if rooms.is_empty() {
        return Err(Failure::usage(
            "--room (ROCKETCHAT_ROOM) is empty: name the room(s) the bot must post in",
        ));
    }
    Ok(Config {
        url,
        user: args.user,
        password,
        rooms,
        token_cache,
        given,
        webhook_url,
        presence: args.presence,
    })
}

/// A webhook URL that can never be valid is a usage error (exit 2), not a retried exit 1. Its
/// token is registered for redaction on its own: a server may echo the path without the rest.
fn check_webhook_url(url: &str) -> Result<(), Failure> {
    let shape = || {
        Failure::usage(
            "--webhook-url (RC_PROBE_WEBHOOK_URL[_FILE]): not of the form <ROOT_URL>/hooks/<id>/<token>: \
             use the URL rc-bootstrap --webhook-url-file writes",
        )
    };
    let url = url.trim();
    let pos = url.rfind("/hooks/").ok_or_else(shape)?;
    if let Some(token) = url[pos..].rsplit('/').next() {
        sidecar::redact::register(token);
    }
    rc_client::client::webhook_info_url(url).ok_or_else(shape)?;
    rc_client::normalize_base_url_as(&url[..pos], "--webhook-url").map(|_| ())
}

/// Parses `argv` and runs; returns the exit code.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main("rc-probe", true, argv, |args: Args, deadline, _reporter| {
        rc_client::waiting_for(&args.url);
        match config(args) {
            Ok(cfg) => run(&cfg, deadline).unwrap_or_else(Report::from),
            Err(f) => Report::from(f),
        }
    })
}
