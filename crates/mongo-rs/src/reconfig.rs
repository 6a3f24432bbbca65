//! Member reconciliation: from the running config (replSetGetConfig) and the wanted member list,
//! the NEXT single-member replSetReconfig to send, built the way mongosh's rs.add()/rs.remove()
//! build theirs (https://www.mongodb.com/docs/manual/reference/command/replSetReconfig/):
//! the whole current config with `version + 1`, existing members' `_id` and settings untouched,
//! a new member as `{_id: max+1, host}` (mongod fills priority 1 / votes 1).
//!
//! One member per step because, since MongoDB 4.4, a non-force reconfig may add or remove at
//! most ONE voting member ("safe reconfig"; src/mongo/db/repl/repl_set_config_checks.cpp,
//! validateSingleNodeChange: "Non force replica set reconfig can only add or remove at most 1
//! voting member."). The caller re-reads the config before every step, so a run that dies midway
//! resumes where it stopped and a rerun with the same list does nothing.

use mongo_wire::{Doc, HostPort, Value};
use sidecar::Failure;

/// Error codes met while reconfiguring (src/mongo/base/error_codes.yml).
pub const NEW_CONFIG_INCOMPATIBLE: i32 = 103;
pub const INVALID_REPLICA_SET_CONFIG: i32 = 93;
/// The previous config is not yet majority-replicated; the server's own "not now"
/// (replication_coordinator_impl.cpp converts its MaxTimeMSExpired wait into this).
pub const CURRENT_CONFIG_NOT_COMMITTED_YET: i32 = 308;

/// One member of the running config, as we need it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigMember {
    pub id: i64,
    pub host: String,
    pub votes: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Add(String),
    Remove(String),
}

/// The next reconfig: what it changes and the config document to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub change: Change,
    pub config: Doc,
    pub version: i64,
}

/// `host:port` in the form we compare on: lower-case, default port (mongod stores
/// `HostAndPort::toString()`; the flags may omit the port or use upper case).
pub fn norm(host: &str) -> String {
    HostPort::parse(host)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| host.to_ascii_lowercase())
}

pub fn members(config: &Doc) -> Vec<ConfigMember> {
    config
        .get_array("members")
        .unwrap_or_default()
        .iter()
        .filter_map(|m| match m {
            Value::Document(d) => Some(ConfigMember {
                id: d.get_i64("_id").unwrap_or(0),
                host: d.get_str("host").unwrap_or_default().to_string(),
                votes: d.get_i64("votes").unwrap_or(1),
            }),
            _ => None,
        })
        .collect()
}

/// The config's member hosts, as stored.
pub fn hosts(config: &Doc) -> Vec<String> {
    members(config).into_iter().map(|m| m.host).collect()
}

pub fn version(config: &Doc) -> i64 {
    config.get_i64("version").unwrap_or(1)
}

/// The one host-list diff (reconcile steps, the drift note, what a run changed), hosts compared
/// [`norm`]alised: hosts to add (wanted, not in `have`; in `wanted` order) and to remove (in
/// `have`, not wanted; in `have` order).
pub fn diff(have: &[String], wanted: &[String]) -> (Vec<String>, Vec<String>) {
    let have_n: Vec<String> = have.iter().map(|h| norm(h)).collect();
    let want_n: Vec<String> = wanted.iter().map(|h| norm(h)).collect();
    let add = wanted
        .iter()
        .zip(&want_n)
        .filter(|(_, n)| !have_n.contains(n))
        .map(|(h, _)| h.clone())
        .collect();
    let remove = have
        .iter()
        .zip(&have_n)
        .filter(|(_, n)| !want_n.contains(n))
        .map(|(h, _)| h.clone())
        .collect();
    (add, remove)
}

