//! mongo-rs-init: an init container that makes a replica set usable, idempotently: this crate
//! is its command line ([`Args`], [`prepare`] into a typed [`InitConfig`]); the run itself is
//! [`mongo_rs::init::run`] (watch the members, initiate once, wait for a writable PRIMARY, and
//! with `--reconcile` one replSetReconfig per added/removed member, each committed first).
//!
//! Final problems (standalone mongod, member host that is not the node's own name, wrong set
//! name, bad credentials) fail fast with a one-line hint; transient ones retry to the deadline.

use clap::builder::BoolishValueParser;
use clap::Parser;

use mongo_rs::client;
pub use mongo_rs::init::{run, InitConfig};
use mongo_wire::{uri, HostPort};
use sidecar::{duration, watchdog, Failure};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const PROG: &str = "mongo-rs-init";

const LONG_ABOUT: &str = "\
Initiates a MongoDB replica set once and waits until it can take writes. Safe to run on every
start and from several containers at once: an initiated set is left alone, and when two runs
race, the server accepts exactly one replSetInitiate and both runs succeed.

Steps: watch every member (awaitable hello: a state change wakes us at once); if a member
answers as part of the set, it is initiated (members down are fine); if every member answers
and none has a config, send replSetInitiate to the FIRST member with all members; then wait
until a PRIMARY is writable.

With --wait-only (the application's init container): never initiate nor reconfigure; exit 0 as
soon as any reachable member shows a writable PRIMARY, exit 1 at the deadline. Progress lines go
to stderr; the result is one line (or one JSON object with --json).

With --reconcile (for a StatefulSet scaled from 3 to 5 members, or back), once a PRIMARY is
writable the set's members are made exactly the --member list: replSetReconfig on the PRIMARY
adds or removes ONE member at a time (MongoDB 4.4+ allows one voting member per reconfig),
keeping existing members' _id and settings, giving new members the next free _id, and waiting
until each new config is committed (and a new member is SECONDARY) before the next step. New
members must answer hello first. The PRIMARY itself is never removed: step it down first.
A rerun with the same list changes nothing. Without --reconcile a difference is only reported.

Member hosts must be the names mongod is reached by INSIDE the container network (e.g. the
compose service names mongo1:27017), not localhost or ports published on the docker host:
each mongod must recognise its own entry.

Examples:
  mongo-rs-init --uri mongodb://mongo1:27017,mongo2:27017,mongo3:27017 --replica-set rs0
  MONGO_URL=mongodb://mongo:27017/?replicaSet=rs0 mongo-rs-init
  mongo-rs-init --uri mongodb://mongo1:27017 --replica-set rs0 --member mongo1:27017 \\
      --member mongo2:27017 --username admin --password-file /run/secrets/mongo_root_password
  MONGO_RS_INIT_MEMBERS=db-0.db:27017,db-1.db:27017,db-2.db:27017 mongo-rs-init \\
      --uri mongodb://db-0.db:27017 --replica-set rs0 --reconcile

Exit codes:
  0  the set is initiated and has a writable PRIMARY
  1  members unreachable or no PRIMARY before --timeout (retrying later may succeed)
  2  usage: bad flag, URI, member, duration or password file
  3  refused for good: mongod without --replSet (76), member host not mapping to its node (93),
     member unreachable from the first member (74), set-name mismatch, wrong credentials (18),
     authentication required (13); a REMOVED first member (its stored config lacks it, e.g.
     restarted with another --replSet); more than 50 members; with --reconcile: new config
     rejected (103, 93; 74/104: it would drop or demote the PRIMARY), removing the current
     PRIMARY, an absurd config version

Limits (checked before sending): a set has at most 50 members and 7 voters; the 8th member
and later join with votes 0 and priority 0 (they replicate, never vote nor become PRIMARY).

Environment (flags win): MONGO_URL, MONGO_REPLICA_SET, MONGO_RS_INIT_MEMBERS (comma-separated),
MONGO_RS_INIT_TIMEOUT, MONGO_RS_INIT_JSON, MONGO_RS_INIT_RECONCILE, MONGO_RS_INIT_WAIT_ONLY, MONGO_USERNAME, MONGO_PASSWORD, MONGO_PASSWORD_FILE.
Credentials (in the URI, or --username plus a password file; SCRAM-SHA-256, authSource default
admin) are used for replSetInitiate and the reconcile commands; hello needs none. Passwords are never printed.";

#[derive(Parser, Debug)]
#[command(name = PROG, version, about = "Initiate a MongoDB replica set once, then wait for a writable PRIMARY.", long_about = LONG_ABOUT)]
pub struct Args {
    /// MongoDB URI (the same MONGO_URL Rocket.Chat reads); its hosts are the default members.
    #[arg(long, env = "MONGO_URL", hide_env_values = true)]
    pub uri: String,

    /// Replica-set name, as in mongod --replSet (default: the URI's replicaSet option).
    #[arg(long, env = "MONGO_REPLICA_SET")]
    pub replica_set: Option<String>,

    /// A member host:port, repeatable, in config order; the first receives replSetInitiate.
    #[arg(long = "member", env = "MONGO_RS_INIT_MEMBERS", value_delimiter = ',')]
    pub members: Vec<String>,

    /// Overall deadline (e.g. 90s, 2m).
    #[arg(long, env = "MONGO_RS_INIT_TIMEOUT", default_value = "120s", value_parser = duration::parse_timeout)]
    pub timeout: Duration,

    /// Print the result as one JSON object on stdout.
    #[arg(long, env = "MONGO_RS_INIT_JSON", value_parser = BoolishValueParser::new())]
    pub json: bool,

    /// Make the set's members exactly the --member list (replSetReconfig, one member per step).
    #[arg(long, env = "MONGO_RS_INIT_RECONCILE", value_parser = BoolishValueParser::new())]
    pub reconcile: bool,

    /// Never initiate nor reconfigure: exit 0 as soon as any reachable member shows a writable
    /// PRIMARY (members down are fine). For the application's own init container.
    #[arg(long, env = "MONGO_RS_INIT_WAIT_ONLY", value_parser = BoolishValueParser::new(), conflicts_with = "reconcile")]
    pub wait_only: bool,

    /// A cluster-admin user for replSetInitiate (or user:password in the URI).
    #[arg(long, env = "MONGO_USERNAME")]
    pub username: Option<String>,

    /// File holding that user's password (MONGO_PASSWORD gives the value; never on the command line).
    #[arg(long, env = "MONGO_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
}

/// `Args` (and the password from the environment) into the typed config, before any network.
pub fn prepare(args: &Args, env_password: Option<String>) -> Result<InitConfig, Failure> {
    let mut uri = uri::parse(&args.uri).map_err(Failure::usage)?;
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
    p.cred = client::credentials_from_flags(
        &uri,
        args.username.clone(),
        args.password_file.as_deref(),
        env_password,
    )?;
    p.reconcile = args.reconcile;
    p.wait_only = args.wait_only;
    Ok(p)
}

pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(
        PROG,
        false,
        argv,
        |args: Args, deadline, reporter| match prepare(&args, std::env::var("MONGO_PASSWORD").ok())
        {
            Ok(p) => {
                watchdog::waiting_for(format!("replica set {} to become writable", p.set_name));
                run(&p, deadline, reporter)
            }
            Err(f) => f.into(),
        },
    )
}

