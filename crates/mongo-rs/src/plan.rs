//! The init plan: what replSetInitiate should do given what every member's hello said, and the
//! config it proposes. Only `version: 1` configs are built here: initiate never reconfigures.

use crate::state::{Hello, MemberState};
use mongo_wire::{Doc, Value};
use sidecar::Failure;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// No member has a config: send replSetInitiate to the first member.
    Initiate,
    /// Some member already belongs to the wanted set: nothing to initiate. (Member
    /// reconciliation — adding/removing hosts with replSetReconfig — would start from here.)
    AlreadyInitiated { host: String, hosts: Vec<String> },
}

/// Decides from `(member, hello)` pairs. Final failures: a standalone mongod or a mongos among
/// the members, or a member that already belongs to a different set.
pub fn plan(members: &[(String, Hello)], set_name: &str) -> Result<Plan, Failure> {
    for (host, hello) in members {
        match &hello.state {
            MemberState::Standalone => {
                return Err(Failure::refused(format!(
                    "mongod at {host} was not started with --replSet: add `--replSet {set_name}` to its command line"
                )))
            }
            MemberState::Mongos => {
                return Err(Failure::refused(format!(
                    "{host} is a mongos router, not a replica-set member: list the mongod hosts"
                )))
            }
            _ => {}
        }
        if let Some(found) = &hello.set_name {
            if found != set_name {
                return Err(Failure::refused(format!(
                    "set-name mismatch: {host} already belongs to replica set {found:?}, not {set_name:?}: use --replica-set {found} or fix mongod's --replSet"
                )));
            }
        }
    }
    if let Some((host, hello)) = members.iter().find(|(_, h)| h.set_name.is_some()) {
        return Ok(Plan::AlreadyInitiated {
            host: host.clone(),
            hosts: hello.hosts.clone(),
        });
    }
    Ok(Plan::Initiate)
}

/// `{_id: NAME, version: 1, members: [{_id: 0, host}, …]}` — mongod fills the defaults
/// (priority 1, votes 1; https://www.mongodb.com/docs/manual/reference/replica-configuration/).
pub fn build_config(set_name: &str, members: &[String]) -> Doc {
    let members = members
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let mut m = Doc::new().with("_id", i as i32).with("host", host.as_str());
            // Beyond the 7th voter, members join without a vote (crate::limits).
            if crate::limits::joins_without_vote(i) {
                m = m.with("votes", 0).with("priority", 0);
            }
            Value::Document(m)
        })
        .collect::<Vec<_>>();
    Doc::new()
        .with("_id", set_name)
        .with("version", 1)
        .with("members", members)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    fn hello(state: MemberState, set: Option<&str>) -> Hello {
        Hello {
            state,
            set_name: set.map(str::to_string),
            hosts: vec!["a:1".into()],
            primary: None,
            me: None,
        }
    }

    #[test]
    fn plans() {
        let ghost = || hello(MemberState::NotInitiated, None);
        assert_eq!(
            plan(&[("a:1".into(), ghost()), ("b:1".into(), ghost())], "rs0"),
            Ok(Plan::Initiate)
        );
        let done = plan(
            &[
                ("a:1".into(), ghost()),
                ("b:1".into(), hello(MemberState::Secondary, Some("rs0"))),
            ],
            "rs0",
        )
        .unwrap();
        assert_eq!(
            done,
            Plan::AlreadyInitiated {
                host: "b:1".into(),
                hosts: vec!["a:1".into()]
            }
        );
        let other = plan(
            &[("a:1".into(), hello(MemberState::Secondary, Some("rs1")))],
            "rs0",
        )
        .unwrap_err();
        assert_eq!(other.exit, Exit::Refused);
        assert!(other.message.contains("\"rs1\""), "{}", other.message);
        let standalone = plan(
            &[("a:1".into(), hello(MemberState::Standalone, None))],
            "rs0",
        )
        .unwrap_err();
        assert!(standalone.message.contains("--replSet rs0"));
        assert!(plan(&[("a:1".into(), hello(MemberState::Mongos, None))], "rs0").is_err());
    }

    #[test]
    fn config_shape() {
        let c = build_config("rs0", &["a:1".into(), "b:2".into()]);
        assert_eq!(c.0[0].0, "_id");
        assert_eq!(c.get_str("_id"), Some("rs0"));
        assert_eq!(c.get_i64("version"), Some(1));
        let m = c.get_array("members").unwrap();
        assert_eq!(
            m[1],
            Value::Document(Doc::new().with("_id", 1).with("host", "b:2"))
        );
    }

    #[test]
    fn members_beyond_the_seventh_join_without_a_vote() {
        let hosts: Vec<String> = (0..9).map(|i| format!("m{i}:27017")).collect();
        let c = build_config("rs0", &hosts);
        let m = c.get_array("members").unwrap();
        let votes = |i: usize| match &m[i] {
            Value::Document(d) => (d.get_i64("votes"), d.get_i64("priority")),
            _ => unreachable!(),
        };
        assert_eq!(votes(6), (None, None), "the 7th votes (mongod's default 1)");
        assert_eq!(votes(7), (Some(0), Some(0)));
        assert_eq!(votes(8), (Some(0), Some(0)));
    }
}