/// The next step towards `wanted`, or `None` when the set already has exactly those members.
/// Additions come first (the set never has fewer members than both lists), then removals.
/// Refused for good: removing the current primary, or a target without members.
pub fn next_step(
    config: &Doc,
    wanted: &[String],
    primary: &HostPort,
) -> Result<Option<Step>, Failure> {
    if wanted.is_empty() {
        return Err(Failure::refused(
            "refusing to remove every member: a replica set needs at least 1 member; list the members to keep with --member",
        ));
    }
    let (add, remove) = diff(&hosts(config), wanted);
    if let Some(p) = remove.iter().find(|h| norm(h) == primary.to_string()) {
        return Err(Failure::refused(format!(
            "refusing to remove {p}: it is the current PRIMARY; step it down first (rs.stepDown() on {p}) and rerun, or keep it in --member"
        )));
    }
    let current = members(config);
    let change = match (add.first(), remove.first()) {
        (Some(h), _) => Change::Add(h.clone()),
        (None, Some(h)) => Change::Remove(h.clone()),
        (None, None) => return Ok(None),
    };
    let kept = current.len() + usize::from(matches!(change, Change::Add(_)))
        - usize::from(matches!(change, Change::Remove(_)));
    if kept == 0 {
        return Err(Failure::refused(
            "refusing to remove the last member: a replica set needs at least 1 member",
        ));
    }
    crate::limits::check_member_count(kept)?;
    let next_version = crate::limits::next_version(version(config))?;
    let mut members_out: Vec<Value> = config
        .get_array("members")
        .unwrap_or_default()
        .iter()
        .filter(|m| match (m, &change) {
            (Value::Document(d), Change::Remove(h)) => {
                norm(d.get_str("host").unwrap_or_default()) != norm(h)
            }
            _ => true,
        })
        .map(|m| match m {
            // mongod manages `newlyAdded` itself and rejects a user config carrying it
            // (member_config.h / replication_coordinator_impl.cpp); replSetGetConfig hides it,
            // but an older or odd server might not: never send it back.
            Value::Document(d) => Value::Document(Doc(d
                .0
                .iter()
                .filter(|(k, _)| k != "newlyAdded")
                .cloned()
                .collect())),
            other => other.clone(),
        })
        .collect();
    if let Change::Add(h) = &change {
        let id = current.iter().map(|m| m.id).max().map_or(0, |m| m + 1);
        let mut m = Doc::new().with("_id", small(id)).with("host", h.as_str());
        // An 8th voter would be refused: the new member joins without a vote (and priority 0,
        // which mongod requires of a non-voter).
        if crate::limits::joins_without_vote(current.iter().filter(|m| m.votes > 0).count()) {
            m = m.with("votes", 0).with("priority", 0);
        }
        members_out.push(Value::Document(m));
    }
    let mut out = config.clone();
    out.insert("version", small(next_version));
    out.insert("members", members_out);
    Ok(Some(Step {
        change,
        config: out,
        version: next_version,
    }))
}

/// int32 when it fits, as mongod itself stores `_id` and `version`.
fn small(n: i64) -> Value {
    i32::try_from(n).map_or(Value::Int64(n), Value::Int32)
}

