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

/// The credentials to use: from the URI (`user:password@`) or from `--username` plus a password
/// (`MONGO_PASSWORD` / `--password-file`), never half of each. `None`: no authentication.
pub fn credentials(
    uri: &mongo_wire::Uri,
    username: Option<String>,
    password: Option<sidecar::Secret>,
) -> Result<Option<Credential>, sidecar::Failure> {
    use sidecar::Failure;
    let from_flags = username.is_some() || password.is_some();
    if uri.username.is_some() && from_flags {
        return Err(Failure::usage(
            "credentials given twice: use user:password in the URI or --username with a password file, not both",
        ));
    }
    let (user, pass) = if from_flags {
        (username, password)
    } else {
        (uri.username.clone(), uri.password.clone())
    };
    match (user, pass) {
        (None, None) => Ok(None),
        (Some(u), Some(p)) => Ok(Some(Credential {
            username: u,
            password: p,
            source: uri.auth_db().to_string(),
        })),
        (Some(u), None) => Err(Failure::usage(format!(
            "user {u:?} has no password: set MONGO_PASSWORD_FILE (or --password-file, MONGO_PASSWORD)"
        ))),
        (None, Some(_)) => Err(Failure::usage(
            "a password without a user name: set --username (MONGO_USERNAME)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Secret;

    #[test]
    fn credentials_from_uri_or_flags_not_both() {
        let with = mongo_wire::uri::parse("mongodb://u:p@h/?authSource=other").unwrap();
        let without = mongo_wire::uri::parse("mongodb://h/app").unwrap();
        let c = credentials(&with, None, None).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.source.as_str()), ("u", "other"));
        let c = credentials(&without, Some("ops".into()), Some(Secret::new("x")))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.source.as_str()), ("ops", "app"));
        assert_eq!(
            credentials(&without, None, None)
                .unwrap()
                .map(|c| c.username),
            None
        );
        assert!(credentials(&with, Some("ops".into()), None).is_err());
        assert!(credentials(&without, Some("ops".into()), None).is_err());
        assert!(credentials(&without, None, Some(Secret::new("x"))).is_err());
    }
}
