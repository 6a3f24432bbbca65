//! The health verdict for one member: healthy only when it can take writes (or, if allowed,
//! serve as a SECONDARY). Everything else is one operator-worded line and an exit code:
//! 1 for states that pass by themselves or with mongo-rs-init, 3 for misconfiguration that
//! waiting cannot fix.

use crate::errors::{classify, Context};
use crate::state::{Hello, MemberState};
use mongo_wire::Error;
use sidecar::{duration, Failure};
use std::time::Duration;

/// A hello that got no answer: the `state` the report names (TIMEOUT, UNREACHABLE, ERROR) and
/// the failure, decided together from the error itself.
#[derive(Debug, PartialEq)]
pub struct NoAnswer {
    pub state: &'static str,
    pub failure: Failure,
}

/// Why `host` did not answer hello within `budget`.
pub fn no_answer(err: &Error, host: &str, budget: Duration) -> NoAnswer {
    let ctx = Context {
        host: host.to_string(),
        ..Context::default()
    };
    let (state, failure) = match err {
        Error::TimedOut { .. } => (
            "TIMEOUT",
            Failure::unavailable(format!(
                "timed out after {} waiting for {host} to answer hello (raise --timeout if the server is just slow)",
                duration::display(budget)
            )),
        ),
        Error::Refused { .. } | Error::Resolve { .. } | Error::Io { .. } => (
            "UNREACHABLE",
            Failure::unavailable(format!("unreachable: {}", classify(err, &ctx).message)),
        ),
        _ => ("ERROR", classify(err, &ctx)),
    };
    NoAnswer { state, failure }
}

pub fn verdict(
    host: &str,
    hello: &Hello,
    allow_secondary: bool,
    want_set: Option<&str>,
) -> Result<String, Failure> {
    let set = hello.set_name.as_deref().unwrap_or("");
    if let (Some(want), Some(found)) = (want_set, hello.set_name.as_deref()) {
        if want != found {
            return Err(Failure::refused(format!(
                "wrong set name: {host} belongs to replica set {found:?}, expected {want:?} (--replica-set / MONGO_REPLICA_SET)"
            )));
        }
    }
    let primary = hello
        .primary
        .as_deref()
        .map(|p| format!(" (primary: {p})"))
        .unwrap_or_else(|| " (no primary yet)".into());
    match &hello.state {
        MemberState::Primary { writable: true } => {
            Ok(format!("{host} is PRIMARY of {set}, writable"))
        }
        MemberState::Secondary if allow_secondary => {
            Ok(format!("{host} is SECONDARY of {set}{primary}"))
        }
        MemberState::Secondary => Err(Failure::unavailable(format!(
            "{host} is SECONDARY of {set}{primary}, not PRIMARY: pass --allow-secondary to accept secondaries"
        ))),
        MemberState::Primary { writable: false } => Err(Failure::unavailable(format!(
            "{host} is PRIMARY of {set} in drain mode: elected, not writable yet"
        ))),
        MemberState::NotInitiated => Err(Failure::unavailable(format!(
            "replica set not initiated yet at {host}: mongod runs with --replSet but has no config: run mongo-rs-init"
        ))),
        MemberState::Standalone => Err(Failure::refused(format!(
            "{host} is a standalone mongod: not started with --replSet, it will never be a replica-set PRIMARY"
        ))),
        MemberState::Mongos => Err(Failure::refused(format!(
            "{host} is a mongos router, not a replica-set member: probe the mongod itself"
        ))),
        MemberState::Arbiter => Err(Failure::refused(format!(
            "{host} is an ARBITER of {set}: it holds no data and is never PRIMARY: do not probe it for writes"
        ))),
        MemberState::Removed => Err(Failure::unavailable(removed_hint(host))),
        MemberState::Other(Some(s)) => Err(Failure::unavailable(format!(
            "{host} is {s} in {set}{primary}: not PRIMARY/SECONDARY yet"
        ))),
        MemberState::Other(None) => Err(Failure::unavailable(format!(
            "{host} is neither PRIMARY nor SECONDARY of {set}{primary} (STARTUP2, RECOVERING or ROLLBACK: give credentials to see which)"
        ))),
    }
}