/// Whether the config at `version` is in force on enough members to take the next step, from a
/// replSetGetStatus reply on the primary: a majority of the config's voting members healthy and
/// at that config version, and `must_be_secondary` (a member just added) caught up as SECONDARY.
/// `Err` is the one-line reason we are still waiting.
pub fn committed(
    status: &Doc,
    config: &Doc,
    version: i64,
    must_be_secondary: Option<&str>,
) -> Result<(), String> {
    let rows: Vec<&Doc> = status
        .get_array("members")
        .unwrap_or_default()
        .iter()
        .filter_map(|v| match v {
            Value::Document(d) => Some(d),
            _ => None,
        })
        .collect();
    let row = |host: &str| {
        rows.iter()
            .find(|r| norm(r.get_str("name").unwrap_or_default()) == norm(host))
    };
    if let Some(h) = must_be_secondary {
        let state = row(h)
            .and_then(|r| r.get_str("stateStr"))
            .map(sidecar::text::server)
            .unwrap_or_else(|| "not listed".into());
        if state != "SECONDARY" && state != "PRIMARY" {
            return Err(format!("new member {h} is {state}, waiting for SECONDARY"));
        }
    }
    let voters: Vec<ConfigMember> = members(config)
        .into_iter()
        .filter(|m| m.votes > 0)
        .collect();
    let need = voters.len() / 2 + 1;
    let have = voters
        .iter()
        .filter(|m| {
            row(&m.host).is_some_and(|r| {
                r.get_i64("health").unwrap_or(0) == 1
                    && r.get_i64("configVersion").unwrap_or(-1) >= version
            })
        })
        .count();
    if have < need {
        return Err(format!(
            "config version {version} reached {have} of the {need} voting members needed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    fn config(version: i64, hosts: &[(i64, &str)]) -> Doc {
        let members: Vec<Value> = hosts
            .iter()
            .map(|(id, h)| {
                Value::Document(
                    Doc::new()
                        .with("_id", *id as i32)
                        .with("host", *h)
                        .with("priority", 2.0)
                        .with("votes", 1),
                )
            })
            .collect();
        Doc::new()
            .with("_id", "rs0")
            .with("version", version as i32)
            .with("term", 3i64)
            .with("members", members)
            .with("settings", Doc::new().with("chainingAllowed", true))
    }

    fn hp(s: &str) -> HostPort {
        HostPort::parse(s).unwrap()
    }

    fn wanted(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scale_up_adds_one_member_at_a_time_with_fresh_ids() {
        let c = config(1, &[(0, "a:1")]);
        let want = wanted(&["a:1", "b:1", "c:1"]);
        let s = next_step(&c, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s.change, Change::Add("b:1".into()));
        assert_eq!((s.version, version(&s.config)), (2, 2));
        assert_eq!(hosts(&s.config), ["a:1", "b:1"]);
        // Existing member kept verbatim (priority 2 stays), the new one minimal, _id max+1.
        let m = s.config.get_array("members").unwrap();
        assert_eq!(
            m[0],
            Value::Document(
                Doc::new()
                    .with("_id", 0)
                    .with("host", "a:1")
                    .with("priority", 2.0)
                    .with("votes", 1)
            )
        );
        assert_eq!(
            m[1],
            Value::Document(Doc::new().with("_id", 1).with("host", "b:1"))
        );
        // Everything else (settings, term, _id) is carried over.
        assert_eq!(s.config.get_str("_id"), Some("rs0"));
        assert!(s.config.get_doc("settings").is_some());
        let s2 = next_step(&s.config, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s2.change, Change::Add("c:1".into()));
        assert_eq!(s2.version, 3, "one voter per step: version +2 for 1→3");
        assert_eq!(next_step(&s2.config, &want, &hp("a:1")).unwrap(), None);
    }

    /// A config at `version` of members m0:1..m(n-1):1 (`_id` = index), and the wanted list
    /// of those plus one more, m(n):1.
    fn numbered(version: i64, n: usize) -> (Doc, Vec<String>) {
        let want: Vec<String> = (0..=n).map(|i| format!("m{i}:1")).collect();
        let have: Vec<(i64, &str)> = want[..n]
            .iter()
            .enumerate()
            .map(|(i, h)| (i as i64, h.as_str()))
            .collect();
        (config(version, &have), want)
    }

    #[test]
    fn limits_are_checked_before_sending() {
        let (c, want) = numbered(9, 7);
        let s = next_step(&c, &want, &hp("m0:1")).unwrap().unwrap();
        let m = s.config.get_array("members").unwrap();
        assert_eq!(
            m[7],
            Value::Document(
                Doc::new()
                    .with("_id", 7)
                    .with("host", "m7:1")
                    .with("votes", 0)
                    .with("priority", 0)
            ),
            "the 8th member joins without a vote"
        );
        let (c, want) = numbered(60, 50);
        let f = next_step(&c, &want, &hp("m0:1")).unwrap_err();
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("at most 50"), "{}", f.message);
        let mut absurd = config(1, &[(0, "a:1")]);
        absurd.insert("version", i64::MAX);
        let f = next_step(&absurd, &wanted(&["a:1", "b:1"]), &hp("a:1")).unwrap_err();
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("cannot be incremented"), "{}", f.message);
    }

    #[test]
    fn fresh_ids_skip_gaps_and_never_reuse() {
        let c = config(7, &[(0, "a:1"), (5, "b:1")]);
        let s = next_step(&c, &wanted(&["a:1", "b:1", "c:1"]), &hp("a:1"))
            .unwrap()
            .unwrap();
        assert_eq!(members(&s.config)[2].id, 6);
        assert_eq!(s.version, 8);
    }

    #[test]
    fn scale_down_removes_one_at_a_time_and_never_the_primary() {
        let c = config(4, &[(0, "a:1"), (1, "b:1"), (2, "c:1"), (3, "d:1")]);
        let want = wanted(&["a:1", "b:1"]);
        let s = next_step(&c, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s.change, Change::Remove("c:1".into()));
        assert_eq!(hosts(&s.config), ["a:1", "b:1", "d:1"]);
        assert_eq!(members(&s.config)[2].id, 3, "_ids are kept");
        let s = next_step(&s.config, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s.change, Change::Remove("d:1".into()));
        assert_eq!(s.version, 6);

        let f = next_step(&c, &wanted(&["b:1", "c:1"]), &hp("a:1")).unwrap_err();
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("a:1"), "{}", f.message);
        assert!(f.message.contains("step it down first"), "{}", f.message);
        assert!(next_step(&c, &[], &hp("a:1")).is_err());
    }

    #[test]
    fn replacing_adds_before_it_removes() {
        let c = config(2, &[(0, "a:1"), (1, "b:1")]);
        let want = wanted(&["a:1", "c:1"]);
        let s = next_step(&c, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s.change, Change::Add("c:1".into()));
        let s = next_step(&s.config, &want, &hp("a:1")).unwrap().unwrap();
        assert_eq!(s.change, Change::Remove("b:1".into()));
        assert_eq!(hosts(&s.config), ["a:1", "c:1"]);
    }

    #[test]
    fn hosts_compare_normalised_and_newly_added_is_never_sent() {
        let mut c = config(3, &[(0, "mongo-0:27017"), (1, "mongo-1:27017")]);
        if let Some(Value::Array(ms)) = c.0.iter_mut().find(|(k, _)| k == "members").map(|(_, v)| v)
        {
            if let Value::Document(d) = &mut ms[1] {
                d.insert("newlyAdded", true);
            }
        }
        assert_eq!(
            next_step(
                &c,
                &wanted(&["MONGO-0", "mongo-1:27017"]),
                &hp("mongo-0:27017")
            )
            .unwrap(),
            None,
            "same members: idempotent"
        );
        let s = next_step(
            &c,
            &wanted(&["mongo-0:27017", "mongo-1:27017", "mongo-2:27017"]),
            &hp("mongo-0:27017"),
        )
        .unwrap()
        .unwrap();
        let sent = s.config.get_array("members").unwrap();
        assert!(sent
            .iter()
            .all(|m| matches!(m, Value::Document(d) if d.get("newlyAdded").is_none())));
    }

    #[test]
    fn diff_lists_both_sides() {
        let c = config(1, &[(0, "a:1"), (1, "b:1")]);
        let (add, remove) = diff(&hosts(&c), &wanted(&["b:1", "c:1"]));
        assert_eq!((add, remove), (wanted(&["c:1"]), wanted(&["a:1"])));
        // The drift note's case (was plan::member_drift): case-insensitive.
        let (missing, extra) = diff(&wanted(&["a:1", "B:2"]), &wanted(&["b:2", "c:3"]));
        assert_eq!(extra, vec!["a:1"]);
        assert_eq!(missing, vec!["c:3"]);
    }

    fn status(rows: &[(&str, &str, i64, i64)]) -> Doc {
        let members: Vec<Value> = rows
            .iter()
            .map(|(h, state, health, v)| {
                Value::Document(
                    Doc::new()
                        .with("name", *h)
                        .with("stateStr", *state)
                        .with("health", *health as f64)
                        .with("configVersion", *v as i32),
                )
            })
            .collect();
        Doc::new().with("members", members)
    }

    #[test]
    fn commit_waits_for_a_voting_majority_and_the_new_secondary() {
        let c = config(3, &[(0, "a:1"), (1, "b:1"), (2, "c:1")]);
        let ok = status(&[
            ("a:1", "PRIMARY", 1, 3),
            ("b:1", "SECONDARY", 1, 3),
            ("c:1", "STARTUP2", 1, 3),
        ]);
        assert_eq!(committed(&ok, &c, 3, None), Ok(()));
        let e = committed(&ok, &c, 3, Some("c:1")).unwrap_err();
        assert!(e.contains("c:1 is STARTUP2"), "{e}");
        let behind = status(&[
            ("a:1", "PRIMARY", 1, 3),
            ("b:1", "SECONDARY", 1, 2),
            ("c:1", "(not reachable/healthy)", 0, 3),
        ]);
        let e = committed(&behind, &c, 3, None).unwrap_err();
        assert!(e.contains("1 of the 2"), "{e}");
    }
}
