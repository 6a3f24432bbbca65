//! What a `hello` reply says about a member, in operator terms.
//!
//! Fields per https://www.mongodb.com/docs/manual/reference/command/hello/ and mongod's
//! src/mongo/db/repl/hello_response.cpp / topology_coordinator.cpp (fillHelloForReplSet):
//! * standalone: no `setName`, no `isreplicaset`, `isWritablePrimary: true`;
//! * started with --replSet but no config (not initiated, or REMOVED): `isreplicaset: true`,
//!   no `setName`, "Does not have a valid replica set config";
//! * PRIMARY: `isWritablePrimary` is false while the new primary drains its oplog buffer
//!   ("drain mode"), then true; `primary` names itself meanwhile and `secondary` is TRUE
//!   (replication_coordinator_impl.cpp `_makeHelloResponse`, read at mongodb/mongo@d4d4a268);
//! * `arbiterOnly: true` for an arbiter; STARTUP2/RECOVERING/ROLLBACK show `setName` but neither
//!   `isWritablePrimary` nor `secondary` (replSetGetStatus' `myState` tells which).

use mongo_wire::{Doc, Error};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberState {
    /// Started with --replSet, never initiated (a "ghost" in mongod's words).
    NotInitiated,
    /// Not started with --replSet.
    Standalone,
    /// A mongos router, not a replica-set member at all.
    Mongos,
    Primary {
        writable: bool,
    },
    Secondary,
    Arbiter,
    /// Has a config but is not (yet) PRIMARY/SECONDARY: STARTUP2, RECOVERING, ROLLBACK… The
    /// name comes from replSetGetStatus when we could ask; `None` if we could not.
    Other(Option<String>),
    /// In no config any more (removed by a reconfig).
    Removed,
}

impl MemberState {
    /// The name used in `--json` output (`state`), mongod's stateStr where there is one.
    pub fn name(&self) -> String {
        match self {
            MemberState::NotInitiated => "NOT_INITIATED".into(),
            MemberState::Standalone => "STANDALONE".into(),
            MemberState::Mongos => "MONGOS".into(),
            MemberState::Primary { .. } => "PRIMARY".into(),
            MemberState::Secondary => "SECONDARY".into(),
            MemberState::Arbiter => "ARBITER".into(),
            MemberState::Other(Some(s)) => s.clone(),
            MemberState::Other(None) => "UNKNOWN".into(),
            MemberState::Removed => "REMOVED".into(),
        }
    }
}

/// The parts of a hello reply we act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub state: MemberState,
    pub set_name: Option<String>,
    /// The config's members as hello lists them: `hosts` (electable), then `passives`
    /// (priority 0, e.g. the non-voters beyond the 7th) and `arbiters` (fillHelloForReplSet).
    pub hosts: Vec<String>,
    pub primary: Option<String>,
    pub me: Option<String>,
}

pub fn interpret(reply: &Doc) -> Hello {
    let writable = reply
        .get_bool("isWritablePrimary")
        .or_else(|| reply.get_bool("ismaster"))
        .unwrap_or(false);
    // Every string a server sends that can reach a message is escaped and bounded here, at
    // the source, so a huge or control-laden setName cannot push the hint off the line.
    let text = |k: &str| reply.get_str(k).map(sidecar::text::server);
    let set_name = text("setName");
    let primary = text("primary");
    let me = text("me");
    let state = if set_name.is_some() {
        if writable {
            MemberState::Primary { writable: true }
        } else if primary.is_some() && primary == me {
            // Elected, still applying its oplog buffer (or stepping down): not accepting
            // writes. mongod then ALSO says `secondary: true` ("Report that we are secondary
            // and not accepting writes until drain completes", _makeHelloResponse), so this
            // check must come before the `secondary` flag.
            MemberState::Primary { writable: false }
        } else if reply.get_bool("secondary") == Some(true) {
            MemberState::Secondary
        } else if reply.get_bool("arbiterOnly") == Some(true) {
            MemberState::Arbiter
        } else {
            MemberState::Other(None)
        }
    } else if reply.get_bool("isreplicaset") == Some(true) {
        MemberState::NotInitiated
    } else if reply.get_str("msg") == Some("isdbgrid") {
        MemberState::Mongos
    } else {
        MemberState::Standalone
    };
    Hello {
        state,
        set_name,
        hosts: ["hosts", "passives", "arbiters"]
            .iter()
            .flat_map(|k| reply.get_strings(k))
            .map(|h| sidecar::text::server(&h))
            .collect(),
        primary,
        me,
    }
}

/// replSetGetStatus `myState` codes (src/mongo/db/repl/member_state.h).
pub fn state_str(code: i64) -> &'static str {
    match code {
        0 => "STARTUP",
        1 => "PRIMARY",
        2 => "SECONDARY",
        3 => "RECOVERING",
        5 => "STARTUP2",
        6 => "UNKNOWN",
        7 => "ARBITER",
        8 => "DOWN",
        9 => "ROLLBACK",
        10 => "REMOVED",
        _ => "UNKNOWN",
    }
}

/// Sharpens an ambiguous hello with what replSetGetStatus answered: a config-less node is
/// REMOVED when the status says "not a member" (93) rather than NotYetInitialized (94), and a
/// transitional member gets its real stateStr. Any other answer (e.g. 13 without credentials)
/// leaves the state as it was.
pub fn refine(state: MemberState, status: &Result<Doc, Error>) -> MemberState {
    match (&state, status) {
        (MemberState::NotInitiated, Err(e)) if e.server_code() == Some(93) => MemberState::Removed,
        (MemberState::NotInitiated, Ok(s)) if s.get_i64("myState") == Some(10) => {
            MemberState::Removed
        }
        (MemberState::Other(None), Ok(s)) => match s.get_i64("myState") {
            Some(code) => MemberState::Other(Some(state_str(code).into())),
            None => state,
        },
        _ => state,
    }
}

