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

/// The running config as replSetGetConfig gives it, and whether it is committed.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningConfig {
    pub doc: Doc,
    /// `commitmentStatus` (4.4+, primary only): whether the last reconfig is committed, i.e.
    /// a majority has it. `None` where the server does not say.
    pub committed: Option<bool>,
}

/// replSetGetConfig with commitmentStatus (the connection must be authenticated as needed).
pub fn get_config(conn: &mut Connection, host: &HostPort) -> Result<RunningConfig, Error> {
    let reply = conn.command(
        "admin",
        Doc::new()
            .with("replSetGetConfig", 1)
            .with("commitmentStatus", true),
    )?;
    match reply.get_doc("config") {
        Some(c) => Ok(RunningConfig {
            doc: c.clone(),
            committed: reply.get_bool("commitmentStatus"),
        }),
        None => Err(Error::Protocol {
            host: host.to_string(),
            detail: "replSetGetConfig reply has no config".into(),
        }),
    }
}

/// The replica-set name wanted: `--replica-set` (MONGO_REPLICA_SET) or the URI's replicaSet
/// option, which must agree when both are given. `None` when neither is.
pub fn set_name(
    flag: Option<&str>,
    uri: &mongo_wire::Uri,
) -> Result<Option<String>, sidecar::Failure> {
    match (flag, uri.replica_set.as_deref()) {
        (Some(flag), Some(opt)) if flag != opt => Err(sidecar::Failure::usage(format!(
            "--replica-set {flag} conflicts with replicaSet={opt} in the URI: give one"
        ))),
        (Some(s), _) | (None, Some(s)) => Ok(Some(s.to_string())),
        (None, None) => Ok(None),
    }
}

/// The run's TLS set-up, once, before the first connection: the URI's tls* options completed
/// from `MONGO_TLS_*`, checked, the one warning line when verification is weakened, and the
/// rustls config installed for every connection of this process. Bad options or unusable
/// files are usage errors (exit 2).
pub fn tls_setup(uri: &mut mongo_wire::Uri) -> Result<(), sidecar::Failure> {
    use sidecar::Failure;
    let tls = &mut uri.tls;
    tls.apply_env(|v| std::env::var(v).ok())
        .map_err(Failure::usage)?;
    tls.check().map_err(Failure::usage)?;
    if let Some(w) = tls.warning() {
        eprintln!("{w}");
    }
    let config = tls.client_config().map_err(Failure::usage)?;
    mongo_wire::tls::install(config);
    Ok(())
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
    if uri.auth_mechanism == Some(mongo_wire::uri::Mechanism::X509) {
        // The client certificate is the credential; a password would be a mistake.
        if password.is_some() || uri.password.is_some() {
            return Err(Failure::usage(
                "authMechanism=MONGODB-X509 takes no password: the client certificate (tlsCertificateKeyFile) is the credential",
            ));
        }
        if uri.tls.cert_key_file.is_none() {
            return Err(Failure::usage(
                "authMechanism=MONGODB-X509 needs a client certificate: set tlsCertificateKeyFile (MONGO_TLS_CERTIFICATE_KEY_FILE)",
            ));
        }
        return Ok(Some(Credential {
            username: username
                .or_else(|| uri.username.clone())
                .unwrap_or_default(),
            password: sidecar::Secret::new(""),
            source: "$external".into(),
            mechanism: uri.auth_mechanism,
        }));
    }
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
            mechanism: uri.auth_mechanism,
        })),
        (Some(u), None) => Err(Failure::usage(format!(
            "user {u:?} has no password: set MONGO_PASSWORD_FILE (or --password-file, MONGO_PASSWORD)"
        ))),
        (None, Some(_)) => Err(Failure::usage(
            "a password without a user name: set --username (MONGO_USERNAME)",
        )),
    }
}

/// [`credentials`] as both binaries take them: `--username`, the password from `MONGO_PASSWORD`
/// (`env_password`; empty counts as unset) or `--password-file`, else the URI's own.
pub fn credentials_from_flags(
    uri: &mongo_wire::Uri,
    username: Option<String>,
    password_file: Option<&std::path::Path>,
    env_password: Option<String>,
) -> Result<Option<Credential>, sidecar::Failure> {
    let password = sidecar::secret::resolve(
        env_password.filter(|v| !v.is_empty()),
        password_file,
        "MONGO_PASSWORD / --password-file",
    )?;
    credentials(uri, username, password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Secret;

    #[test]
    fn flags_take_the_password_from_env_or_file_never_both() {
        let plain = mongo_wire::uri::parse("mongodb://h/").unwrap();
        let c = credentials_from_flags(&plain, Some("root".into()), None, Some("pw".into()))
            .unwrap()
            .unwrap();
        assert_eq!((c.username.as_str(), c.password.expose()), ("root", "pw"));
        // An empty MONGO_PASSWORD (compose's `MONGO_PASSWORD=`) counts as unset.
        let f = credentials_from_flags(&plain, Some("root".into()), None, Some(String::new()));
        assert!(f.unwrap_err().message.contains("has no password"));
        let file = std::env::temp_dir().join(format!("mongo-rs-cred-{}", std::process::id()));
        std::fs::write(&file, "from-file\n").unwrap();
        let c = credentials_from_flags(&plain, Some("root".into()), Some(&file), None)
            .unwrap()
            .unwrap();
        assert_eq!(c.password.expose(), "from-file");
        let both =
            credentials_from_flags(&plain, Some("root".into()), Some(&file), Some("pw".into()));
        assert!(both.unwrap_err().message.contains("not both"));
        std::fs::remove_file(&file).unwrap();
        assert!(credentials_from_flags(&plain, None, None, None)
            .unwrap()
            .is_none());
    }

    #[test]
    fn the_set_name_comes_from_the_flag_or_the_uri_and_both_must_agree() {
        let with = mongo_wire::uri::parse("mongodb://h/?replicaSet=rs0").unwrap();
        let without = mongo_wire::uri::parse("mongodb://h/").unwrap();
        assert_eq!(set_name(None, &with).unwrap().as_deref(), Some("rs0"));
        assert_eq!(
            set_name(Some("rs0"), &with).unwrap().as_deref(),
            Some("rs0")
        );
        assert_eq!(set_name(Some("x"), &without).unwrap().as_deref(), Some("x"));
        assert_eq!(set_name(None, &without).unwrap(), None);
        let f = set_name(Some("rs1"), &with).unwrap_err();
        assert_eq!(f.exit, sidecar::Exit::Usage);
        assert!(f.message.contains("conflicts"), "{}", f.message);
    }

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
