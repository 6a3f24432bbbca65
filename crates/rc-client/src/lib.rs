//! Typed, blocking Rocket.Chat REST client shared by rc-bootstrap and rc-probe.
//!
//! * every call takes its timeout from the run's [`sidecar::Deadline`];
//! * both error shapes (the legacy one, and 8.0.0's bare `{success:false,error}`) become one [`RcError`] {status, id, message},
//!   classified into the sidecar exit codes by [`RcError::failure`];
//! * 429 answers are waited out when `X-RateLimit-Reset` falls inside the deadline;
//! * tokens and passwords live in [`sidecar::Secret`]s; `Debug` output never shows them.
//!
//! Facts are from RocketChat/Rocket.Chat: apps/meteor/app/api/server/ApiClass.ts (auth headers,
//! rate limiter, error shapes, login/logout), apps/meteor/app/api/server/v1/*.ts (endpoints),
//! packages/rest-typings/src/v1/** (request schemas).

// RcError is ~128 bytes; it is built once per failed network call, where size does not matter.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod error;
pub mod presence;
pub mod realtime;
pub mod refusal;
pub mod rules;
pub mod tls;
pub mod types;
pub mod url;

pub use client::{password_digest, Client, Login, Session};
pub use error::{Origin, RcError};
pub use presence::Presence;
pub use types::{IncomingWebhook, Integration, Room, RoomKind, Subscription, User};
pub use url::{normalize_base_url, normalize_base_url_as, waiting_for, webhook_info_url};
