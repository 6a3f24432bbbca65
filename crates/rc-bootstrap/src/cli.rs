//! Flags, each with the environment variable the rest of the stack already uses (Rocket.Chat's
//! ADMIN_* and ROOT_URL, Hubot's ROCKETCHAT_*), so one .env file serves every container.

use crate::{is_blocked, run, Config, GITLAB_SCRIPT};
use clap::builder::BoolishValueParser;
use clap::Parser;
use rc_client::normalize_base_url;
use sidecar::report::Report;
use sidecar::{duration, Failure};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The largest `--script` read (Rocket.Chat stores the script in one Mongo document).
const SCRIPT_FILE_MAX: u64 = 1024 * 1024;

const LONG_ABOUT: &str = "\
One-shot, idempotent set-up of a fresh Rocket.Chat for a bot, run as an init container with
restart: on-failure. It waits for Rocket.Chat (refused, 502/503) under --timeout, then:
  1. admin: logs in as the admin Rocket.Chat creates from its own ADMIN_* variables (7.x+ creates
     it before it listens; 6.x may do so a little after it starts answering: --admin-wait, the
     retry woken by the server's realtime push of the end of initialData when it comes); with
     no admin and open registration, registers it (the first user becomes admin);
  2. bot user: created with the bot role and an UNVERIFIED email (a verified email plus email-2FA
     auto opt-in makes the bot's login answer totp-required); an existing bot whose password no
     longer works is reported (exit 3), or reset with --fix-drift;
  3. room (public, or --private; --read-only makes the bot moderator) and bot membership;
  4. incoming webhook posting as the bot into the room, running the embedded GitLab script
     (--script FILE to replace it, --no-script for none); updated only when it changed;
  5. publishes <ROOT_URL>/hooks/<id>/<token> to --webhook-url-file (0600, atomic) and prints it
     with the token masked (--show-token to print it). Logs the admin out at the end.
A second run changes nothing and says \"unchanged\" for each object; --dry-run prints the plan.

Examples:
  # compose: the same .env as Rocket.Chat (ADMIN_*) and Hubot (ROCKETCHAT_*)
  ROCKETCHAT_URL=http://rocketchat:3000 ADMIN_USERNAME=boss ADMIN_PASS_FILE=/run/secrets/admin \\
  ROCKETCHAT_USER=hubot ROCKETCHAT_PASSWORD_FILE=/run/secrets/bot ROCKETCHAT_ROOM=ops \\
  rc-bootstrap --webhook-url-file /var/lib/coquelicot/webhook-url
  rc-bootstrap --url http://localhost:3000 --admin-password-file admin.pw --bot-username hubot \\
    --bot-password-file bot.pw --room ops --dry-run

Exit codes:
  0  done, or nothing to do
  1  Rocket.Chat unavailable or timed out (restart: on-failure tries again)
  2  usage or configuration (bad flag, URL, blocked username, unreadable secret file)
  3  refused by the server (wrong credentials, password policy, bot drift without --fix-drift)

Secrets: prefer ADMIN_PASS_FILE / ROCKETCHAT_PASSWORD_FILE (Docker/Kubernetes secret files) to
values; they are never printed. A secret value given as a flag (--admin-password,
--bot-password) works but prints one warning line on stderr: the command line is visible in ps.
Every flag has its environment variable (shown below); flags win, an empty variable is unset.";

sidecar::common_flags! {
    Shared for Args, prefix = "RC_BOOTSTRAP", timeout = "300s", timeout_help = "Overall deadline",
    json_help = "One JSON object on stdout"
}
sidecar::secret_flags! {
    AdminPassword { admin_password, admin_password_file }, long = "admin-password",
    env = "ADMIN_PASS", help = "The admin's password",
    file_help = "File holding the admin's password (a Docker/Kubernetes secret)"
}
sidecar::secret_flags! {
    BotPassword { bot_password, bot_password_file }, long = "bot-password",
    env = "ROCKETCHAT_PASSWORD", help = "The bot's password",
    file_help = "File holding the bot's password (a Docker/Kubernetes secret)"
}

#[derive(Parser, Debug)]
#[command(
    name = "rc-bootstrap",
    version,
    about = "Idempotent Rocket.Chat set-up: admin, bot user, room, membership, GitLab incoming webhook.",
    long_about = LONG_ABOUT
)]
pub struct Args {
    /// Rocket.Chat base URL (as Hubot's ROCKETCHAT_URL).
    #[arg(long, env = "ROCKETCHAT_URL", hide_env_values = true)]
    pub url: String,
    /// Public base URL for the webhook URL (Rocket.Chat's ROOT_URL); defaults to --url.
    #[arg(long, env = "ROOT_URL", hide_env_values = true)]
    pub public_url: Option<String>,
    #[arg(long, env = "ADMIN_USERNAME", default_value = "admin")]
    pub admin_username: String,
    #[command(flatten)]
    pub admin_password: AdminPassword,
    /// Used only when the admin must be registered.
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,
    /// At most how long to retry a refused admin login on Rocket.Chat 6.x or an undisclosed
    /// version (3 attempts at most, at 0 s, 1 s, 6 s: failed logins count toward the brute-force
    /// block) before trying users.register. 7.x+ creates the admin before it listens: no retry.
    #[arg(long, env = "RC_BOOTSTRAP_ADMIN_WAIT", default_value = "60s", value_parser = duration::parse_timeout)]
    pub admin_wait: Duration,
    #[arg(long, env = "ROCKETCHAT_USER")]
    pub bot_username: String,
    #[command(flatten)]
    pub bot_password: BotPassword,
    /// Default: <bot>@localhost.localdomain (left unverified on purpose).
    #[arg(long, env = "RC_BOOTSTRAP_BOT_EMAIL")]
    pub bot_email: Option<String>,
    /// The room, without '#'. Hubot's ROCKETCHAT_ROOM may list several: the first is used.
    #[arg(long, env = "ROCKETCHAT_ROOM")]
    pub room: String,
    /// A private group instead of a public channel.
    #[arg(long, env = "RC_BOOTSTRAP_PRIVATE", value_parser = BoolishValueParser::new())]
    pub private: bool,
    /// Make the room read-only (the bot is made moderator so it can still post).
    #[arg(long, env = "RC_BOOTSTRAP_READ_ONLY", value_parser = BoolishValueParser::new())]
    pub read_only: bool,
    #[arg(long, env = "RC_BOOTSTRAP_WEBHOOK_NAME", default_value = "gitlab")]
    pub webhook_name: String,
    /// Script for the webhook instead of the embedded GitLab script.
    #[arg(long, env = "RC_BOOTSTRAP_SCRIPT", conflicts_with = "no_script")]
    pub script: Option<PathBuf>,
    /// A webhook without a script.
    #[arg(long, env = "RC_BOOTSTRAP_NO_SCRIPT", value_parser = BoolishValueParser::new())]
    pub no_script: bool,
    /// Where to publish the webhook URL (0600, atomic).
    #[arg(long, env = "RC_BOOTSTRAP_WEBHOOK_URL_FILE")]
    pub webhook_url_file: Option<PathBuf>,
    /// Print the webhook URL with its token.
    #[arg(long, env = "RC_BOOTSTRAP_SHOW_TOKEN", value_parser = BoolishValueParser::new())]
    pub show_token: bool,
    /// Reset a drifted bot user (password, roles, active, unverified email).
    #[arg(long, env = "RC_BOOTSTRAP_FIX_DRIFT", value_parser = BoolishValueParser::new())]
    pub fix_drift: bool,
    /// Read only: print what would change.
    #[arg(long, env = "RC_BOOTSTRAP_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub dry_run: bool,
    /// Where a refused bot password is remembered (0600: a salted fingerprint, never the
    /// password), so that restarts do not log in with it again and trip the brute-force block.
    #[arg(
        long,
        env = "RC_BOOTSTRAP_REFUSAL_FILE",
        default_value = "/tmp/rc-bootstrap.refused"
    )]
    pub refusal_file: PathBuf,
    /// Do not remember refused passwords (every run then spends a bot login on them).
    #[arg(long, env = "RC_BOOTSTRAP_NO_REFUSAL_FILE", value_parser = BoolishValueParser::new())]
    pub no_refusal_file: bool,
    #[command(flatten)]
    pub tls: rc_client::tls::CaArgs,
    #[command(flatten)]
    pub common: Shared,
}

