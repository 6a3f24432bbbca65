//! Replica-set config parsing/validation and member states, after
//! src/mongo/db/repl/repl_set_config.cpp, member_config.cpp, member_state.h,
//! repl_set_config_checks.cpp and check_quorum_for_config_change.cpp.

use bson::{doc, oid::ObjectId, Bson, Document};

/// Member states and their `stateStr` (src/mongo/db/repl/member_state.h).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Startup,
    Primary,
    Secondary,
    Recovering,
    Startup2,
    Arbiter,
    Down,
    Rollback,
    Removed,
}

impl MemberState {
    pub fn code(self) -> i32 {
        match self {
            MemberState::Startup => 0,
            MemberState::Primary => 1,
            MemberState::Secondary => 2,
            MemberState::Recovering => 3,
            MemberState::Startup2 => 5,
            MemberState::Arbiter => 7,
            MemberState::Down => 8,
            MemberState::Rollback => 9,
            MemberState::Removed => 10,
        }
    }
    /// `--member-state` names: the states a member can be forced into once it has a config.
    pub fn forced(name: &str) -> Option<MemberState> {
        match name.to_ascii_uppercase().as_str() {
            "ARBITER" => Some(MemberState::Arbiter),
            "RECOVERING" => Some(MemberState::Recovering),
            "ROLLBACK" => Some(MemberState::Rollback),
            "REMOVED" => Some(MemberState::Removed),
            _ => None,
        }
    }
    /// MemberState::readable(): PRIMARY or SECONDARY.
    pub fn readable(self) -> bool {
        matches!(self, MemberState::Primary | MemberState::Secondary)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Startup => "STARTUP",
            MemberState::Primary => "PRIMARY",
            MemberState::Secondary => "SECONDARY",
            MemberState::Recovering => "RECOVERING",
            MemberState::Startup2 => "STARTUP2",
            MemberState::Arbiter => "ARBITER",
            MemberState::Rollback => "ROLLBACK",
            // MemberState::toString() says "DOWN"; replSetGetStatus shows "(not reachable/healthy)"
            // for a member with health 0 (topology_coordinator.cpp prepareStatusResponse), the
            // only place this emulator prints a DOWN state.
            MemberState::Down => "(not reachable/healthy)",
            MemberState::Removed => "REMOVED",
        }
    }
}

/// An error reply: code + codeName + errmsg (src/mongo/base/error_codes.yml).
#[derive(Debug, Clone, PartialEq)]
pub struct CmdError {
    pub code: i32,
    pub msg: String,
}

impl CmdError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        CmdError {
            code,
            msg: msg.into(),
        }
    }
}

/// Names from src/mongo/base/error_codes.yml for the codes the emulator returns.
pub fn code_name(code: i32) -> &'static str {
    match code {
        2 => "BadValue",
        11 => "UserNotFound",
        13 => "Unauthorized",
        14 => "TypeMismatch",
        17 => "ProtocolError",
        18 => "AuthenticationFailed",
        23 => "AlreadyInitialized",
        26 => "NamespaceNotFound",
        59 => "CommandNotFound",
        74 => "NodeNotFound",
        104 => "NodeNotElectable",
        76 => "NoReplicationEnabled",
        93 => "InvalidReplicaSetConfig",
        94 => "NotYetInitialized",
        103 => "NewReplicaSetConfigurationIncompatible",
        334 => "MechanismUnavailable",
        10107 => "NotWritablePrimary",
        11000 => "DuplicateKey",
        13435 => "NotPrimaryNoSecondaryOk",
        40414 => "IDLFailedToParse",
        50 => "MaxTimeMSExpired",
        72 => "InvalidOptions",
        109 => "ConfigurationInProgress",
        308 => "CurrentConfigNotCommittedYet",
        // A bare uassert code: mongod names it Location<code>.
        31382 => "Location31382",
        _ => "UnknownError",
    }
}

