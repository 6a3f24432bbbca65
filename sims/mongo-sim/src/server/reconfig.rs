//! replSetGetConfig, replSetReconfig (safe reconfig: commitment waits, 109/308/50, single
//! voter change); commitment and the automatic reconfig that drops `newlyAdded` are in
//! [`super::commitment`].

use super::*;

impl Sim {
    /// CmdReplSetGetConfig (repl_set_commands.cpp) + processReplSetGetConfig
    /// (replication_coordinator_impl.cpp): the config without `newlyAdded`
    /// (toBSONWithoutNewlyAdded); `commitmentStatus: true` adds whether it is committed, on the
    /// writable primary only. https://www.mongodb.com/docs/manual/reference/command/replSetGetConfig/
    pub(super) fn repl_set_get_config(
        &self,
        conn: &Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let st = self.lock();
        self.check_repl_enabled(&st, conn.member)?;
        // bsonExtractBooleanFieldWithDefault: a bool or a number.
        let want = match req.body.get("commitmentStatus") {
            None => false,
            Some(Bson::Boolean(b)) => *b,
            Some(v) => match repl::num(Some(v)) {
                Some(n) => n != 0.0,
                None => return Err(type_mismatch("commitmentStatus", v)),
            },
        };
        if req.body.contains_key("$_internalIncludeNewlyAdded") {
            // Test-only option; this emulator models a server without test commands.
            return Err(fail(
                72,
                "The '$_internalIncludeNewlyAdded' option is only supported when testing commands are enabled",
            ));
        }
        let config = st.config.clone().unwrap_or_default();
        let mut d = doc! {"config": repl::without_newly_added(&config)};
        if want {
            if !self.writable(&st, conn.member) {
                return Err(fail(
                    10107,
                    "commitmentStatus is only supported on primary.",
                ));
            }
            d.insert("commitmentStatus", self.committed(&st));
        }
        d.insert("ok", 1.0);
        Ok(d)
    }

    /// CmdReplSetReconfig (repl_set_commands.cpp) + processReplSetReconfig / _doReplSetReconfig
    /// (replication_coordinator_impl.cpp) and validateConfigForReconfig
    /// (repl_set_config_checks.cpp). A failure is also logged (emulator-only line, id 0) so
    /// tests can count the 109/308 answers a client met.
    pub(super) fn repl_set_reconfig(
        self: &Arc<Self>,
        conn: &Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let res = self.repl_set_reconfig_inner(conn, req);
        if let Err(e) = &res {
            log::line(
                "I",
                "REPL",
                0,
                &format!("conn{}", conn.id),
                "replSetReconfig failed (mongo-sim)",
                json!({"code": e.code, "codeName": code_name(e.code), "errmsg": e.msg}),
            );
        }
        res
    }

