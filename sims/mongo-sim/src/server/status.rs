//! replSetGetStatus, shaped after TopologyCoordinator::prepareStatusResponse
//! (mongodb/mongo@610d9be50d6e, src/mongo/db/repl/topology_coordinator.cpp): the self row
//! (optime/optimeDate/lastAppliedWallTime/lastDurableWallTime, syncSourceHost/syncSourceId,
//! infoMessage, electionTime/electionDate on the primary, configVersion/configTerm, self,
//! lastHeartbeatMessage) and the other rows (optimeDurable, lastHeartbeat(Recv), pingMs,
//! lastHeartbeatMessage, …). Arbiters have no optime fields. BSON types as mongod appends
//! them: `uptime` int32 (`static_cast<int>`), `configVersion`/`configTerm` via appendNumber
//! (int32 while small), top-level `term`, `pingMs` and `heartbeatIntervalMillis` int64, an
//! optime's `t` int64. A node outside its config answers 93 (it has no rows).

use super::{fail, Conn, Sim};
use crate::repl::{self, CmdError, MemberState};
use bson::{doc, Bson, DateTime, Document, Timestamp};

fn optime(ts: Timestamp, term: i64) -> Document {
    doc! {"ts": ts, "t": Bson::Int64(term)}
}

impl Sim {
    pub(super) fn repl_set_get_status(&self, conn: &Conn) -> Result<Document, CmdError> {
        let st = self.lock();
        self.check_repl_enabled(&st, conn.member)?;
        let idx = conn.member;
        let config = st.config.clone().unwrap_or_default();
        if st.rt[idx].state == Some(MemberState::Removed) {
            return Err(fail(
                93,
                "Our replica set config is invalid or we are not a member of it",
            ));
        }
        let ms = repl::members(&config);
        let uptime = self.started.elapsed().as_secs().min(i32::MAX as u64) as i32;
        let ts = Timestamp {
            time: (st.last_write.timestamp_millis() / 1000) as u32,
            increment: 1,
        };
        let wall = st.last_write;
        let op = optime(ts, st.term);
        let epoch = DateTime::from_millis(0);
        let primary_row = st
            .primary
            .and_then(|p| ms.iter().find(|m| self.member_for(&m.host) == Some(p)));
        let config_term = repl::term(&config) as i32;
        let mut members = Vec::new();
        // prepareStatusResponse sorts membersOut (by _id first).
        let mut sorted: Vec<&repl::ConfigMember> = ms.iter().collect();
        sorted.sort_by_key(|m| m.id);
        for m in sorted {
            let sim = self.member_for(&m.host);
            let is_self = sim == Some(idx);
            let up = sim.filter(|i| !self.members[*i].down);
            let state = match up {
                Some(i) => st.rt[i].state.unwrap_or(MemberState::Startup),
                None => MemberState::Down,
            };
            let healthy = up.is_some();
            let arbiter = sim.is_some_and(|i| self.is_arbiter(&config, i));
            // Members follow the primary (chaining aside); the primary and non-data members
            // have no sync source.
            let sync = match primary_row {
                Some(p)
                    if healthy && !arbiter && state.readable() && state != MemberState::Primary =>
                {
                    (p.host.clone(), p.id as i32)
                }
                _ => (String::new(), -1),
            };
            let mut md = doc! {
                "_id": m.id as i32,
                "name": m.host.clone(),
                "health": if healthy { 1.0 } else { 0.0 },
                "state": state.code(),
                "stateStr": state.as_str(),
                "uptime": if healthy { uptime } else { 0 },
            };
            if !arbiter {
                let (o, date) = if healthy {
                    (op.clone(), DateTime::from_millis(ts.time as i64 * 1000))
                } else {
                    (
                        optime(
                            Timestamp {
                                time: 0,
                                increment: 0,
                            },
                            -1,
                        ),
                        epoch,
                    )
                };
                md.insert("optime", o.clone());
                if !is_self {
                    md.insert("optimeDurable", o);
                }
                md.insert("optimeDate", date);
                if !is_self {
                    md.insert("optimeDurableDate", date);
                }
                let w = if healthy { wall } else { epoch };
                md.insert("lastAppliedWallTime", w);
                md.insert("lastDurableWallTime", w);
            }
            if !is_self {
                md.insert("lastHeartbeat", DateTime::now());
                md.insert(
                    "lastHeartbeatRecv",
                    if healthy { DateTime::now() } else { epoch },
                );
                md.insert("pingMs", Bson::Int64(0));
                md.insert(
                    "lastHeartbeatMessage",
                    if healthy {
                        String::new()
                    } else {
                        format!(
                            "Error connecting to {} :: caused by :: Connection refused",
                            m.host
                        )
                    },
                );
            }
            md.insert("syncSourceHost", sync.0);
            md.insert("syncSourceId", sync.1);
            md.insert("infoMessage", "");
            if state == MemberState::Primary {
                md.insert(
                    "electionTime",
                    Timestamp {
                        time: (st.election_date.timestamp_millis() / 1000) as u32,
                        increment: 1,
                    },
                );
                md.insert("electionDate", st.election_date);
            }
            // What this member's heartbeats report (MemberData starts at -1).
            let cfg_version = up.and_then(|i| st.rt[i].cfg_version).unwrap_or(-1) as i32;
            md.insert("configVersion", cfg_version);
            md.insert("configTerm", if cfg_version < 0 { -1 } else { config_term });
            if is_self {
                md.insert("self", true);
                md.insert("lastHeartbeatMessage", "");
            }
            members.push(Bson::Document(md));
        }
        let (voters, majority) = repl::config_majority(&config);
        // ReplSetConfig: writableVotingMembersCount = voters that are not arbiters;
        // writeMajorityCount = min(majorityVoteCount, that).
        let writable_voters = voters.iter().filter(|m| !m.arbiter).count() as i32;
        let voters = voters.len() as i32;
        let majority = majority as i32;
        let my_state = st.rt[idx].state.unwrap_or(MemberState::Startup);
        let my_sync = match primary_row {
            Some(p) if my_state.readable() && my_state != MemberState::Primary => {
                (p.host.clone(), p.id as i32)
            }
            _ => (String::new(), -1),
        };
        Ok(doc! {
            "set": config.get_str("_id").unwrap_or_default(),
            "date": DateTime::now(),
            "myState": my_state.code(),
            "term": Bson::Int64(st.term),
            "syncSourceHost": my_sync.0,
            "syncSourceId": my_sync.1,
            "heartbeatIntervalMillis": Bson::Int64(2000),
            "majorityVoteCount": majority,
            "writeMajorityCount": majority.min(writable_voters),
            "votingMembersCount": voters,
            "writableVotingMembersCount": writable_voters,
            "optimes": {
                "lastCommittedOpTime": op.clone(),
                "lastCommittedWallTime": wall,
                "readConcernMajorityOpTime": op.clone(),
                "appliedOpTime": op.clone(),
                "durableOpTime": op,
                "lastAppliedWallTime": wall,
                "lastDurableWallTime": wall,
            },
            "members": members,
            "ok": 1.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::server::tests::{code, conn, req, sim, wait_for, THREE};
    use bson::{doc, Bson};

    #[test]
    fn rows_sorted_by_id_counts_without_arbiters_and_delayed_members_unlisted() {
        let s = sim(THREE);
        // Config order c, a, b; b is a voting arbiter; c is delayed (priority 0, hidden false).
        let cfg = doc! {"_id": "rs0", "members": [
            {"_id": 2, "host": "c:3", "priority": 0, "secondaryDelaySecs": 60, "tags": {"dc": "x"}},
            {"_id": 0, "host": "a:1", "tags": {"dc": "y"}},
            {"_id": 1, "host": "b:2", "arbiterOnly": true},
        ]};
        let r = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": cfg}));
        assert_eq!(r.get_f64("ok"), Ok(1.0), "{r}");
        let a = wait_for(&s, 0, |h| h.get_bool("isWritablePrimary") == Ok(true));
        // fillHelloForReplSet skips hidden and delayed members: c is in no list.
        assert_eq!(
            a.get_array("hosts").unwrap(),
            &vec![Bson::from("a:1")],
            "{a}"
        );
        assert!(!a.contains_key("passives"), "{a}");
        assert_eq!(a.get_document("tags").unwrap(), &doc! {"dc": "y"});
        let c = wait_for(&s, 2, |h| h.get_bool("secondary") == Ok(true));
        assert_eq!(c.get("secondaryDelaySecs"), Some(&Bson::Int64(60)), "{c}");
        assert!(c.get_bool("passive").unwrap(), "{c}");
        assert!(!a.contains_key("secondaryDelaySecs") && !a.contains_key("buildIndexes"));
        let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
        let ids: Vec<i32> = st
            .get_array("members")
            .unwrap()
            .iter()
            .map(|m| m.as_document().unwrap().get_i32("_id").unwrap())
            .collect();
        assert_eq!(ids, vec![0, 1, 2], "membersOut is sorted");
        // 3 voters, 1 an arbiter: majority 2, writable voters 2, write majority min(2, 2).
        assert_eq!(st.get_i32("majorityVoteCount"), Ok(2));
        assert_eq!(st.get_i32("votingMembersCount"), Ok(3));
        assert_eq!(st.get_i32("writableVotingMembersCount"), Ok(2));
        assert_eq!(st.get_i32("writeMajorityCount"), Ok(2));
    }

    #[test]
    fn member_states_by_flag_and_the_status_document() {
        let mut args = THREE.to_vec();
        args.extend([
            "--member-state",
            "b:2=ARBITER",
            "--member-state",
            "c:3=RECOVERING",
        ]);
        let s = sim(&args);
        let cfg = doc! {"_id": "rs0", "members": [{"_id": 0, "host": "a:1"}, {"_id": 1, "host": "b:2"}, {"_id": 2, "host": "c:3"}]};
        assert_eq!(
            s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": cfg}))
                .get_f64("ok")
                .unwrap(),
            1.0
        );
        wait_for(&s, 0, |h| h.get_bool("isWritablePrimary") == Ok(true));
        let b = wait_for(&s, 1, |h| h.get_bool("arbiterOnly") == Ok(true));
        assert!(!b.get_bool("secondary").unwrap(), "{b}");
        assert_eq!(b.get_array("arbiters").unwrap(), &vec![Bson::from("b:2")]);
        let c = s.dispatch(&mut conn(2), &req(doc! {"hello": 1}));
        assert!(!c.get_bool("secondary").unwrap() && !c.get_bool("isWritablePrimary").unwrap());
        // Not readable: no $clusterTime gossip from a RECOVERING member.
        assert!(!c.contains_key("$clusterTime"), "{c}");
        let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
        let rows = st.get_array("members").unwrap();
        let row = |i: usize| rows[i].as_document().unwrap().clone();
        assert_eq!(row(1).get_str("stateStr").unwrap(), "ARBITER");
        assert_eq!(row(2).get_str("stateStr").unwrap(), "RECOVERING");
        let me = row(0);
        assert!(me.get_bool("self").unwrap());
        assert!(matches!(me.get("uptime"), Some(Bson::Int32(_))), "{me}");
        assert_eq!(me.get("configVersion"), Some(&Bson::Int32(1)));
        assert!(matches!(me.get("configTerm"), Some(Bson::Int32(_))));
        assert_eq!(me.get_str("syncSourceHost").unwrap(), "");
        assert!(me.get_document("optime").unwrap().get_i64("t").is_ok());
        for k in [
            "optimeDate",
            "infoMessage",
            "electionDate",
            "lastHeartbeatMessage",
        ] {
            assert!(me.contains_key(k), "self row lacks {k}: {me}");
        }
        for k in [
            "lastHeartbeat",
            "lastHeartbeatRecv",
            "pingMs",
            "syncSourceHost",
        ] {
            assert!(row(2).contains_key(k), "row lacks {k}");
        }
        assert!(!row(1).contains_key("optime"), "arbiters have no optime");
        assert!(matches!(st.get("term"), Some(Bson::Int64(_))));
        // Awaitable hello: a counter from the future is refused (31382).
        let tv = c.get_document("topologyVersion").unwrap().clone();
        let future = doc! {"processId": tv.get_object_id("processId").unwrap(), "counter": tv.get_i64("counter").unwrap() + 5};
        let e = s.dispatch(
            &mut conn(2),
            &req(doc! {"hello": 1, "topologyVersion": future, "maxAwaitTimeMS": 10}),
        );
        assert_eq!(code(&e), 31382, "{e}");
        // 23 without `info`: generateErrorResponse resets the reply builder.
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        assert_eq!(code(&e), 23, "{e}");
        assert!(e.get("info").is_none(), "{e}");
    }
}
