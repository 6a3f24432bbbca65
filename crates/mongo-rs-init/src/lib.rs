//! mongo-rs-init: an init container that makes a replica set usable, idempotently:
//! 1. watch every member with awaitable hello (one deadline): a member that answers with the
//!    set's name means "already initiated" (members down are fine); only a decision to initiate
//!    waits for every member;
//! 2. initiate only if no member has a config (`replSetInitiate` on the first member); a
//!    concurrent initiator's win (23 AlreadyInitialized) counts as success;
//! 3. wait until some member is a writable PRIMARY (a new primary drains its oplog first);
//! 4. with `--reconcile` only: make the set's members the `--member` list, one replSetReconfig
//!    per added/removed member, each committed before the next (MongoDB 4.4+ "safe reconfig").
//!
//! Final problems (standalone mongod, member host that is not the node's own name, wrong set
//! name, bad credentials) fail fast with a one-line hint; transient ones retry to the deadline.

use clap::builder::BoolishValueParser;
use clap::Parser;
mod reconcile;
mod wait;

use mongo_rs::{client, Context, Plan};
use mongo_wire::{Connection, Credential, Doc, HostPort, Uri};
use sidecar::report::{Report, Reporter};
use sidecar::retry::{retry, Backoff};
use sidecar::{duration, watchdog, Deadline, Failure};
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

/// Everything a run needs, validated before any network access.
#[derive(Debug)]
pub struct InitConfig {
    pub uri: Uri,
    pub set_name: String,
    pub members: Vec<HostPort>,
    pub cred: Option<Credential>,
    /// Bound for one connect/hello attempt (connectTimeoutMS, default 10s).
    pub cap: Duration,
    /// `--reconcile`: add/remove members to match `members`.
    pub reconcile: bool,
    /// `--wait-only`: never initiate nor reconfigure; wait for a writable PRIMARY.
    pub wait_only: bool,
}

impl InitConfig {
    pub(crate) fn member_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.to_string()).collect()
    }

    pub(crate) fn context(&self, host: &str) -> Context {
        Context {
            host: host.to_string(),
            members: self.member_names(),
            set_name: Some(self.set_name.clone()),
            username: self.cred.as_ref().map(|c| c.username.clone()),
        }
    }
}

