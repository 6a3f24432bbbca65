//! mongo-rs-init: an init container that makes a replica set usable, idempotently: this crate
//! is its command line ([`Args`], [`prepare`] into a typed [`InitConfig`]); the run itself is
//! [`mongo_rs::init::run`] (watch the members, initiate once, wait for a writable PRIMARY, and
//! with `--reconcile` one replSetReconfig per added/removed member, each committed first).
//!
//! Final problems (standalone mongod, member host that is not the node's own name, wrong set
//! name, bad credentials) fail fast with a one-line hint; transient ones retry to the deadline.

pub mod cli;

use mongo_rs::client;
pub use mongo_rs::init::{run, InitConfig};
use mongo_wire::HostPort;
use sidecar::Failure;

pub use cli::{main_with, Args};

pub const PROG: &str = "mongo-rs-init";

/// `Args` (and the password from the environment) into the typed config, before any network.
pub fn prepare(args: &Args) -> Result<InitConfig, Failure> {
    // mongodb+srv:// resolves its seed list here; the deadline starts with the run's.
    let mut uri =
        mongo_wire::srv::resolve(&args.uri, sidecar::Deadline::after(args.common.timeout))?;
    mongo_rs::client::tls_setup(&mut uri)?;
    let Some(set_name) = client::set_name(args.replica_set.as_deref(), &uri)? else {
        return Err(Failure::usage(
            "no replica-set name: give --replica-set NAME (MONGO_REPLICA_SET) or replicaSet=NAME in the URI",
        ));
    };
    let members = if args.members.is_empty() {
        uri.hosts.clone()
    } else {
        args.members
            .iter()
            .map(|m| {
                HostPort::parse(m.trim()).map_err(|e| Failure::usage(format!("--member: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let cap = uri.connect_timeout.unwrap_or(mongo_rs::init::DEFAULT_CAP);
    let mut p = InitConfig::new(set_name, members, None, cap)?;
    p.cred = args.login.credentials(&uri)?;
    p.reconcile = args.reconcile;
    p.wait_only = args.wait_only;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use sidecar::Exit;
    use std::time::Duration;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec![PROG];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn set_name_and_members_come_from_flags_or_uri() {
        let p = prepare(&args(&["--uri", "mongodb://a:1,b:2/?replicaSet=rs0"])).unwrap();
        assert_eq!(p.set_name, "rs0");
        assert_eq!(p.member_names(), vec!["a:1", "b:2"]);
        let p = prepare(&args(&[
            "--uri",
            "mongodb://a:1",
            "--replica-set",
            "rs1",
            "--member",
            "x:3",
            "--member",
            "Y",
        ]))
        .unwrap();
        assert_eq!(
            (p.set_name.as_str(), p.member_names()),
            ("rs1", vec!["x:3".to_string(), "y:27017".into()])
        );
        assert_eq!(p.cap, Duration::from_secs(10));
        assert!(!p.reconcile, "reconciliation is opt-in");
        let p = prepare(&args(&[
            "--uri",
            "mongodb://a:1/?replicaSet=rs0",
            "--reconcile",
        ]))
        .unwrap();
        assert!(p.reconcile);
    }

    #[test]
    fn usage_errors() {
        for (a, want) in [
            (vec!["--uri", "mongodb://a:1"], "no replica-set name"),
            (
                vec!["--uri", "mongodb://a:1/?replicaSet=x", "--replica-set", "y"],
                "conflicts",
            ),
            (
                vec!["--uri", "mongodb://a:1/?replicaSet=x", "--member", "a:0"],
                "--member",
            ),
            (
                vec![
                    "--uri",
                    "mongodb://a:1/?replicaSet=x",
                    "--member",
                    "a:1",
                    "--member",
                    "A:1",
                ],
                "twice",
            ),
            (
                vec!["--uri", "mongodb://a:1/?replicaSet=x", "--username", "u"],
                "no password",
            ),
            (
                vec![
                    "--uri",
                    "mongodb://u:s3cr3t@a:1/?replicaSet=x&ssl=true&tlsCertificateKeyFilePassword=s3cr3t",
                ],
                // Encrypted keys are supported now: a key password needs its key file.
                "given without tlsCertificateKeyFile",
            ),
        ] {
            let f = prepare(&args(&a)).unwrap_err();
            assert_eq!(f.exit, Exit::Usage, "{a:?}");
            assert!(f.message.contains(want), "{a:?}: {}", f.message);
            assert!(!f.message.contains("s3cr3t"));
        }
        let pw_file = std::env::temp_dir().join(format!("mongo-rs-init-pw-{}", std::process::id()));
        std::fs::write(&pw_file, "pw\n").unwrap();
        let p = prepare(&args(&[
            "--uri",
            "mongodb://a:1/?replicaSet=x",
            "--username",
            "u",
            "--password-file",
            pw_file.to_str().unwrap(),
        ]))
        .unwrap();
        std::fs::remove_file(&pw_file).unwrap();
        assert_eq!(p.cred.unwrap().source, "admin");
    }
}
