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

pub mod cli;
mod reconcile;
mod wait;

use mongo_rs::{client, Context, Plan};
use mongo_wire::{uri, Connection, Credential, Doc, HostPort, Uri};
use sidecar::report::{Report, Reporter};
use sidecar::retry::{retry, Backoff};
use sidecar::{duration, Deadline, Failure};
use std::time::Duration;

pub use cli::{main_with, Args};

pub const PROG: &str = "mongo-rs-init";

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
    let mut uri = uri::parse(&args.uri).map_err(Failure::usage)?;
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
        args.password.password_file.as_deref(),
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
    use clap::Parser;
    use sidecar::Exit;

    fn args(extra: &[&str]) -> Args {
        let mut v = vec![PROG];
        v.extend_from_slice(extra);
        Args::try_parse_from(v).unwrap()
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