/// Whether replSetGetStatus could tell us more than hello did.
pub fn is_ambiguous(state: &MemberState) -> bool {
    matches!(state, MemberState::NotInitiated | MemberState::Other(None))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongo_wire::ServerError;

    fn base() -> Doc {
        Doc::new()
            .with("setName", "rs0")
            .with("hosts", vec!["a:1".into(), "b:2".into()])
            .with("me", "a:1")
    }

    #[test]
    fn huge_set_name_is_bounded_at_the_source_and_the_hint_stays() {
        let name = format!("{}\u{1b}[2J", "n".repeat(20_000));
        let reply = Doc::new()
            .with("isWritablePrimary", false)
            .with("secondary", true)
            .with("setName", name.as_str())
            .with("me", "a:1");
        let h = interpret(&reply);
        let got = h.set_name.clone().unwrap();
        assert!(
            got.chars().count() < 320 && !got.contains('\u{1b}'),
            "{}",
            got.len()
        );
        let f = crate::plan::plan(&[("a:1".into(), h.clone())], "rs0").unwrap_err();
        let line = sidecar::report::printable(&f.message);
        assert!(line.ends_with("or fix mongod's --replSet"), "{line}");
        let f = crate::probe::verdict("a:1", &h, false, Some("rs0")).unwrap_err();
        let line = sidecar::report::printable(&f.message);
        assert!(
            line.ends_with("(--replica-set / MONGO_REPLICA_SET)"),
            "{line}"
        );
    }

    #[test]
    fn every_state_from_hello() {
        let standalone = Doc::new().with("isWritablePrimary", true).with("ok", 1.0);
        assert_eq!(interpret(&standalone).state, MemberState::Standalone);
        let ghost = Doc::new()
            .with("isWritablePrimary", false)
            .with("secondary", false)
            .with("info", "Does not have a valid replica set config")
            .with("isreplicaset", true);
        assert_eq!(interpret(&ghost).state, MemberState::NotInitiated);
        let mongos = Doc::new()
            .with("isWritablePrimary", true)
            .with("msg", "isdbgrid");
        assert_eq!(interpret(&mongos).state, MemberState::Mongos);
        let primary = base()
            .with("isWritablePrimary", true)
            .with("primary", "a:1");
        let h = interpret(&primary);
        assert_eq!(h.state, MemberState::Primary { writable: true });
        assert_eq!(h.set_name.as_deref(), Some("rs0"));
        assert_eq!(h.hosts, vec!["a:1", "b:2"]);
        // Non-voters (priority 0) and arbiters are members too: hello lists them apart.
        let big = primary
            .clone()
            .with("passives", vec![mongo_wire::Value::String("c:3".into())])
            .with("arbiters", vec![mongo_wire::Value::String("d:4".into())]);
        assert_eq!(interpret(&big).hosts, vec!["a:1", "b:2", "c:3", "d:4"]);
        let legacy = base().with("ismaster", true);
        assert_eq!(
            interpret(&legacy).state,
            MemberState::Primary { writable: true }
        );
        // Drain mode as mongod sends it: secondary TRUE, primary == me.
        let drain = base()
            .with("isWritablePrimary", false)
            .with("secondary", true)
            .with("primary", "a:1");
        assert_eq!(
            interpret(&drain).state,
            MemberState::Primary { writable: false }
        );
        // Stepping down (waiting for the RSTL): isWritablePrimary false, secondary false.
        let stepping_down = base()
            .with("isWritablePrimary", false)
            .with("secondary", false)
            .with("primary", "a:1");
        assert_eq!(
            interpret(&stepping_down).state,
            MemberState::Primary { writable: false }
        );
        let secondary = base()
            .with("isWritablePrimary", false)
            .with("secondary", true)
            .with("primary", "b:2");
        assert_eq!(interpret(&secondary).state, MemberState::Secondary);
        let arbiter = base()
            .with("isWritablePrimary", false)
            .with("secondary", false)
            .with("arbiterOnly", true);
        assert_eq!(interpret(&arbiter).state, MemberState::Arbiter);
        let startup2 = base()
            .with("isWritablePrimary", false)
            .with("secondary", false)
            .with("primary", "b:2");
        assert_eq!(interpret(&startup2).state, MemberState::Other(None));
    }

    #[test]
    fn status_refines_ambiguous_states() {
        let e93 = Err(Error::Server(ServerError {
            code: 93,
            code_name: "InvalidReplicaSetConfig".into(),
            errmsg: "Our replica set config is invalid or we are not a member of it".into(),
        }));
        assert_eq!(
            refine(MemberState::NotInitiated, &e93),
            MemberState::Removed
        );
        let e94 = Err(Error::Server(ServerError {
            code: 94,
            code_name: "NotYetInitialized".into(),
            errmsg: "no replset config has been received".into(),
        }));
        assert_eq!(
            refine(MemberState::NotInitiated, &e94),
            MemberState::NotInitiated
        );
        let rec = Ok(Doc::new().with("myState", 3));
        assert_eq!(
            refine(MemberState::Other(None), &rec),
            MemberState::Other(Some("RECOVERING".into()))
        );
        assert_eq!(
            refine(MemberState::Secondary, &rec),
            MemberState::Secondary,
            "hello's clear answers are kept"
        );
        assert_eq!(
            MemberState::Other(Some("STARTUP2".into())).name(),
            "STARTUP2"
        );
        assert!(is_ambiguous(&MemberState::NotInitiated));
        assert!(!is_ambiguous(&MemberState::Primary { writable: false }));
    }
}