impl sidecar::cli::CommonArgs for Args {
    fn timeout(&self) -> Duration {
        self.timeout
    }
    fn json(&self) -> bool {
        self.json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use sidecar::Exit;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec![PROG];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
    }

    #[test]
    fn cli_is_consistent_and_help_teaches() {
        Args::command().debug_assert();
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "Exit codes",
            "MONGO_RS_INIT_MEMBERS",
            "MONGO_PASSWORD_FILE",
            "compose service names",
            "MONGO_RS_INIT_RECONCILE",
            "step it down first",
            "MONGO_RS_INIT_WAIT_ONLY",
            "a REMOVED first member",
        ] {
            assert!(help.contains(needle), "help lacks {needle}");
        }
    }

    #[test]
    fn set_name_and_members_come_from_flags_or_uri() {
        let p = prepare(&args(&["--uri", "mongodb://a:1,b:2/?replicaSet=rs0"]), None).unwrap();
        assert_eq!(p.set_name, "rs0");
        assert_eq!(p.member_names(), vec!["a:1", "b:2"]);
        let p = prepare(
            &args(&[
                "--uri",
                "mongodb://a:1",
                "--replica-set",
                "rs1",
                "--member",
                "x:3",
                "--member",
                "Y",
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            (p.set_name.as_str(), p.member_names()),
            ("rs1", vec!["x:3".to_string(), "y:27017".into()])
        );
        assert_eq!(p.cap, Duration::from_secs(10));
        assert!(!p.reconcile, "reconciliation is opt-in");
        let p = prepare(
            &args(&["--uri", "mongodb://a:1/?replicaSet=rs0", "--reconcile"]),
            None,
        )
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
                "encrypted private keys are not supported",
            ),
        ] {
            let f = prepare(&args(&a), None).unwrap_err();
            assert_eq!(f.exit, Exit::Usage, "{a:?}");
            assert!(f.message.contains(want), "{a:?}: {}", f.message);
            assert!(!f.message.contains("s3cr3t"));
        }
        let p = prepare(
            &args(&["--uri", "mongodb://a:1/?replicaSet=x", "--username", "u"]),
            Some("pw".into()),
        )
        .unwrap();
        assert_eq!(p.cred.unwrap().source, "admin");
    }
}
