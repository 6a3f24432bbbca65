//! rc-sim — a test-only Rocket.Chat REST emulator.
//!
//! Written from the RocketChat/Rocket.Chat sources (paths cited next to each
//! behaviour, all under https://github.com/RocketChat/Rocket.Chat). It keeps all
//! state in memory behind one Mutex and serves HTTP/1.1 with tiny_http.
//! Routes under `/_sim/` are NOT Rocket.Chat: they let tests inspect state.
//!
//! Layout: config (flags), settings, model (users, rooms, integrations), permissions,
//! accounts, auth (login, tokens, 2FA), rate_limit + login_block, routes (the route
//! table), rest/ (one module per REST area), hooks + hook_router + script (incoming
//! webhooks and their scripts), sim_routes (`/_sim/`), http + tls_front + ddp (transport),
//! server (process start).

// LoginFail (the refused-login value) is ~170 bytes, built once per refused login.
#![allow(clippy::result_large_err)]

use std::sync::Mutex;

mod accounts;
mod api;
mod auth;
pub mod config;
pub mod ddp;
pub mod hook_router;
mod hooks;
pub mod http;
mod integration;
pub mod login_block;
mod model;
mod permissions;
mod rate_limit;
mod rest;
mod routes;
pub mod script;
mod server;
mod settings;
mod sim_routes;
pub mod startup;
pub mod tls_front;
mod util;

pub use api::*;
pub use config::*;
pub use integration::Integration;
pub use model::*;
pub use permissions::*;
pub use rate_limit::*;
pub use server::main_with_args;
pub use util::*;
// Crate-internal helpers shared across modules.
use accounts::*;
use rest::users::user_from_params;
use settings::*;
// What the unit tests (tests.rs, tests_review.rs) reach through `use super::*`.
#[cfg(test)]
use {
    hooks::webhook_message,
    serde_json::{json, Value},
    std::{collections::HashMap, time::Duration},
};

/// The simulator: state + config, shared by all worker threads.
pub struct Sim {
    pub state: Mutex<State>,
    pub cfg: Config,
    /// Live DDP sessions (presence), see ddp/mod.rs.
    pub ddp: ddp::Hub,
}

impl Sim {
    pub fn new(cfg: Config) -> Sim {
        Sim {
            state: Mutex::new(State::new(&cfg)),
            cfg,
            ddp: ddp::Hub::default(),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panicking handler must not wedge the emulator: keep serving the state.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flags;
#[cfg(test)]
mod tests_review;