pub fn prepare(args: &Args, env_password: Option<String>) -> Result<InitConfig, Failure> {
    // mongodb+srv:// resolves its seed list here; the deadline starts with the run's.
    let mut uri = mongo_wire::srv::resolve(&args.uri, Deadline::after(args.timeout))?;
    mongo_rs::client::tls_setup(&mut uri)?;
    let set_name = match (&args.replica_set, &uri.replica_set) {
        (Some(flag), Some(opt)) if flag != opt => {
            return Err(Failure::usage(format!(
                "--replica-set {flag} conflicts with replicaSet={opt} in the URI: give one"
            )))
        }
        (Some(s), _) | (None, Some(s)) => s.clone(),
        (None, None) => {
            return Err(Failure::usage(
                "no replica-set name: give --replica-set NAME (MONGO_REPLICA_SET) or replicaSet=NAME in the URI",
            ))
        }
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
    mongo_rs::limits::check_member_count(members.len())?;
    for (i, m) in members.iter().enumerate() {
        if members[..i].contains(m) {
            return Err(Failure::usage(format!("member {m} is listed twice")));
        }
    }
    let cred = client::credentials_from_flags(
        &uri,
        args.username.clone(),
        args.password_file.as_deref(),
        env_password,
    )?;
    let cap = uri.connect_timeout.unwrap_or(Duration::from_secs(10));
    Ok(InitConfig {
        uri,
        set_name,
        members,
        cred,
        cap,
        reconcile: args.reconcile,
        wait_only: args.wait_only,
    })
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

pub fn run(p: &InitConfig, deadline: Deadline, reporter: Reporter) -> Report {
    let members = p.member_names();
    let with_fields = |r: Report| {
        r.with("setName", p.set_name.clone())
            .with("members", members.clone())
    };
    let mut watched = wait::Members::watch(p, deadline);
    if p.wait_only {
        return match wait::wait_for_primary(&mut watched, p, deadline, reporter) {
            Ok(primary) => with_fields(Report::ok(format!(
                "replica set {} ready: PRIMARY {primary} is writable (waited only) in {}",
                p.set_name,
                duration::display(deadline.elapsed())
            )))
            .with("primary", primary),
            Err(f) => with_fields(f.into()),
        };
    }
    let initiated = match wait::discover(&mut watched, p, deadline, reporter) {
        Err(f) => return with_fields(f.into()),
        Ok(Plan::AlreadyInitiated { host, hosts }) => {
            reporter.progress(format!(
                "{host} already belongs to replica set {}: not initiating",
                p.set_name
            ));
            if !p.reconcile {
                report_drift(p, &hosts, reporter);
            }
            false
        }
        Ok(Plan::Initiate) => match initiate(p, deadline, reporter) {
            Ok(ours) => ours,
            Err(f) => return with_fields(f.into()),
        },
    };
    let primary = match wait::wait_for_primary(&mut watched, p, deadline, reporter) {
        Ok(primary) => primary,
        Err(f) => return with_fields(f.into()).with("initiated", initiated),
    };
    let how = if initiated {
        "initiated"
    } else {
        "was already initiated"
    };
    if !p.reconcile {
        return with_fields(Report::ok(format!(
            "replica set {} ready: PRIMARY {primary} is writable; members {}; {how} in {}",
            p.set_name,
            members.join(","),
            duration::display(deadline.elapsed())
        )))
        .with("primary", primary)
        .with("initiated", initiated);
    }
    drop(watched);
    let (done, result) = reconcile::reconcile(p, &primary, deadline, reporter);
    let fields = |r: Report| {
        with_fields(r)
            .with("primary", primary.clone())
            .with("initiated", initiated)
            .with("added", done.added.clone())
            .with("removed", done.removed.clone())
            .with("version", done.version)
    };
    match result {
        Ok(()) => {
            let change = if done.added.is_empty() && done.removed.is_empty() {
                "members already match".to_string()
            } else {
                let list = |v: &[String]| {
                    if v.is_empty() {
                        "none".to_string()
                    } else {
                        v.join(",")
                    }
                };
                format!(
                    "reconciled: added {}, removed {}",
                    list(&done.added),
                    list(&done.removed)
                )
            };
            fields(Report::ok(format!(
                "replica set {} ready: PRIMARY {primary} is writable; members {}; {how}; {change} (config version {}) in {}",
                p.set_name,
                members.join(","),
                done.version,
                duration::display(deadline.elapsed())
            )))
        }
        Err(f) => fields(f.into()),
    }
}

pub(crate) fn announce(reporter: Reporter) -> impl FnMut(u32, &Failure, Duration) {
    move |n, f, pause| {
        reporter.progress(format!(
            "{f} (attempt {n}, next in {})",
            duration::display(pause)
        ))
    }
}

/// Step 2: replSetInitiate on the first member. Returns whether OUR command created the config
/// (false when a concurrent initiator won: 23 AlreadyInitialized).
fn initiate(p: &InitConfig, deadline: Deadline, reporter: Reporter) -> Result<bool, Failure> {
    let first = &p.members[0];
    let name = first.to_string();
    let config = mongo_rs::build_config(&p.set_name, &p.member_names());
    reporter.progress(format!(
        "initiating replica set {} on {name} with members {}",
        p.set_name,
        p.member_names().join(", ")
    ));
    retry(
        &deadline,
        Backoff::default(),
        |_| {
            let ctx = p.context(&name);
            let fail = |e: mongo_wire::Error| mongo_rs::classify(&e, &ctx);
            // replSetInitiate runs a quorum check against every member: give it more than a
            // plain connect (still bounded by the deadline).
            let mut conn = Connection::connect(first, deadline, p.cap.max(Duration::from_secs(30)))
                .map_err(fail)?;
            if let Some(cred) = &p.cred {
                conn.authenticate(cred).map_err(fail)?;
            }
            // hello cannot tell a never-initiated node from a REMOVED one (a stored config
            // without this node, e.g. another set name): replSetGetStatus can (94 vs 93). A
            // REMOVED node answers 23 to replSetInitiate, which we would take for a lost race
            // and wait for a PRIMARY that never comes: refuse before sending it.
            if let Err(e) = client::status(&mut conn, None) {
                if mongo_rs::state::refine(mongo_rs::MemberState::NotInitiated, &Err(e))
                    == mongo_rs::MemberState::Removed
                {
                    return Err(Failure::refused(format!(
                        "{}; not initiating",
                        mongo_rs::probe::removed_hint(&name)
                    )));
                }
            }
            let cmd = Doc::new().with("replSetInitiate", config.clone());
            match conn.command("admin", cmd) {
                Ok(_) => Ok(true),
                Err(e) if e.server_code() == Some(mongo_rs::errors::ALREADY_INITIALIZED) => {
                    reporter.progress(format!(
                        "{name} is already initialized (another mongo-rs-init won the race)"
                    ));
                    Ok(false)
                }
                Err(e) => Err(fail(e)),
            }
        },
        announce(reporter),
    )
}

/// Without --reconcile: one progress line when the running set's members differ from the
/// requested ones (from hello's `hosts`), and nothing changes.
fn report_drift(p: &InitConfig, configured: &[String], reporter: Reporter) {
    if configured.is_empty() {
        return;
    }
    let (extra, missing) = mongo_rs::plan::member_drift(configured, &p.member_names());
    if !extra.is_empty() || !missing.is_empty() {
        reporter.progress(format!(
            "note: the set's members differ from the requested ones (not in request: [{}]; not in set: [{}]); not changing them: rerun with --reconcile (MONGO_RS_INIT_RECONCILE=1) or use rs.reconfig()",
            extra.join(", "),
            missing.join(", ")
        ));
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