    pub(super) fn repl_set_reconfig_inner(
        self: &Arc<Self>,
        conn: &Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let ctx = format!("conn{}", conn.id);
        let idx = conn.member;
        // maxTimeMS bounds both commitment waits (0 = no limit, as in mongod).
        let deadline = repl::num(req.body.get("maxTimeMS"))
            .filter(|ms| *ms > 0.0)
            .map(|ms| Instant::now() + Duration::from_millis(ms as u64));
        let mut st = self.lock();
        self.check_repl_enabled(&st, idx)?;
        let Ok(new) = req.body.get_document("replSetReconfig") else {
            return Err(fail(2, "no configuration specified"));
        };
        let force = req.body.get("force").is_some_and(|b| {
            matches!(b, Bson::Boolean(true)) || repl::num(Some(b)).unwrap_or(0.0) != 0.0
        });
        if !force {
            // CmdReplSetReconfig::run: "For safe reconfig, wait for the current config to be
            // committed before running a new one" (awaitConfigCommitment). Its writable-primary
            // check answers PrimarySteppedDown, turned into NotWritablePrimary; a maxTimeMS
            // expiry is turned into CurrentConfigNotCommittedYet. Both get the context
            // "New config is rejected".
            if !self.writable(&st, idx) {
                let state = st.rt[idx].state.unwrap_or(MemberState::Startup);
                return Err(fail(
                    10107,
                    format!(
                        "New config is rejected :: caused by :: replSetReconfig should only be run on a writable PRIMARY. Current state {};",
                        state.as_str()
                    ),
                ));
            }
            let (g, ok) = self.wait_committed(st, deadline);
            st = g;
            if !ok {
                let vt = repl::version_and_term(st.config.as_ref().unwrap_or(&Document::new()));
                return Err(fail(
                    308,
                    format!("New config is rejected :: caused by :: Current config with {vt} has not yet propagated to a majority of nodes :: caused by :: operation exceeded time limit"),
                ));
            }
        }
        // processReplSetReconfig logs 21352 only after CmdReplSetReconfig's commitment
        // pre-check: a reconfig refused there (10107/308 "New config is rejected") logs none.
        log::info(
            "REPL",
            21352,
            &ctx,
            "replSetReconfig admin command received from client",
            json!({"newConfig": Bson::Document(new.clone()).into_relaxed_extjson()}),
        );
        // _doReplSetReconfig, under the replication mutex.
        if st.reconfiguring {
            return Err(fail(
                109,
                "Cannot run replSetReconfig because the node is currently updating its configuration",
            ));
        }
        if !force {
            if !self.writable(&st, idx) {
                let state = st.rt[idx].state.unwrap_or(MemberState::Startup);
                return Err(fail(
                    10107,
                    format!(
                        "Safe reconfig is only allowed on a writable PRIMARY. Current state is {}",
                        state.as_str()
                    ),
                ));
            }
            // Checked again in case a concurrent reconfig installed a config meanwhile.
            if !self.committed(&st) {
                let vt = repl::version_and_term(st.config.as_ref().unwrap_or(&Document::new()));
                return Err(fail(
                    308,
                    format!("Cannot run replSetReconfig because the current config: {vt} is not majority committed."),
                ));
            }
        }
        st.reconfiguring = true;
        let newc = match self.validate_reconfig(&st, idx, new, force, &ctx) {
            Ok(c) => c,
            Err(e) => {
                st.reconfiguring = false;
                return Err(e);
            }
        };
        // The quorum check's heartbeats take a while; the node stays "updating its
        // configuration" (kConfigReconfiguring) until the new config is installed.
        drop(st);
        thread::sleep(self.opts.quorum_check_delay);
        let mut st = self.lock();
        self.install_config(&mut st, newc.clone(), true, Some(idx));
        st.reconfiguring = false;
        self.cv.notify_all();
        if !force {
            // "Now that the new config has been persisted and installed in memory, wait for the
            // new config to become replicated."
            let (_st, ok) = self.wait_committed(st, deadline);
            if !ok {
                return Err(fail(
                    50,
                    format!(
                        "Reconfig finished but failed to propagate to a majority :: caused by :: Current config with {} has not yet propagated to a majority of nodes :: caused by :: operation exceeded time limit",
                        repl::version_and_term(&newc)
                    ),
                ));
            }
        }
        Ok(doc! {"ok": 1.0})
    }