/// Why a member can be REMOVED and what to do: it holds a config it is not in. Either a
/// reconfig dropped it, or it restarted with a `--replSet` other than the name its stored config
/// has (mongod keeps that config with no index for itself: warning 21406 in
/// replication_coordinator_impl.cpp `_finishLoadLocalConfig`); a replSetInitiate then answers
/// 23 "already initialized", so initiating cannot help.
pub fn removed_hint(host: &str) -> String {
    format!(
        "{host} is REMOVED: it holds a replica set config it is not a member of (removed by a reconfig, or restarted with a --replSet other than the set name stored in its data: mongod logs id 21406 \"set name differs from command line set name\"): start mongod with the --replSet its data was made with, add it back from the set's PRIMARY (mongo-rs-init --reconcile), or give it an empty data directory"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    fn h(state: MemberState, set: Option<&str>) -> Hello {
        Hello {
            state,
            set_name: set.map(str::to_string),
            hosts: vec![],
            primary: Some("db1:27017".into()),
            me: Some("db1:27017".into()),
        }
    }

    #[test]
    fn no_answer_names_its_state_and_words_it() {
        let budget = Duration::from_secs(2);
        let t = no_answer(&Error::TimedOut { host: "h:1".into() }, "h:1", budget);
        assert_eq!(t.state, "TIMEOUT");
        assert!(t.failure.message.contains("raise --timeout"), "{t:?}");
        let r = no_answer(&Error::Refused { host: "h:1".into() }, "h:1", budget);
        assert_eq!(r.state, "UNREACHABLE");
        assert!(r.failure.message.starts_with("unreachable: "), "{r:?}");
        let tls = Error::Protocol {
            host: "h:1".into(),
            detail: "x".into(),
        };
        let e = no_answer(&tls, "h:1", budget);
        assert_eq!((e.state, e.failure.exit), ("ERROR", Exit::Refused));
    }

    #[test]
    fn verdicts() {
        let p = h(MemberState::Primary { writable: true }, Some("rs0"));
        assert!(verdict("db1:27017", &p, false, None)
            .unwrap()
            .contains("writable"));
        assert!(verdict("db1:27017", &p, false, Some("rs0")).is_ok());
        let wrong = verdict("db1:27017", &p, false, Some("rsX")).unwrap_err();
        assert_eq!(wrong.exit, Exit::Refused);
        assert!(wrong.message.contains("wrong set name"));

        let s = h(MemberState::Secondary, Some("rs0"));
        assert!(verdict("x", &s, true, None).is_ok());
        let e = verdict("x", &s, false, None).unwrap_err();
        assert_eq!(e.exit, Exit::Unavailable);
        assert!(e.message.contains("--allow-secondary"));

        let cases = [
            (
                MemberState::Primary { writable: false },
                "drain mode",
                Exit::Unavailable,
            ),
            (
                MemberState::NotInitiated,
                "run mongo-rs-init",
                Exit::Unavailable,
            ),
            (
                MemberState::Standalone,
                "not started with --replSet",
                Exit::Refused,
            ),
            (MemberState::Arbiter, "ARBITER", Exit::Refused),
            (MemberState::Removed, "REMOVED", Exit::Unavailable),
            (MemberState::Mongos, "mongos", Exit::Refused),
            (
                MemberState::Other(Some("STARTUP2".into())),
                "STARTUP2",
                Exit::Unavailable,
            ),
            (
                MemberState::Other(None),
                "neither PRIMARY nor SECONDARY",
                Exit::Unavailable,
            ),
        ];
        for (state, words, exit) in cases {
            let f = verdict("x", &h(state.clone(), Some("rs0")), true, None).unwrap_err();
            assert!(f.message.contains(words), "{state:?}: {}", f.message);
            assert_eq!(f.exit, exit, "{state:?}");
        }
    }
}
