//! The member state machine: a config installed (initiate, reconfig, reload at start), then
//! STARTUP2 -> SECONDARY -> election -> PRIMARY in drain mode -> writable, with the delays the
//! command line sets; every transition logged as mongod logs it and woken up for awaitable
//! hellos.

use super::*;

impl Sim {
    /// Advances the cluster time (a config install, an election, a write: oplog entries).
    pub(super) fn tick(st: &mut SetState) {
        let now = DateTime::now();
        if now.timestamp_millis() / 1000 > st.last_write.timestamp_millis() / 1000 {
            st.clock_ticks = 1;
        } else {
            st.clock_ticks += 1;
        }
        st.last_write = now;
    }

    pub(super) fn bump(&self, st: &mut SetState, idx: usize) {
        st.rt[idx].counter += 1;
        self.cv.notify_all();
    }

    pub(super) fn transition(&self, st: &mut SetState, idx: usize, new: MemberState) {
        let old = st.rt[idx].state.unwrap_or(MemberState::Startup);
        st.rt[idx].state = Some(new);
        // LOGV2 21358 in replication_coordinator_impl.cpp (_updateMemberStateFromTopologyCoordinator).
        log::info(
            "REPL",
            21358,
            "ReplCoord-0",
            "Replica set state transition",
            json!({"newState": new.as_str(), "oldState": old.as_str(), "member": self.members[idx].adv()}),
        );
        self.bump(st, idx);
    }

    /// Installs a config (initiate, reconfig or reload at start) and schedules the transitions
    /// STARTUP2 -> SECONDARY -> (election) PRIMARY -> drain -> writable.
    ///
    /// `installer` is the member that ran a reconfig: it has the config at once, the others get
    /// it `--config-commit-delay` later (heartbeat propagation). Initiate and reload give it to
    /// every reachable member at once.
    pub(super) fn install_config(
        self: &Arc<Self>,
        st: &mut SetState,
        config: Document,
        is_reconfig: bool,
        installer: Option<usize>,
    ) {
        log::info(
            "REPL",
            21392,
            "ReplCoord-0",
            "New replica set config in use",
            json!({"config": Bson::Document(config.clone()).into_relaxed_extjson()}),
        );
        let in_config: Vec<Option<String>> = (0..self.members.len())
            .map(|i| self.config_host_of(&config, i))
            .collect();
        let version = repl::version(&config);
        Self::tick(st);
        st.config = Some(config);
        let receivers: Vec<usize> = (0..self.members.len())
            .filter(|i| in_config[*i].is_some() && !self.members[*i].down)
            .collect();
        match installer {
            None => {
                for i in &receivers {
                    st.rt[*i].cfg_version = Some(version);
                }
            }
            Some(p) => {
                st.rt[p].cfg_version = Some(version);
                let sim = Arc::clone(self);
                let delay = self.opts.config_commit_delay;
                thread::spawn(move || {
                    thread::sleep(delay);
                    let mut st = sim.lock();
                    let mut delivered = Vec::new();
                    for i in receivers {
                        if st.rt[i].cfg_version.map_or(true, |v| v < version) {
                            st.rt[i].cfg_version = Some(version);
                            // Installing a config from a heartbeat is a topology change on that
                            // member (_updateMemberStateFromTopologyCoordinator fulfils the
                            // hello promises whenever a config is in use).
                            sim.bump(&mut st, i);
                            delivered.push(sim.members[i].adv());
                        }
                    }
                    // Emulator-only line (id 0): when the other members got the config, so
                    // tests can tell "installed" from "propagated".
                    log::line(
                        "I",
                        "REPL",
                        0,
                        "ReplCoord-0",
                        "Config delivered to members (mongo-sim)",
                        json!({"version": version, "members": delivered}),
                    );
                    sim.cv.notify_all();
                });
            }
        }
        for (i, host) in in_config.iter().enumerate() {
            if self.members[i].down {
                continue;
            }
            match (host, st.rt[i].state) {
                (Some(h), None) | (Some(h), Some(MemberState::Removed)) => {
                    log::info(
                        "REPL",
                        21393,
                        "ReplCoord-0",
                        "Found self in config",
                        json!({"hostAndPort": h}),
                    );
                    self.transition(st, i, MemberState::Startup2);
                }
                (Some(_), Some(_)) => self.bump(st, i), // setVersion changed
                (None, Some(_)) => {
                    st.rt[i].writable = false;
                    self.transition(st, i, MemberState::Removed);
                }
                (None, None) => {}
            }
        }
        self.persist(st);
        if !is_reconfig {
            st.generation += 1;
        }
        let gen = st.generation;
        let sim = Arc::clone(self);
        thread::spawn(move || sim.timeline(gen, is_reconfig));
    }