pub fn num(b: Option<&Bson>) -> Option<f64> {
    match b? {
        Bson::Int32(i) => Some(*i as f64),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        _ => None,
    }
}

/// One member of a parsed config.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigMember {
    pub id: i64,
    pub host: String,
    pub priority: f64,
    pub votes: i64,
    pub arbiter: bool,
    pub hidden: bool,
    /// `newlyAdded: true` (4.4+): set by the primary on a voter added by reconfig until it is
    /// SECONDARY. member_config.h: such a member "should be treated as non-voting"
    /// (`isVoter()` is false) and has an effective priority of 0 (`getPriority()`), so
    /// `votes`/`priority` here are the EFFECTIVE values; `base_votes` is `getBaseNumVotes()`.
    pub newly_added: bool,
    pub base_votes: i64,
    /// `secondaryDelaySecs` (0 when absent).
    pub secondary_delay: i64,
}

pub fn members(config: &Document) -> Vec<ConfigMember> {
    config
        .get_array("members")
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_document())
                .map(|m| {
                    let newly_added = m.get_bool("newlyAdded").unwrap_or(false);
                    let base_votes = num(m.get("votes")).unwrap_or(1.0) as i64;
                    let priority = num(m.get("priority")).unwrap_or(1.0);
                    ConfigMember {
                        id: num(m.get("_id")).unwrap_or(0.0) as i64,
                        host: m.get_str("host").unwrap_or_default().to_string(),
                        priority: if newly_added { 0.0 } else { priority },
                        votes: if newly_added { 0 } else { base_votes },
                        arbiter: m.get_bool("arbiterOnly").unwrap_or(false),
                        hidden: m.get_bool("hidden").unwrap_or(false),
                        newly_added,
                        base_votes,
                        secondary_delay: num(m.get("secondaryDelaySecs")).unwrap_or(0.0) as i64,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn version(config: &Document) -> i64 {
    num(config.get("version")).unwrap_or(1.0) as i64
}

pub fn term(config: &Document) -> i64 {
    num(config.get("term")).unwrap_or(0.0) as i64
}

/// `ConfigVersionAndTerm::toString()`: "{version: 1, term: 0}".
pub fn version_and_term(config: &Document) -> String {
    format!("{{version: {}, term: {}}}", version(config), term(config))
}

/// replSetInitiate's view: [`parse`] then [`validate`], every failure 93
/// (processReplSetInitiate wraps both into InvalidReplicaSetConfig).
pub fn normalize(config: &Document, term: i64) -> Result<Document, CmdError> {
    let out = parse(config, term)?;
    validate(&out).map_err(|reason| CmdError::new(93, reason))?;
    Ok(out)
}

/// Parses and normalizes a config the way ReplSetConfig::parse fills defaults
/// (src/mongo/db/repl/repl_set_config.idl, member_config.idl); `term` is set by the caller
/// (initiate uses OpTime::kInitialTerm = 0). Parse failures (IDL errors, MemberConfig's
/// BadValue uasserts) are 93 in both initiate and reconfig: processReplSetInitiate and
/// getNewConfig catch them and `return Status(ErrorCodes::InvalidReplicaSetConfig, reason)`.
pub fn parse(config: &Document, term: i64) -> Result<Document, CmdError> {
    let id = match config.get("_id") {
        Some(Bson::String(s)) if !s.is_empty() => s.clone(),
        Some(Bson::String(_)) => {
            return Err(CmdError::new(
                93,
                "Replica set configuration must have non-empty _id field",
            ))
        }
        Some(_) => {
            return Err(CmdError::new(
                93,
                "BSON field 'ReplSetConfig._id' is the wrong type, expected type 'string'",
            ))
        }
        None => {
            return Err(CmdError::new(
                93,
                "BSON field 'ReplSetConfig._id' is missing but a required field",
            ))
        }
    };
    let version = match config.get("version") {
        None => 1,
        Some(v) => match num(Some(v)) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 => n as i64,
            _ => {
                return Err(CmdError::new(
                    93,
                    format!("version field value of {v} is out of range"),
                ))
            }
        },
    };
    let raw_members = match config.get("members") {
        Some(Bson::Array(a)) => a,
        Some(_) => {
            return Err(CmdError::new(
                93,
                "BSON field 'ReplSetConfig.members' is the wrong type, expected type 'array'",
            ))
        }
        None => {
            return Err(CmdError::new(
                93,
                "BSON field 'ReplSetConfig.members' is missing but a required field",
            ))
        }
    };
    let mut out_members = Vec::new();
    for (i, m) in raw_members.iter().enumerate() {
        let m = m
            .as_document()
            .ok_or_else(|| CmdError::new(93, format!("Expected type object for members.{i}")))?;
        let mid = num(m.get("_id")).ok_or_else(|| {
            CmdError::new(
                93,
                "BSON field 'MemberConfig._id' is missing but a required field",
            )
        })? as i64;
        let host = m.get_str("host").map_err(|_| {
            CmdError::new(
                93,
                "BSON field 'MemberConfig.host' is missing but a required field",
            )
        })?;
        let host = if host.contains(':') {
            host.to_string()
        } else {
            // HostAndPort defaults the port to 27017.
            format!("{host}:27017")
        };
        let arbiter = m.get_bool("arbiterOnly").unwrap_or(false);
        member_checks(m, arbiter)?;
        let mut nm = doc! {
            "_id": mid as i32,
            "host": host,
            "arbiterOnly": arbiter,
            "buildIndexes": m.get_bool("buildIndexes").unwrap_or(true),
            "hidden": m.get_bool("hidden").unwrap_or(false),
            "priority": num(m.get("priority")).unwrap_or(if arbiter { 0.0 } else { 1.0 }),
            "tags": m.get_document("tags").cloned().unwrap_or_default(),
            "secondaryDelaySecs": Bson::Int64(num(m.get("secondaryDelaySecs")).unwrap_or(0.0) as i64),
            "votes": num(m.get("votes")).unwrap_or(1.0) as i32,
        };
        if let Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) = m.get("votes") {
            nm.insert("votes", num(m.get("votes")).unwrap_or(1.0) as i32);
        }
        out_members.push(Bson::Document(nm));
    }
    let mut settings = doc! {
        "chainingAllowed": true,
        "heartbeatIntervalMillis": 2000,
        "heartbeatTimeoutSecs": 10,
        "electionTimeoutMillis": 10000,
        "catchUpTimeoutMillis": -1,
        "catchUpTakeoverDelayMillis": 30000,
        "getLastErrorModes": {},
        "getLastErrorDefaults": {"w": 1, "wtimeout": 0},
        "replicaSetId": ObjectId::new(),
    };
    if let Ok(user) = config.get_document("settings") {
        for (k, v) in user {
            settings.insert(k.clone(), v.clone());
        }
    }
    let out = doc! {
        "_id": id,
        "version": version as i32,
        // ReplSetConfig stores term as an int32-sized number (rs.conf() shows `term: 1`).
        "term": term as i32,
        "members": out_members,
        "protocolVersion": Bson::Int64(1),
        "writeConcernMajorityJournalDefault": true,
        "settings": settings,
    };
    Ok(out)
}

/// MemberConfig::MemberConfig (member_config.cpp @ 044d2f73): BadValue uasserts at parse time,
/// so 93 in initiate and reconfig alike. The reason is the bare text (mongod adds a context
/// naming the member, not reproduced).
fn member_checks(m: &Document, arbiter: bool) -> Result<(), CmdError> {
    let priority = num(m.get("priority")).unwrap_or(if arbiter { 0.0 } else { 1.0 });
    let voter = num(m.get("votes")).unwrap_or(1.0) != 0.0;
    let bad = |msg: &str| Err(CmdError::new(93, msg));
    if arbiter && !voter {
        return bad("Arbiter must vote (cannot have 0 votes)");
    }
    if priority != 0.0 {
        if !voter {
            return bad("priority must be 0 when non-voting (votes:0)");
        }
        if num(m.get("secondaryDelaySecs")).unwrap_or(0.0) > 0.0 {
            return bad("priority must be 0 when secondaryDelaySecs is used");
        }
        if m.get_bool("hidden").unwrap_or(false) {
            return bad("priority must be 0 when hidden=true");
        }
        if !m.get_bool("buildIndexes").unwrap_or(true) {
            return bad("priority must be 0 when buildIndexes=false");
        }
    }
    Ok(())
}

/// ReplSetConfig::_validate (repl_set_config.cpp @ 044d2f73): BadValue reasons. The caller
/// wraps them: 93 in replSetInitiate, 103 NewReplicaSetConfigurationIncompatible in
/// replSetReconfig (`_doReplSetReconfig`). kMaxMembers = 50, kMaxVotingMembers = 7.
pub fn validate(config: &Document) -> Result<(), String> {
    let ms = members(config);
    if ms.is_empty() || ms.len() > 50 {
        return Err(format!("Replica set configuration contains {} members, but must have at least 1 and no more than  50", ms.len()));
    }
    for (i, a) in ms.iter().enumerate() {
        for (j, b) in ms.iter().enumerate() {
            if i == j {
                continue;
            }
            if a.id == b.id {
                return Err(format!("Found two member configurations with same _id field, members.{i}._id == members.{j}._id == {}", a.id));
            }
            if a.host == b.host {
                return Err(format!("Found two member configurations with same host field, members.{i}.host == members.{j}.host == {}", a.host));
            }
        }
    }
    let voters = ms.iter().filter(|m| m.votes > 0).count();
    if voters > 7 || voters == 0 {
        return Err(format!("Replica set configuration contains {voters} voting members, but must be at least 1 and no more than 7"));
    }
    if !ms.iter().any(|m| !m.arbiter && m.priority > 0.0) {
        return Err("Replica set configuration must contain at least one non-arbiter member with priority > 0".into());
    }
    Ok(())
}

/// check_quorum_for_config_change.cpp, initiate flavour (config version 1): every member must
/// answer the heartbeat.
pub fn initiate_quorum_error(failed: &[(String, String)]) -> Option<CmdError> {
    if failed.is_empty() {
        return None;
    }
    let list: Vec<String> = failed
        .iter()
        .map(|(h, why)| format!("{h} failed with {why}"))
        .collect();
    Some(CmdError::new(
        74,
        format!(
            "replSetInitiate quorum check failed because not all proposed set members responded affirmatively: {}",
            list.join(", ")
        ),
    ))
}

/// Reconfig flavour: a majority of voting members must respond (same file,
/// QuorumChecker::_onQuorumCheckComplete).
pub fn reconfig_quorum_error(
    voters: &[ConfigMember],
    responded: &[String],
    failed: &[(String, String)],
) -> Option<CmdError> {
    let total: usize = voters.len();
    let required = total / 2 + 1;
    let ok: Vec<&String> = voters
        .iter()
        .map(|m| &m.host)
        .filter(|h| responded.contains(h))
        .collect();
    if ok.len() >= required {
        return None;
    }
    let failed_s: Vec<String> = failed
        .iter()
        .map(|(h, w)| format!("{h} failed with {w}"))
        .collect();
    Some(CmdError::new(
        74,
        format!(
            "Quorum check failed because not enough voting nodes responded; required {required} but only the following {} voting nodes responded: {}; the following nodes did not respond affirmatively: {}",
            ok.len(),
            ok.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            failed_s.join(", ")
        ),
    ))
}

/// Safe reconfig rule (4.4+, repl_set_config_checks.cpp validateSingleNodeChange): the
/// symmetric difference of the `_id`s of the VOTING members (`votingMembers()`, which leaves
/// out `newlyAdded` members) of the old and new config may hold at most one id. The caller
/// (_doReplSetReconfig) turns the InvalidReplicaSetConfig into
/// NewReplicaSetConfigurationIncompatible (103) with the same reason.
pub fn single_node_change_error(old: &Document, new: &Document) -> Option<CmdError> {
    let voters = |c: &Document| -> Vec<i64> {
        members(c)
            .into_iter()
            .filter(|m| m.votes > 0)
            .map(|m| m.id)
            .collect()
    };
    let (o, n) = (voters(old), voters(new));
    let added = n.iter().filter(|h| !o.contains(h)).count();
    let removed = o.iter().filter(|h| !n.contains(h)).count();
    if added + removed > 1 {
        return Some(CmdError::new(
            103,
            "Non force replica set reconfig can only add or remove at most 1 voting member.",
        ));
    }
    None
}

/// Voting members (effective: `newlyAdded` ones do not vote) and the majority of them. The
/// config is "committed" when that many voters have it (replication_coordinator_impl.cpp
/// _getConfigReplicationWriteConcern, `$configMajority` with CheckCondition::Config;
/// repl_set_config.cpp documents it as "the majority of all voting members including
/// arbiters"). Some server versions compute `_majorityVoteCount / 2 + 1` there, a bug fixed
/// upstream (SERVER-117353); the documented majority is used here.
pub fn config_majority(config: &Document) -> (Vec<ConfigMember>, usize) {
    let voters: Vec<ConfigMember> = members(config)
        .into_iter()
        .filter(|m| m.votes > 0)
        .collect();
    let need = voters.len() / 2 + 1;
    (voters, need)
}

/// ReplSetConfig::toBSONWithoutNewlyAdded: what replSetGetConfig shows by default.
pub fn without_newly_added(config: &Document) -> Document {
    let mut c = config.clone();
    if let Ok(ms) = c.get_array_mut("members") {
        for m in ms.iter_mut() {
            if let Bson::Document(d) = m {
                d.remove("newlyAdded");
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_fills_defaults() {
        let c = normalize(
            &doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1"}, {"_id": 1, "host": "b"}]},
            0,
        )
        .unwrap();
        assert_eq!(version(&c), 1);
        assert_eq!(version_and_term(&c), "{version: 1, term: 0}");
        let ms = members(&c);
        assert_eq!(ms[1].host, "b:27017");
        assert_eq!(ms[0].priority, 1.0);
        assert_eq!(ms[0].votes, 1);
    }

    #[test]
    fn normalize_enforces_member_and_voter_limits() {
        let ms = |n: usize, votes: i32| -> Vec<Bson> {
            (0..n)
                .map(|i| Bson::Document(doc! {"_id": i as i32, "host": format!("h{i}:1"), "votes": votes, "priority": votes}))
                .collect()
        };
        let e = normalize(&doc! {"_id": "rs", "members": ms(8, 1)}, 0).unwrap_err();
        assert!(e.msg.contains("8 voting members"), "{}", e.msg);
        let mut nine = ms(7, 1);
        nine.extend(ms(9, 0).into_iter().skip(7));
        assert!(normalize(&doc! {"_id": "rs", "members": nine}, 0).is_ok());
        let e = normalize(&doc! {"_id": "rs", "members": ms(51, 0)}, 0).unwrap_err();
        assert!(e.msg.contains("51 members"), "{}", e.msg);
    }

    #[test]
    fn normalize_rejects_bad_configs() {
        // Parse errors are wrapped into 93 (not IDLFailedToParse 40414).
        let e = normalize(&doc! {"members": []}, 0).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                93,
                "BSON field 'ReplSetConfig._id' is missing but a required field"
            )
        );
        assert_eq!(
            normalize(&doc! {"_id": "rs0", "members": []}, 0)
                .unwrap_err()
                .code,
            93
        );
        let dup =
            doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1"}, {"_id": 0, "host": "b:1"}]};
        let e = normalize(&dup, 0).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (
                93,
                "Found two member configurations with same _id field, members.0._id == members.1._id == 0"
            )
        );
        let nv = doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1"}, {"_id": 1, "host": "b:1", "votes": 0}]};
        let e = normalize(&nv, 0).unwrap_err();
        assert_eq!(
            (e.code, e.msg.as_str()),
            (93, "priority must be 0 when non-voting (votes:0)")
        );
        for (field, value, msg) in [
            (
                "hidden",
                Bson::Boolean(true),
                "priority must be 0 when hidden=true",
            ),
            (
                "secondaryDelaySecs",
                Bson::Int32(60),
                "priority must be 0 when secondaryDelaySecs is used",
            ),
            (
                "buildIndexes",
                Bson::Boolean(false),
                "priority must be 0 when buildIndexes=false",
            ),
        ] {
            let mut m = doc! {"_id": 1, "host": "b:1"};
            m.insert(field, value);
            let c = doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1"}, m]};
            assert_eq!(normalize(&c, 0).unwrap_err().msg, msg);
        }
        // Limits are _validate's BadValue: the caller picks 93 (initiate) or 103 (reconfig).
        let none = parse(&doc! {"_id": "rs0", "members": []}, 0).unwrap();
        assert!(validate(&none).unwrap_err().contains("contains 0 members"));
        let arb = doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1", "arbiterOnly": true}]};
        assert_eq!(normalize(&arb, 0).unwrap_err().code, 93);
    }

    #[test]
    fn quorum_messages() {
        let e = initiate_quorum_error(&[("h2:1".into(), "Connection refused".into())]).unwrap();
        assert_eq!(e.code, 74);
        assert!(e
            .msg
            .ends_with("responded affirmatively: h2:1 failed with Connection refused"));
        assert!(initiate_quorum_error(&[]).is_none());
        let voters = members(
            &doc! {"members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:1"},{"_id":2,"host":"c:1"}]},
        );
        assert!(reconfig_quorum_error(&voters, &["a:1".into(), "b:1".into()], &[]).is_none());
        assert!(reconfig_quorum_error(&voters, &["a:1".into()], &[]).is_some());
    }

    #[test]
    fn single_node_change() {
        let a = doc! {"members": [{"_id":0,"host":"a:1"}]};
        let b = doc! {"members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:1"}]};
        let c = doc! {"members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:1"},{"_id":2,"host":"c:1"}]};
        assert!(single_node_change_error(&a, &b).is_none());
        assert_eq!(single_node_change_error(&a, &c).unwrap().code, 103);
        // Two new members that are both newlyAdded do not vote yet: no voter changes.
        let c2 = doc! {"members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:1","newlyAdded":true},{"_id":2,"host":"c:1","newlyAdded":true}]};
        assert!(single_node_change_error(&a, &c2).is_none());
        // Replacing one voter by another (same count, different _id) is two changes.
        let d = doc! {"members": [{"_id":5,"host":"a:1"}]};
        assert_eq!(single_node_change_error(&a, &d).unwrap().code, 103);
    }

    #[test]
    fn newly_added_members_neither_vote_nor_count_for_majority() {
        let c = doc! {"members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:1","newlyAdded":true,"priority":1.0,"votes":1}]};
        let ms = members(&c);
        assert_eq!((ms[1].votes, ms[1].priority, ms[1].base_votes), (0, 0.0, 1));
        let (voters, need) = config_majority(&c);
        assert_eq!((voters.len(), need), (1, 1));
        let shown = without_newly_added(&c);
        assert!(shown.get_array("members").unwrap()[1]
            .as_document()
            .unwrap()
            .get("newlyAdded")
            .is_none());
    }
}
