//! The bot's password logins, never repeated with a password the server already refused.
//!
//! rc-bootstrap runs under `restart: on-failure`: with a wrong bot password every run used to
//! spend one bot login on the drift check, and ten restarts in five minutes made Rocket.Chat's
//! brute-force protection block the bot user (and Hubot with it). A refusal is remembered in
//! `--refusal-file` (rc_client::refusal, the same memory rc-probe keeps): while the configured
//! password is the refused one, the drift is reported without logging in; `--fix-drift` resets
//! the password and the next successful login forgets the refusal.

// RcError is ~128 bytes, built once per failed login: its size does not matter.
#![allow(clippy::result_large_err)]

use crate::Config;
use rc_client::{refusal, Client, Login, RcError};

/// A bot login: Err is either the server's refusal or the remembered one (then no login was
/// spent; the text says when and how to force a retry).
pub enum Refused {
    Now(RcError),
    Remembered(String),
}

pub fn login(cfg: &Config, bot: &mut Client, name: &str) -> Result<Login, Refused> {
    if let Some(file) = &cfg.refusal_file {
        if let Some((error, at)) = refusal::remembered(file, &cfg.url, name, &cfg.bot_password) {
            return Err(Refused::Remembered(format!(
                "this bot password was refused {} ago ({error}); not retried until it changes, so that restarts do \
                 not trip the brute-force block (delete {} to force a retry)",
                sidecar::duration::display(refusal::age(at)),
                file.display()
            )));
        }
    }
    attempt(cfg, bot, name).map_err(Refused::Now)
}

/// A login right after rc-bootstrap set the password (bot created or drift fixed): any memory
/// of a refusal is stale.
pub fn fresh(cfg: &Config, bot: &mut Client, name: &str) -> Result<Login, RcError> {
    if let Some(file) = &cfg.refusal_file {
        refusal::forget(file);
    }
    attempt(cfg, bot, name)
}

/// One login: a success forgets any refusal, a refusal of the password is remembered.
fn attempt(cfg: &Config, bot: &mut Client, name: &str) -> Result<Login, RcError> {
    let result = bot.login(name, &cfg.bot_password);
    if let Some(file) = &cfg.refusal_file {
        match &result {
            Ok(_) => refusal::forget(file),
            Err(e) if refusal::worth_remembering(e) => {
                refusal::remember(file, &cfg.url, name, &cfg.bot_password, &e.to_string())
            }
            Err(_) => {}
        }
    }
    result
}