    pub(super) fn timeline(self: Arc<Self>, gen: u64, is_reconfig: bool) {
        thread::sleep(self.opts.startup2_delay);
        {
            let mut st = self.lock();
            if st.generation != gen {
                return;
            }
            let mut now_secondary = Vec::new();
            let config = st.config.clone().unwrap_or_default();
            for i in 0..self.members.len() {
                if st.rt[i].state == Some(MemberState::Startup2) {
                    let settled = self.settled_state(&config, i);
                    self.transition(&mut st, i, settled);
                    if settled == MemberState::Secondary {
                        now_secondary.push(i);
                    }
                }
            }
            self.schedule_newly_added_removal(&mut st, &now_secondary);
            if is_reconfig || st.primary.is_some() {
                return;
            }
        }
        // Election after electionTimeoutMillis-like delay (topology_coordinator.cpp: a
        // SECONDARY that sees no primary stands for election).
        thread::sleep(self.opts.election_delay);
        let primary = {
            let mut st = self.lock();
            if st.generation != gen || st.primary.is_some() {
                return;
            }
            let Some(config) = st.config.clone() else {
                return;
            };
            let candidate = repl::members(&config).into_iter().find_map(|cm| {
                if cm.arbiter || cm.priority <= 0.0 {
                    return None;
                }
                let i = self.member_for(&cm.host)?;
                (!self.members[i].down && st.rt[i].state == Some(MemberState::Secondary))
                    .then_some(i)
            });
            let Some(p) = candidate else { return };
            st.term += 1;
            st.primary = Some(p);
            st.election_date = DateTime::now();
            let term = st.term;
            // LOGV2 21450 (replication_coordinator_impl_elect_v1.cpp).
            log::info(
                "ELECTION",
                21450,
                "ReplCoord-1",
                "Election succeeded, assuming primary role",
                json!({"term": term, "member": self.members[p].adv()}),
            );
            // Primary drain mode: state PRIMARY but not yet accepting writes
            // (ReplicationCoordinatorImpl::signalDrainComplete).
            self.transition(&mut st, p, MemberState::Primary);
            if let Some(c) = st.config.as_mut() {
                c.insert("term", term as i32);
            }
            Self::tick(&mut st);
            self.persist(&st);
            p
        };
        thread::sleep(self.opts.drain_delay);
        let mut st = self.lock();
        if st.generation != gen || st.primary != Some(primary) {
            return;
        }
        st.rt[primary].writable = true;
        // The new primary's KeysCollectionManager generates the $clusterTime signing keys.
        if st.key_id.is_none() {
            st.key_id = Some(((DateTime::now().timestamp_millis() / 1000) << 32) | 1);
        }
        let term = st.term;
        // LOGV2 21331 (replication_coordinator_impl.cpp signalDrainComplete).
        log::info(
            "REPL",
            21331,
            "OplogApplier-0",
            "Transition to primary complete; database writes are now permitted",
            json!({"term": term, "member": self.members[primary].adv()}),
        );
        self.bump(&mut st, primary);
    }
}
