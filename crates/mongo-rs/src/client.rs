//! The few commands both binaries send, over one direct connection.

use crate::state::{self, Hello};
use mongo_wire::{Connection, Credential, Doc, Error, HostPort};
use sidecar::Deadline;
use std::time::Duration;

/// `hello` (MongoDB 4.4.2+), falling back to legacy `isMaster` on CommandNotFound (59) for
/// older servers. Needs no authentication (hello is allowed before auth).
pub fn hello(conn: &mut Connection) -> Result<Doc, Error> {
    match conn.command("admin", Doc::new().with("hello", 1)) {
        Err(e) if e.server_code() == Some(59) => {
            conn.command("admin", Doc::new().with("isMaster", 1))
        }
        other => other,
    }
}

/// Connects to `host` and asks hello; returns the open connection for follow-up commands.
pub fn connect_hello(
    host: &HostPort,
    deadline: Deadline,
    cap: Duration,
) -> Result<(Connection, Hello), Error> {
    let mut conn = Connection::connect(host, deadline, cap)?;
    let reply = hello(&mut conn)?;
    Ok((conn, state::interpret(&reply)))
}

/// replSetGetStatus, authenticating first when credentials are given.
pub fn status(conn: &mut Connection, cred: Option<&Credential>) -> Result<Doc, Error> {
    if let Some(cred) = cred {
        conn.authenticate(cred)?;
    }
    conn.command("admin", Doc::new().with("replSetGetStatus", 1))
}
