//! Command line of mongo-rs-init: the clap `Args` (every flag has an environment twin, flags
//! win), its long help, and the frame that turns them into a run ([`crate::prepare`] is the
//! conversion into the typed [`crate::InitConfig`]).

use crate::{prepare, run, PROG};
use clap::builder::BoolishValueParser;
use clap::Parser;
use sidecar::watchdog;
use std::ffi::OsString;

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
TLS (as the URI options tls, tlsCAFile, tlsCertificateKeyFile, tlsCertificateKeyFilePassword,
tlsAllowInvalidHostnames, tlsInsecure; the URI wins): MONGO_TLS, MONGO_TLS_CA_FILE,
MONGO_TLS_CERTIFICATE_KEY_FILE, MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD[_FILE],
MONGO_TLS_ALLOW_INVALID_HOSTNAMES, MONGO_TLS_INSECURE. mongodb+srv:// reads its DNS servers from
/etc/resolv.conf or the file MONGO_RESOLV_CONF names (nameserver [IP]:PORT for another port).
Credentials (in the URI, or --username plus a password file; SCRAM-SHA-256, authSource default
admin) are used for replSetInitiate and the reconcile commands; hello needs none. Passwords are never printed.
A password given on the command line (--password, or a password in the userinfo of --uri) works but prints one
warning line on stderr: the command line is visible in ps. Prefer MONGO_PASSWORD_FILE.";

sidecar::common_flags! {
    Shared for Args, prefix = "MONGO_RS_INIT", timeout = "120s",
    timeout_help = "Overall deadline (e.g. 90s, 2m)",
    json_help = "Print the result as one JSON object on stdout"
}

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

    #[command(flatten)]
    pub common: Shared,

    /// Make the set's members exactly the --member list (replSetReconfig, one member per step).
    #[arg(long, env = "MONGO_RS_INIT_RECONCILE", value_parser = BoolishValueParser::new())]
    pub reconcile: bool,

    /// Never initiate nor reconfigure: exit 0 as soon as any reachable member shows a writable
    /// PRIMARY (members down are fine). For the application's own init container.
    #[arg(long, env = "MONGO_RS_INIT_WAIT_ONLY", value_parser = BoolishValueParser::new(), conflicts_with = "reconcile")]
    pub wait_only: bool,

    #[command(flatten)]
    pub login: mongo_rs::flags::Login,
}

/// Parses `argv` and runs; returns the exit code.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(
        PROG,
        false,
        argv,
        |args: Args, deadline, reporter| match prepare(&args) {
            Ok(p) => {
                watchdog::waiting_for(format!("replica set {} to become writable", p.set_name));
                run(&p, deadline, reporter)
            }
            Err(f) => f.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent_and_help_teaches() {
        sidecar::cli::assert_help_mentions::<Args>(&[
            "Exit codes",
            "MONGO_RS_INIT_MEMBERS",
            "MONGO_PASSWORD_FILE",
            "compose service names",
            "MONGO_RS_INIT_RECONCILE",
            "step it down first",
            "MONGO_RS_INIT_WAIT_ONLY",
            "a REMOVED first member",
        ]);
    }
}
