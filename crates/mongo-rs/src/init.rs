//! The run of mongo-rs-init (and of each change mongo-rs-follow makes), from a typed
//! [`InitConfig`]:
//! 1. watch every member with awaitable hello (one deadline): a member that answers with the
//!    set's name means "already initiated" (members down are fine); only a decision to initiate
//!    waits for every member ([`crate::wait`]);
//! 2. initiate only if no member has a config (`replSetInitiate` on the first member); a
//!    concurrent initiator's win (23 AlreadyInitialized) counts as success;
//! 3. wait until some member is a writable PRIMARY (a new primary drains its oplog first);
//! 4. with `reconcile` only: make the set's members the wanted list, one replSetReconfig per
//!    added/removed member, each committed before the next ([`crate::reconcile`]).

use crate::errors::{classify, Context, ALREADY_INITIALIZED};
use crate::{client, progress, reconcile, wait, MemberState, Plan};
use mongo_wire::{Connection, Credential, Doc, HostPort};
use sidecar::report::{Report, Reporter};
use sidecar::retry::{retry, Backoff};
use sidecar::{duration, Deadline, Failure};
use std::time::Duration;

/// The bound for one connect/hello attempt when the URI has no connectTimeoutMS (the drivers'
/// default).
pub const DEFAULT_CAP: Duration = Duration::from_secs(10);

/// Everything a run needs, validated before any network access.
#[derive(Debug)]
pub struct InitConfig {
    pub set_name: String,
    /// The wanted members, in config order; the first receives replSetInitiate.
    pub members: Vec<HostPort>,
    pub cred: Option<Credential>,
    /// Bound for one connect/hello attempt (connectTimeoutMS, default 10s).
    pub cap: Duration,
    /// Add/remove members to match `members` (`--reconcile`).
    pub reconcile: bool,
    /// Never initiate nor reconfigure; wait for a writable PRIMARY (`--wait-only`).
    pub wait_only: bool,
}

impl InitConfig {
    /// The member list checked the way mongod would refuse it: at most 50, none twice.
    pub fn new(
        set_name: String,
        members: Vec<HostPort>,
        cred: Option<Credential>,
        cap: Duration,
    ) -> Result<InitConfig, Failure> {
        crate::limits::check_member_count(members.len())?;
        for (i, m) in members.iter().enumerate() {
            if members[..i].contains(m) {
                return Err(Failure::usage(format!("member {m} is listed twice")));
            }
        }
        Ok(InitConfig {
            set_name,
            members,
            cred,
            cap,
            reconcile: false,
            wait_only: false,
        })
    }

    pub fn member_names(&self) -> Vec<String> {
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

    /// A connection to `host`, authenticated when credentials are given. replSetInitiate and
    /// replSetReconfig run a quorum check (and a reconfig waits for propagation): more than a
    /// plain connect's cap, still bounded by the deadline.
    pub(crate) fn admin_conn(
        &self,
        host: &HostPort,
        deadline: Deadline,
        fail: &dyn Fn(mongo_wire::Error) -> Failure,
    ) -> Result<Connection, Failure> {
        let mut conn = Connection::connect(host, deadline, self.cap.max(Duration::from_secs(30)))
            .map_err(fail)?;
        if let Some(cred) = &self.cred {
            conn.authenticate(cred).map_err(fail)?;
        }
        Ok(conn)
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
            .with("primary", primary.to_string()),
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
        .with("primary", primary.to_string())
        .with("initiated", initiated);
    }
    drop(watched);
    let (done, result) = reconcile::reconcile(p, &primary, deadline, reporter);
    let fields = |r: Report| {
        with_fields(r)
            .with("primary", primary.to_string())
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

/// Step 2: replSetInitiate on the first member. Returns whether OUR command created the config
/// (false when a concurrent initiator won: 23 AlreadyInitialized).
fn initiate(p: &InitConfig, deadline: Deadline, reporter: Reporter) -> Result<bool, Failure> {
    let first = &p.members[0];
    let name = first.to_string();
    let config = crate::build_config(&p.set_name, &p.member_names());
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
            let fail = |e: mongo_wire::Error| classify(&e, &ctx);
            let mut conn = p.admin_conn(first, deadline, &fail)?;
            // hello cannot tell a never-initiated node from a REMOVED one (a stored config
            // without this node, e.g. another set name): replSetGetStatus can (94 vs 93). A
            // REMOVED node answers 23 to replSetInitiate, which we would take for a lost race
            // and wait for a PRIMARY that never comes: refuse before sending it.
            if let Err(e) = client::status(&mut conn, None) {
                if crate::state::refine(MemberState::NotInitiated, &Err(e)) == MemberState::Removed
                {
                    return Err(Failure::refused(format!(
                        "{}; not initiating",
                        crate::probe::removed_hint(&name)
                    )));
                }
            }
            let cmd = Doc::new().with("replSetInitiate", config.clone());
            match conn.command("admin", cmd) {
                Ok(_) => Ok(true),
                Err(e) if e.server_code() == Some(ALREADY_INITIALIZED) => {
                    reporter.progress(format!(
                        "{name} is already initialized (another mongo-rs-init won the race)"
                    ));
                    Ok(false)
                }
                Err(e) => Err(fail(e)),
            }
        },
        progress::announce(reporter),
    )
}

/// Without `reconcile`: one progress line when the running set's members differ from the
/// requested ones (from hello's `hosts`), and nothing changes.
fn report_drift(p: &InitConfig, configured: &[String], reporter: Reporter) {
    if configured.is_empty() {
        return;
    }
    let (missing, extra) = crate::reconfig::diff(configured, &p.member_names());
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
    use sidecar::Exit;

    fn hp(s: &str) -> HostPort {
        HostPort::parse(s).unwrap()
    }

    #[test]
    fn member_lists_mongod_would_refuse_are_refused_first() {
        let cap = Duration::from_secs(1);
        let twice = InitConfig::new("rs0".into(), vec![hp("a:1"), hp("A:1")], None, cap);
        let f = twice.unwrap_err();
        assert_eq!(f.exit, Exit::Usage);
        assert!(f.message.contains("twice"), "{}", f.message);
        let many: Vec<HostPort> = (0..51).map(|i| hp(&format!("m{i}:1"))).collect();
        let f = InitConfig::new("rs0".into(), many, None, cap).unwrap_err();
        assert_eq!(f.exit, Exit::Refused);
        let p = InitConfig::new("rs0".into(), vec![hp("a:1"), hp("b")], None, cap).unwrap();
        assert_eq!(p.member_names(), ["a:1", "b:27017"]);
        assert!(!p.reconcile && !p.wait_only, "both are opt-in");
    }
}
