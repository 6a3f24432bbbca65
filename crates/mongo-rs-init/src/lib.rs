//! mongo-rs-init: an init container that makes a replica set usable, idempotently:
//! 1. wait until every member answers `hello` (retry with jittered backoff, one deadline);
//! 2. initiate only if no member has a config (`replSetInitiate` on the first member); a
//!    concurrent initiator's win (23 AlreadyInitialized) counts as success;
//! 3. wait until some member is a writable PRIMARY (a new primary drains its oplog first).
//!
//! Final problems (standalone mongod, member host that is not the node's own name, wrong set
//! name, bad credentials) fail fast with a one-line hint; transient ones retry to the deadline.

use clap::builder::BoolishValueParser;
use clap::Parser;
use mongo_rs::{client, plan, Context, Hello, MemberState, Plan};
use mongo_wire::{uri, Connection, Credential, Doc, HostPort, Uri};
use sidecar::report::{Report, Reporter};
use sidecar::retry::{retry, Backoff};
use sidecar::{duration, secret, watchdog, Deadline, Failure};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const PROG: &str = "mongo-rs-init";

const LONG_ABOUT: &str = "\
Initiates a MongoDB replica set once and waits until it can take writes. Safe to run on every
start and from several containers at once: an initiated set is left alone, and when two runs
race, the server accepts exactly one replSetInitiate and both runs succeed.

Steps: wait until every member answers hello; if no member has a config, send replSetInitiate
to the FIRST member with all members; then wait until a PRIMARY is writable. Progress lines go
to stderr; the result is one line (or one JSON object with --json).

Member hosts must be the names mongod is reached by INSIDE the container network (e.g. the
compose service names mongo1:27017), not localhost or ports published on the docker host:
each mongod must recognise its own entry.

Examples:
  mongo-rs-init --uri mongodb://mongo1:27017,mongo2:27017,mongo3:27017 --replica-set rs0
  MONGO_URL=mongodb://mongo:27017/?replicaSet=rs0 mongo-rs-init
  mongo-rs-init --uri mongodb://mongo1:27017 --replica-set rs0 --member mongo1:27017 \\
      --member mongo2:27017 --username admin --password-file /run/secrets/mongo_root_password

Exit codes:
  0  the set is initiated and has a writable PRIMARY
  1  members unreachable or no PRIMARY before --timeout (retrying later may succeed)
  2  usage: bad flag, URI, member, duration or password file
  3  refused for good: mongod without --replSet (76), member host not mapping to its node (93),
     member unreachable from the first member (74), set-name mismatch, wrong credentials (18),
     authentication required (13)

Environment (flags win): MONGO_URL, MONGO_REPLICA_SET, MONGO_RS_INIT_MEMBERS (comma-separated),
MONGO_RS_INIT_TIMEOUT, MONGO_RS_INIT_JSON, MONGO_USERNAME, MONGO_PASSWORD, MONGO_PASSWORD_FILE.
Credentials (in the URI, or --username plus a password file; SCRAM-SHA-256, authSource default
admin) are used for replSetInitiate only; hello needs none. Passwords are never printed.";

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
}

impl InitConfig {
    fn member_names(&self) -> Vec<String> {
        self.members.iter().map(|m| m.to_string()).collect()
    }

    fn context(&self, host: &str) -> Context {
        Context {
            host: host.to_string(),
            members: self.member_names(),
            set_name: Some(self.set_name.clone()),
            username: self.cred.as_ref().map(|c| c.username.clone()),
        }
    }
}

pub fn prepare(args: &Args, env_password: Option<String>) -> Result<InitConfig, Failure> {
    let uri = uri::parse(&args.uri).map_err(Failure::usage)?;
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
    for (i, m) in members.iter().enumerate() {
        if members[..i].contains(m) {
            return Err(Failure::usage(format!("member {m} is listed twice")));
        }
    }
    let password = secret::resolve(
        env_password.filter(|v| !v.is_empty()),
        args.password_file.as_deref(),
        "MONGO_PASSWORD / --password-file",
    )?;
    let cred = client::credentials(&uri, args.username.clone(), password)?;
    let cap = uri.connect_timeout.unwrap_or(Duration::from_secs(10));
    Ok(InitConfig {
        uri,
        set_name,
        members,
        cred,
        cap,
    })
}

pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    let args: Args = match sidecar::cli::parse(PROG, argv) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let reporter = Reporter {
        prog: PROG,
        json: args.json,
        quiet: false,
    };
    let deadline = Deadline::after(args.timeout);
    let report = match prepare(&args, std::env::var("MONGO_PASSWORD").ok()) {
        Ok(p) => {
            watchdog::arm(
                deadline,
                reporter,
                format!("replica set {} to become writable", p.set_name),
            );
            run(&p, deadline, reporter)
        }
        Err(f) => f.into(),
    };
    reporter.finish(&report, deadline.elapsed())
}