    /// The getNewConfig callback of processReplSetReconfig plus validateConfigForReconfig and
    /// the quorum check: the config to install, or why not.
    pub(super) fn validate_reconfig(
        &self,
        st: &SetState,
        idx: usize,
        new: &Document,
        force: bool,
        ctx: &str,
    ) -> Result<Document, CmdError> {
        let old = st.config.clone().unwrap_or_default();
        // "In a reconfig, the 'newlyAdded' flag should never already be set".
        let user_newly_added = new.get_array("members").is_ok_and(|ms| {
            ms.iter()
                .filter_map(|m| m.as_document())
                .any(|m| m.get_bool("newlyAdded").unwrap_or(false))
        });
        if user_newly_added {
            return Err(fail(
                93,
                "Cannot provide newlyAdded field to member config during reconfig.",
            ));
        }
        // getNewConfig: parse errors are 93; then the set name (93, 6.0+ wording).
        let mut newc = repl::parse(new, st.term)?;
        let set = self.opts.repl_set.clone().unwrap_or_default();
        let name = newc.get_str("_id").unwrap_or_default().to_string();
        if name != set {
            let old_name = old.get_str("_id").unwrap_or_default();
            return Err(fail(93, format!("Rejecting reconfig where new config set name differs from command line set name, new config set name: {name}, old config set name: {old_name}")));
        }
        // validateConfigForReconfig -> ReplSetConfig::validate: _doReplSetReconfig wraps its
        // BadValue into 103 (checked on the config as sent, before newlyAdded is appended).
        if let Err(reason) = repl::validate(&newc) {
            return Err(fail(103, reason));
        }
        if !force {
            // "Set the 'newlyAdded' field to true for all new voting nodes" and keep it on
            // members that still have it (never for arbiters or force reconfigs).
            let old_ms = repl::members(&old);
            let mut tagged = false;
            if let Ok(ms) = newc.get_array_mut("members") {
                for m in ms.iter_mut() {
                    let Bson::Document(d) = m else { continue };
                    let id = repl::num(d.get("_id")).unwrap_or(-1.0) as i64;
                    let arbiter = d.get_bool("arbiterOnly").unwrap_or(false);
                    let voter = repl::num(d.get("votes")).unwrap_or(1.0) != 0.0;
                    let before = old_ms.iter().find(|o| o.id == id);
                    let is_new_voter = before.is_none() && voter && !arbiter;
                    if is_new_voter || before.is_some_and(|o| o.newly_added) {
                        d.insert("newlyAdded", true);
                        tagged = true;
                    }
                }
            }
            if tagged {
                // LOGV2 4634400.
                log::info(
                    "REPL",
                    4634400,
                    ctx,
                    "Appended the 'newlyAdded' field to a node in the new config. Nodes with the 'newlyAdded' field will be considered to have 'votes:0'. Upon transition to SECONDARY, this field will be automatically removed.",
                    json!({"newConfigObj": Bson::Document(newc.clone()).into_relaxed_extjson()}),
                );
            }
        }
        // validateOldAndNewConfigsCompatible compares ConfigVersionAndTerm.
        let new_vt = (repl::version(&newc), repl::term(&newc));
        let old_vt = (repl::version(&old), repl::term(&old));
        if old_vt >= new_vt && !force {
            return Err(fail(103, format!(
                "New replica set configuration version and term must be greater than old, but {} is not greater than {} for replica set {set}",
                repl::version_and_term(&newc), repl::version_and_term(&old)
            )));
        }
        let ms = repl::members(&newc);
        if !force {
            if let Some(e) = repl::single_node_change_error(&old, &newc) {
                return Err(e);
            }
        }
        // After validateConfigForReconfig: findSelfInConfig (force) or
        // findSelfInConfigIfElectable (repl_set_config_checks.cpp @ d4d4a268), returned
        // unwrapped: 74 NodeNotFound, 104 NodeNotElectable.
        let vt = repl::version_and_term(&newc);
        let Some(me) = ms.iter().find(|m| self.members[idx].maps(&m.host)) else {
            return Err(fail(74, format!("No host described in new configuration with {vt} for replica set {set} maps to this node")));
        };
        if !force && (me.arbiter || me.priority <= 0.0) {
            return Err(fail(104, format!("This node, {}, with _id MemberId({}) is not electable under the new configuration with {vt} for replica set {set}", me.host, me.id)));
        }
        if !force {
            let voters: Vec<repl::ConfigMember> =
                ms.iter().filter(|m| m.votes > 0).cloned().collect();
            let responded: Vec<String> = voters
                .iter()
                .filter(|m| self.reachable(&m.host))
                .map(|m| m.host.clone())
                .collect();
            let failed: Vec<(String, String)> = ms
                .iter()
                .filter(|m| !self.reachable(&m.host))
                .map(|m| connection_refused(&m.host))
                .collect();
            if let Some(e) = repl::reconfig_quorum_error(&voters, &responded, &failed) {
                return Err(e);
            }
        }
        // Keep the set's identity across reconfigs (replicaSetId never changes).
        if let (Ok(old_settings), Ok(new_settings)) = (
            old.get_document("settings"),
            newc.get_document_mut("settings"),
        ) {
            if let Some(id) = old_settings.get("replicaSetId") {
                new_settings.insert("replicaSetId", id.clone());
            }
        }
        log::info(
            "REPL",
            21353,
            ctx,
            "replSetReconfig config object parses ok",
            json!({"numMembers": ms.len()}),
        );
        Ok(newc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::tests::{code, conn, req, sim, wait_for};

    fn cfg_of(s: &Arc<Sim>, member: usize) -> Document {
        s.dispatch(&mut conn(member), &req(doc! {"replSetGetConfig": 1}))
            .get_document("config")
            .unwrap()
            .clone()
    }

    fn wait_version(s: &Arc<Sim>, v: i32) -> Document {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let c = cfg_of(s, 0);
            if c.get_i32("version").unwrap() >= v || Instant::now() > deadline {
                return c;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reconfig_rules_and_newly_added() {
        let s = sim(&[
            "--member",
            "a:1",
            "--member",
            "b:2",
            "--member",
            "c:3",
            "--repl-set",
            "rs0",
            "--startup2-delay",
            "10ms",
            "--election-delay",
            "10ms",
            "--drain-delay",
            "10ms",
            "--config-commit-delay",
            "20ms",
            "--quorum-check-delay",
            "5ms",
        ]);
        s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"a:1"}]}}),
        );
        wait_for(&s, 0, |h| h.get_bool("isWritablePrimary").unwrap_or(false));
        let set_id = |c: &Document| {
            c.get_document("settings")
                .unwrap()
                .get_object_id("replicaSetId")
                .unwrap()
        };
        let initial_id = set_id(&cfg_of(&s, 0));
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 1, "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"}]}}));
        assert_eq!(code(&e), 103);
        assert_eq!(e.get_str("errmsg").unwrap(), "New replica set configuration version and term must be greater than old, but {version: 1, term: 1} is not greater than {version: 1, term: 1} for replica set rs0");
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2","newlyAdded":true}]}}));
        assert_eq!(code(&e), 93);
        assert_eq!(
            e.get_str("errmsg").unwrap(),
            "Cannot provide newlyAdded field to member config during reconfig."
        );
        // Self missing: findSelfInConfig's 74, unwrapped. Self not electable: 104.
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":1,"host":"b:2"}]}}));
        assert_eq!(
            (code(&e), e.get_str("errmsg").unwrap()),
            (74, "No host described in new configuration with {version: 2, term: 1} for replica set rs0 maps to this node"),
            "{e}"
        );
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":0,"host":"a:1","priority":0},{"_id":1,"host":"b:2"}]}}));
        assert_eq!(
            (code(&e), e.get_str("errmsg").unwrap()),
            (104, "This node, a:1, with _id MemberId(0) is not electable under the new configuration with {version: 2, term: 1} for replica set rs0"),
            "{e}"
        );
        // ReplSetConfig::validate failures are 103 in a reconfig (93 in an initiate).
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":0,"host":"a:1"},{"_id":0,"host":"b:2"}]}}));
        assert_eq!(
            (code(&e), e.get_str("errmsg").unwrap()),
            (103, "Found two member configurations with same _id field, members.0._id == members.1._id == 0"),
            "{e}"
        );
        // Parse failures stay 93, also in a reconfig.
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":0}]}}),
        );
        assert_eq!(code(&e), 93, "{e}");
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs1", "version": 2, "members": [{"_id":0,"host":"a:1"}]}}));
        assert_eq!(
            (code(&e), e.get_str("errmsg").unwrap()),
            (93, "Rejecting reconfig where new config set name differs from command line set name, new config set name: rs1, old config set name: rs0"),
            "{e}"
        );
        let ok = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 2, "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"}]}, "maxTimeMS": 5000}));
        assert_eq!(ok.get_f64("ok").unwrap(), 1.0, "{ok}");
        // The new voter is newlyAdded: stored, not shown, not voting, passive in hello.
        {
            let st = s.lock();
            let stored = repl::members(st.config.as_ref().unwrap());
            assert!(stored[1].newly_added, "{stored:?}");
        }
        let shown = cfg_of(&s, 0);
        assert!(!shown.to_string().contains("newlyAdded"), "{shown}");
        // The primary removes it by an automatic reconfig once b is SECONDARY: version 3,
        // same term, b votes.
        let c = wait_version(&s, 3);
        assert_eq!(c.get_i32("version").unwrap(), 3, "{c}");
        assert_eq!(
            c.get("term"),
            Some(&Bson::Int32(1)),
            "config term is an int32"
        );
        assert_eq!(
            set_id(&c),
            initial_id,
            "replicaSetId is kept across reconfigs"
        );
        {
            let st = s.lock();
            let stored = repl::members(st.config.as_ref().unwrap());
            assert!(!stored[1].newly_added && stored[1].votes == 1, "{stored:?}");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let st = loop {
            let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
            if st.get_i32("votingMembersCount").unwrap() == 2 || Instant::now() > deadline {
                break st;
            }
            thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(st.get_i32("votingMembersCount").unwrap(), 2, "{st}");
        // Not on a secondary; commitmentStatus only on the primary.
        let e = s.dispatch(&mut conn(1), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 4, "members": [{"_id":0,"host":"a:1"}]}}));
        assert_eq!(code(&e), 10107);
        assert!(e
            .get_str("errmsg")
            .unwrap()
            .starts_with("New config is rejected :: caused by :: replSetReconfig should only be run on a writable PRIMARY. Current state SECONDARY"));
        let e = s.dispatch(
            &mut conn(1),
            &req(doc! {"replSetGetConfig": 1, "commitmentStatus": true}),
        );
        assert_eq!(code(&e), 10107);
        assert_eq!(
            e.get_str("errmsg").unwrap(),
            "commitmentStatus is only supported on primary."
        );
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetGetConfig": 1, "commitmentStatus": "yes"}),
        );
        assert_eq!(code(&e), 14);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let r = s.dispatch(
                &mut conn(0),
                &req(doc! {"replSetGetConfig": 1, "commitmentStatus": true}),
            );
            if r.get_bool("commitmentStatus").unwrap() {
                break;
            }
            assert!(Instant::now() < deadline, "{r}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn reconfigs_wait_for_commitment_and_answer_109_308_50() {
        let s = sim(&[
            "--member",
            "a:1",
            "--member",
            "b:2",
            "--member",
            "c:3",
            "--repl-set",
            "rs0",
            "--startup2-delay",
            "10ms",
            "--election-delay",
            "10ms",
            "--drain-delay",
            "10ms",
            "--config-commit-delay",
            "600ms",
            "--quorum-check-delay",
            "300ms",
        ]);
        let three = |v: i32| doc! {"_id": "rs0", "version": v, "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"},{"_id":2,"host":"c:3"}]};
        s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": three(1)}));
        wait_for(&s, 0, |h| h.get_bool("isWritablePrimary").unwrap_or(false));
        // Reconfig v2 runs its quorum check for 300ms, then waits ~600ms for b or c to get it.
        let s2 = Arc::clone(&s);
        let t0 = Instant::now();
        let first = thread::spawn(move || {
            s2.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": three(2)}))
        });
        thread::sleep(Duration::from_millis(100));
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": three(3)}));
        assert_eq!(code(&e), 109, "{e}");
        assert_eq!(
            e.get_str("errmsg").unwrap(),
            "Cannot run replSetReconfig because the node is currently updating its configuration"
        );
        // v2 installed, not committed: a reconfig with a short maxTimeMS waits, then 308.
        wait_version(&s, 2);
        let r = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetGetConfig": 1, "commitmentStatus": true}),
        );
        assert!(!r.get_bool("commitmentStatus").unwrap(), "{r}");
        let t1 = Instant::now();
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetReconfig": three(3), "maxTimeMS": 100}),
        );
        assert!(t1.elapsed() >= Duration::from_millis(100));
        assert_eq!(code(&e), 308, "{e}");
        assert_eq!(e.get_str("errmsg").unwrap(), "New config is rejected :: caused by :: Current config with {version: 2, term: 1} has not yet propagated to a majority of nodes :: caused by :: operation exceeded time limit");
        // The first reconfig answers only once v2 is committed.
        let ok = first.join().unwrap();
        assert_eq!(ok.get_f64("ok").unwrap(), 1.0, "{ok}");
        assert!(t0.elapsed() >= Duration::from_millis(900));
        let r = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetGetConfig": 1, "commitmentStatus": true}),
        );
        assert!(r.get_bool("commitmentStatus").unwrap(), "{r}");
        // Installed but not propagated within maxTimeMS: MaxTimeMSExpired, config in use.
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetReconfig": three(3), "maxTimeMS": 400}),
        );
        assert_eq!(code(&e), 50, "{e}");
        assert!(e
            .get_str("errmsg")
            .unwrap()
            .starts_with("Reconfig finished but failed to propagate to a majority :: caused by :: Current config with {version: 3, term: 1}"));
        assert_eq!(cfg_of(&s, 0).get_i32("version").unwrap(), 3);
        // Member rows show the version each member has.
        let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
        let versions: Vec<i32> = st
            .get_array("members")
            .unwrap()
            .iter()
            .map(|m| m.as_document().unwrap().get_i32("configVersion").unwrap())
            .collect();
        assert_eq!(versions[0], 3);
        assert!(versions[1] < 3 && versions[2] < 3, "{versions:?}");
        // Once committed: removing two voters at once is refused.
        let ok = s
            .wait_committed(s.lock(), Some(Instant::now() + Duration::from_secs(5)))
            .1;
        assert!(ok);
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetReconfig": {"_id": "rs0", "version": 4, "members": [{"_id":0,"host":"a:1"}]}}));
        assert_eq!(code(&e), 103, "{e}");
        assert_eq!(
            e.get_str("errmsg").unwrap(),
            "Non force replica set reconfig can only add or remove at most 1 voting member."
        );
    }
}
