//! A minimal MongoDB client protocol for the coquelicot sidecars, deliberately small: no driver,
//! no async runtime, no pool or monitor — one blocking connection at a time, every wait bound to
//! a [`sidecar::Deadline`].
//!
//! * [`bson`] — our own codec for the BSON types replies contain; hostile bytes give errors;
//! * [`msg`] — OP_MSG request/reply framing (kind 0/1 sections, checksum, moreToCome refused);
//! * [`conn`] — a connection and `command(db, doc)`, `{ok: 0}` mapped to a typed error;
//! * [`uri`] — `mongodb://` and `mongodb+srv://` connection strings;
//! * [`srv`] — `mongodb+srv://` seed lists from SRV and TXT records, over [`dns`], a small
//!   stub resolver (UDP, TCP on truncation, resolv.conf);
//! * [`tls`] — the tls* URI options and their rustls client config;
//! * [`scram`] — SCRAM-SHA-256 / SCRAM-SHA-1 (negotiated) and MONGODB-X509 authentication.

pub mod bson;
pub mod conn;
pub mod dns;
pub mod key;
pub mod msg;
pub mod scram;
pub mod srv;
#[cfg(test)]
mod testdns;
pub mod tls;
pub mod uri;

pub use bson::{Doc, Value};
pub use conn::{Connection, Error, ServerError};
pub use scram::Credential;
pub use uri::{HostPort, Uri};