pub fn config(args: Args) -> Result<Config, Failure> {
    let url = normalize_base_url(&args.url)?;
    args.tls.install()?;
    let public_url = match &args.public_url {
        Some(u) if !u.trim().is_empty() => {
            rc_client::normalize_base_url_as(u, "--public-url (ROOT_URL)")?
        }
        _ => url.clone(),
    };
    let admin_password = args.admin_password.resolve()?.ok_or_else(|| {
        Failure::usage("the admin password is missing: set ADMIN_PASS_FILE (or ADMIN_PASS)")
    })?;
    let bot_password = args.bot_password.resolve()?.ok_or_else(|| {
        Failure::usage(
            "the bot password is missing: set ROCKETCHAT_PASSWORD_FILE (or ROCKETCHAT_PASSWORD)",
        )
    })?;
    let admin_user = args.admin_username.trim().to_string();
    // Rocket.Chat's initialData ignores a blocked ADMIN_USERNAME and names the admin "admin";
    // "admin" itself works that way, any other blocked name can never log in.
    if is_blocked(&admin_user) && !admin_user.eq_ignore_ascii_case("admin") {
        return Err(Failure::usage(format!(
            "ADMIN_USERNAME {admin_user:?} is a blocked username in Rocket.Chat (admin, administrator, system, \
             user, all, here): the server ignores it and creates the admin as \"admin\"; choose another name"
        )));
    }
    let bot_user = args.bot_username.trim().to_string();
    if bot_user.is_empty() || is_blocked(&bot_user) {
        return Err(Failure::usage(format!(
            "bot username {bot_user:?} cannot be used: it is empty or blocked in Rocket.Chat (admin, administrator, \
             system, user, all, here); set ROCKETCHAT_USER to e.g. hubot"
        )));
    }
    if bot_user.eq_ignore_ascii_case(&admin_user) {
        return Err(Failure::usage(
            "the bot and the admin must be different users: a bot running as admin defeats the point",
        ));
    }
    let room = rc_client::rules::parse_rooms(&args.room)
        .into_iter()
        .next()
        .ok_or_else(|| {
            Failure::usage("--room (ROCKETCHAT_ROOM) is empty: name the room, e.g. ops")
        })?;
    let script = if args.no_script {
        None
    } else if let Some(path) = &args.script {
        // Capped like every file we read: a script is text of some KiB (ours is ~50 KiB).
        let (bytes, _) = sidecar::file::read_capped(path, SCRIPT_FILE_MAX, "--script")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::usage(format!("--script {}: not UTF-8 text", path.display())))?;
        if !text.contains("class Script") {
            return Err(Failure::usage(format!(
                "--script {}: an incoming-webhook script must define `class Script` with process_incoming_request",
                path.display()
            )));
        }
        Some(text)
    } else {
        Some(GITLAB_SCRIPT.to_string())
    };
    Ok(Config {
        url,
        public_url,
        bot_email: args
            .bot_email
            .unwrap_or_else(|| format!("{bot_user}@localhost.localdomain")),
        admin_user,
        admin_password,
        admin_email: args.admin_email,
        admin_wait: args.admin_wait,
        bot_user,
        bot_password,
        room,
        private: args.private,
        read_only: args.read_only,
        webhook_name: args.webhook_name,
        script,
        webhook_url_file: args.webhook_url_file,
        show_token: args.show_token,
        fix_drift: args.fix_drift,
        dry_run: args.dry_run,
        refusal_file: (!args.no_refusal_file).then_some(args.refusal_file),
    })
}

/// Parses `argv` and runs; returns the exit code.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(
        "rc-bootstrap",
        false,
        argv,
        |args: Args, deadline, reporter| {
            rc_client::waiting_for(&args.url);
            match config(args) {
                Ok(cfg) => run(&cfg, deadline, &reporter).unwrap_or_else(Report::from),
                Err(f) => Report::from(f),
            }
        },
    )
}
