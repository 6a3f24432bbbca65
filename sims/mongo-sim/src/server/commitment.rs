//! Config commitment (a majority of voters has the current config) and the automatic reconfig
//! a PRIMARY runs to drop `newlyAdded` once a new member is SECONDARY.

use super::*;

impl Sim {
    /// Whether the current config is committed: a majority of its voting members (newlyAdded
    /// ones do not vote) have it (replication_coordinator_impl.cpp
    /// _getConfigReplicationWriteConcern / processReplSetGetConfig "commitmentStatus"). The
    /// oplog-commitment half of the check is always met here (no real oplog).
    pub(super) fn committed(&self, st: &SetState) -> bool {
        let Some(config) = &st.config else {
            return false;
        };
        let version = repl::version(config);
        let (voters, need) = repl::config_majority(config);
        let have = voters
            .iter()
            .filter(|m| {
                self.member_for(&m.host).is_some_and(|i| {
                    !self.members[i].down && st.rt[i].cfg_version.is_some_and(|v| v >= version)
                })
            })
            .count();
        have >= need
    }

    /// awaitConfigCommitment: waits (lock released) until the current config is committed or
    /// `deadline` (maxTimeMS) passes; false on timeout. Without maxTimeMS mongod waits forever.
    pub(super) fn wait_committed<'a>(
        &self,
        mut st: MutexGuard<'a, SetState>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, SetState>, bool) {
        loop {
            if self.committed(&st) {
                return (st, true);
            }
            let step = match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return (st, false);
                    }
                    d - now
                }
                None => Duration::from_secs(1),
            };
            st = match self.cv.wait_timeout(st, step) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// The primary removes `newlyAdded` from a member once its heartbeats report SECONDARY, by
    /// an automatic reconfig (replication_coordinator_impl.cpp
    /// _reconfigToRemoveNewlyAddedField): same config, `version + 1`, the field dropped. It
    /// runs through the ordinary reconfig path, so it needs a writable primary, no other
    /// reconfig running and the current config committed; otherwise it is retried "on the
    /// next heartbeat".
    pub(super) fn schedule_newly_added_removal(
        self: &Arc<Self>,
        st: &mut SetState,
        now_secondary: &[usize],
    ) {
        let Some(config) = st.config.clone() else {
            return;
        };
        for cm in repl::members(&config) {
            if !cm.newly_added {
                continue;
            }
            let Some(i) = self.member_for(&cm.host) else {
                continue;
            };
            if !now_secondary.contains(&i) {
                continue;
            }
            let started = self.begin_newly_added_removal(st, cm.id);
            let sim = Arc::clone(self);
            thread::spawn(move || sim.newly_added_removal(cm.id, started));
        }
    }

    /// One attempt: if a reconfig may run now, marks the node as reconfiguring and returns the
    /// new config and the primary that installs it.
    pub(super) fn begin_newly_added_removal(
        &self,
        st: &mut SetState,
        member_id: i64,
    ) -> Option<(Document, usize)> {
        let config = st.config.clone()?;
        let primary = st.primary.filter(|p| st.rt[*p].writable)?;
        if st.reconfiguring || !self.committed(st) {
            return None;
        }
        let mut newc = config;
        let mut found = false;
        if let Ok(ms) = newc.get_array_mut("members") {
            for m in ms.iter_mut() {
                if let Bson::Document(d) = m {
                    if repl::num(d.get("_id")) == Some(member_id as f64)
                        && d.remove("newlyAdded").is_some()
                    {
                        found = true;
                    }
                }
            }
        }
        if !found {
            return None;
        }
        let version = repl::version(&newc);
        newc.insert("version", (version + 1) as i32);
        newc.insert("term", st.term as i32);
        st.reconfiguring = true;
        // LOGV2 4634505 (replication_coordinator_impl.cpp _reconfigToRemoveNewlyAddedField).
        log::info(
            "REPL",
            4634505,
            "ReplCoord-2",
            "Beginning automatic reconfig to remove 'newlyAdded' config field",
            json!({"memberId": member_id}),
        );
        Some((newc, primary))
    }

    pub(super) fn newly_added_removal(
        self: Arc<Self>,
        member_id: i64,
        mut started: Option<(Document, usize)>,
    ) {
        loop {
            if let Some((newc, primary)) = started.take() {
                // The quorum check (heartbeats) of _doReplSetReconfig; other reconfigs get 109.
                thread::sleep(self.opts.quorum_check_delay);
                let mut st = self.lock();
                // LOGV2 21353: the automatic reconfig goes through _doReplSetReconfig too.
                log::info(
                    "REPL",
                    21353,
                    "ReplCoord-2",
                    "replSetReconfig config object parses ok",
                    json!({"numMembers": repl::members(&newc).len()}),
                );
                self.install_config(&mut st, newc, true, Some(primary));
                st.reconfiguring = false;
                self.cv.notify_all();
                return;
            }
            // "We will retry on the next heartbeat": the commit delay stands for that interval.
            thread::sleep(self.opts.config_commit_delay.max(Duration::from_millis(10)));
            let mut st = self.lock();
            let still = st.config.as_ref().is_some_and(|c| {
                repl::members(c)
                    .iter()
                    .any(|m| m.id == member_id && m.newly_added)
            });
            if !still {
                return;
            }
            started = self.begin_newly_added_removal(&mut st, member_id);
        }
    }
}