pub fn run(p: &InitConfig, deadline: Deadline, reporter: Reporter) -> Report {
    let members = p.member_names();
    let with_fields = |r: Report| {
        r.with("setName", p.set_name.clone())
            .with("members", members.clone())
    };
    let hellos = match wait_for_members(p, deadline, reporter) {
        Ok(h) => h,
        Err(f) => return with_fields(f.into()),
    };
    let initiated = match plan(&hellos, &p.set_name) {
        Err(f) => return with_fields(f.into()),
        Ok(Plan::AlreadyInitiated { host, hosts }) => {
            reporter.progress(format!(
                "{host} already belongs to replica set {}: not initiating",
                p.set_name
            ));
            reconcile(p, &hosts, reporter);
            false
        }
        Ok(Plan::Initiate) => match initiate(p, deadline, reporter) {
            Ok(ours) => ours,
            Err(f) => return with_fields(f.into()),
        },
    };
    match wait_for_primary(p, deadline, reporter) {
        Ok(primary) => with_fields(Report::ok(format!(
            "replica set {} ready: PRIMARY {primary} is writable; members {}; {} in {}",
            p.set_name,
            members.join(","),
            if initiated {
                "initiated"
            } else {
                "was already initiated"
            },
            duration::display(deadline.elapsed())
        )))
        .with("primary", primary)
        .with("initiated", initiated),
        Err(f) => with_fields(f.into()).with("initiated", initiated),
    }
}

fn announce(reporter: Reporter) -> impl FnMut(u32, &Failure, Duration) {
    move |n, f, pause| {
        reporter.progress(format!(
            "{f} (attempt {n}, next in {})",
            duration::display(pause)
        ))
    }
}

/// Step 1: every member must answer hello before we decide anything.
fn wait_for_members(
    p: &InitConfig,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<Vec<(String, Hello)>, Failure> {
    reporter.progress(format!(
        "waiting for {} to answer (deadline {})",
        p.member_names().join(", "),
        duration::display(deadline.budget())
    ));
    retry(
        &deadline,
        Backoff::default(),
        |_| {
            p.members
                .iter()
                .map(|m| {
                    let name = m.to_string();
                    client::connect_hello(m, deadline, p.cap)
                        .map(|(_, h)| (name.clone(), h))
                        .map_err(|e| mongo_rs::classify(&e, &p.context(&name)))
                })
                .collect()
        },
        announce(reporter),
    )
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

/// Extension point for member reconciliation (replSetReconfig to add/remove hosts): today it
/// only reports when the running set's members differ from the requested ones.
fn reconcile(p: &InitConfig, configured: &[String], reporter: Reporter) {
    if configured.is_empty() {
        return;
    }
    let (extra, missing) = mongo_rs::plan::member_drift(configured, &p.member_names());
    if !extra.is_empty() || !missing.is_empty() {
        reporter.progress(format!(
            "note: the set's members differ from the requested ones (not in request: [{}]; not in set: [{}]); changing members is not automated yet: use rs.reconfig()",
            extra.join(", "),
            missing.join(", ")
        ));
    }
}

/// Step 3: some member must report isWritablePrimary (drain mode is not enough).
fn wait_for_primary(
    p: &InitConfig,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<String, Failure> {
    reporter.progress("waiting for a writable PRIMARY");
    let quick = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    retry(
        &deadline,
        quick,
        |_| {
            let mut seen = Vec::new();
            for m in &p.members {
                let name = m.to_string();
                match client::connect_hello(m, deadline, p.cap) {
                    Ok((_, h)) => {
                        if let Some(found) = h.set_name.as_deref().filter(|s| *s != p.set_name) {
                            return Err(Failure::refused(format!(
                                "set-name mismatch: {name} belongs to replica set {found:?}, not {:?}",
                                p.set_name
                            )));
                        }
                        if h.state == (MemberState::Primary { writable: true }) {
                            return Ok(name);
                        }
                        let label = match h.state {
                            MemberState::Primary { writable: false } => {
                                "PRIMARY in drain mode".to_string()
                            }
                            MemberState::Other(None) => "STARTUP2 or RECOVERING".to_string(),
                            ref s => s.name(),
                        };
                        seen.push(format!("{name} {label}"));
                    }
                    Err(e) => seen.push(format!("{name} unreachable ({e})")),
                }
            }
            Err(Failure::unavailable(format!(
                "no writable PRIMARY yet: {}",
                seen.join(", ")
            )))
        },
        announce(reporter),
    )
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
                vec!["--uri", "mongodb://u:s3cr3t@a:1/?replicaSet=x&ssl=true"],
                "TLS",
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
