//! The handshake: hello / legacy isMaster, awaitable
//! (https://www.mongodb.com/docs/manual/reference/command/hello/), and buildInfo / getParameter
//! (at the end).
//!
//! Read upstream (mongodb/mongo@d4d4a26801f7, src/mongo/db/repl/replication_coordinator_impl.cpp;
//! @610d9be50d6e, src/mongo/db/repl/topology_coordinator.cpp):
//! * `_makeHelloResponse`: a PRIMARY that cannot accept writes yet (drain mode) reports
//!   `isWritablePrimary: false` AND `secondary: true` ("Report that we are secondary and not
//!   accepting writes until drain completes"); `primary` still names itself.
//! * `fillHelloForReplSet`: `hosts` = electable members, `arbiters`, `passives` = the rest;
//!   hidden and delayed members are left out; `secondary` = state SECONDARY; `arbiterOnly` for
//!   an arbiter, `passive` for a priority-0 member, `hidden`; `electionId` on the primary;
//!   a REMOVED node answers like a node without config.
//! * `_getHelloResponseFuture` (awaitable hello): no `topologyVersion` → answer now; another
//!   `processId` (the server restarted) → answer now; a client counter above the server's →
//!   error 31382; below → answer now; equal → wait for the next topology change, or answer at
//!   `maxAwaitTimeMS` with the same topologyVersion.

use super::{
    election_id, fail, Conn, Sim, MAX_BSON_OBJECT_SIZE, MAX_WIRE_VERSION, MAX_WRITE_BATCH_SIZE,
};
use crate::repl::{self, CmdError, MemberState};
use crate::wire::{self, Request};
use bson::{doc, Bson, DateTime, Document, Timestamp};
use std::time::{Duration, Instant};

impl Sim {
    /// Whether sim member `idx` acts as an arbiter: `arbiterOnly: true` in the config, or
    /// `--member-state …=ARBITER`.
    /// This member's entry in `config`, as stored.
    fn raw_member(&self, config: &Document, idx: usize) -> Option<Document> {
        config
            .get_array("members")
            .ok()?
            .iter()
            .filter_map(|m| m.as_document())
            .find(|m| {
                m.get_str("host")
                    .is_ok_and(|h| self.member_for(h) == Some(idx))
            })
            .cloned()
    }

    pub(super) fn is_arbiter(&self, config: &Document, idx: usize) -> bool {
        self.members[idx].forced == Some(MemberState::Arbiter)
            || repl::members(config)
                .iter()
                .any(|m| m.arbiter && self.member_for(&m.host) == Some(idx))
    }

    /// The state a member settles in after STARTUP2: SECONDARY, ARBITER for an arbiter, or the
    /// state forced by `--member-state`.
    pub(super) fn settled_state(&self, config: &Document, idx: usize) -> MemberState {
        match self.members[idx].forced {
            Some(s) => s,
            None if self.is_arbiter(config, idx) => MemberState::Arbiter,
            None => MemberState::Secondary,
        }
    }

    pub(super) fn hello(
        &self,
        conn: &Conn,
        req: &Request,
        legacy: bool,
    ) -> Result<Document, CmdError> {
        let idx = conn.member;
        let me = &self.members[idx];
        let mut st = self.lock();
        if let (Ok(tv), Some(max)) = (
            req.body.get_document("topologyVersion"),
            repl::num(req.body.get("maxAwaitTimeMS")),
        ) {
            let same_process = tv.get_object_id("processId").ok() == Some(me.process_id);
            let counter = repl::num(tv.get("counter")).unwrap_or(-1.0) as i64;
            let current = st.rt[idx].counter;
            if same_process && counter > current {
                return Err(CmdError::new(
                    31382,
                    format!("Received a topology version with counter: {counter} which is greater than the server topology version counter: {current}"),
                ));
            }
            if same_process && counter == current {
                let deadline = Instant::now() + Duration::from_millis(max.max(0.0) as u64);
                while st.rt[idx].counter == counter {
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    st = self
                        .cv
                        .wait_timeout(st, deadline - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            }
        }
        let primary_key = if legacy {
            "ismaster"
        } else {
            "isWritablePrimary"
        };
        let mut d = Document::new();
        if req.body.contains_key("helloOk") {
            d.insert("helloOk", true);
        }
        d.insert(
            "topologyVersion",
            doc! {"processId": me.process_id, "counter": Bson::Int64(st.rt[idx].counter)},
        );
        let config = st.config.clone();
        match (self.repl_enabled(), st.rt[idx].state, config) {
            (false, _, _) => {
                d.insert(primary_key, true);
            }
            (true, Some(state), Some(config)) if state != MemberState::Removed => {
                let ms = repl::members(&config);
                let arb = |h: &str| {
                    self.member_for(h)
                        .is_some_and(|i| self.is_arbiter(&config, i))
                };
                // fillHelloForReplSet: "if (member.isHidden() || member.getSecondaryDelay() > 0) continue;"
                let visible = ms.iter().filter(|m| !m.hidden && m.secondary_delay <= 0);
                let (mut hosts, mut passives, mut arbiters) = (vec![], vec![], vec![]);
                for m in visible {
                    if m.arbiter || arb(&m.host) {
                        arbiters.push(m.host.clone());
                    } else if m.priority > 0.0 {
                        hosts.push(m.host.clone());
                    } else {
                        passives.push(m.host.clone());
                    }
                }
                d.insert("hosts", hosts);
                if !passives.is_empty() {
                    d.insert("passives", passives);
                }
                if !arbiters.is_empty() {
                    d.insert("arbiters", arbiters);
                }
                d.insert("setName", config.get_str("_id").unwrap_or_default());
                d.insert("setVersion", repl::version(&config) as i32);
                let primary = state == MemberState::Primary;
                let writable = primary && st.rt[idx].writable;
                d.insert(primary_key, writable);
                // Drain mode: "Report that we are secondary ... until drain completes."
                d.insert(
                    "secondary",
                    state == MemberState::Secondary || (primary && !writable),
                );
                if let Some(p) = st.primary {
                    if let Some(h) = self.config_host_of(&config, p) {
                        d.insert("primary", h);
                    }
                }
                let mine = ms.iter().find(|m| self.member_for(&m.host) == Some(idx));
                if self.is_arbiter(&config, idx) {
                    d.insert("arbiterOnly", true);
                } else if mine.is_some_and(|m| m.priority <= 0.0) {
                    d.insert("passive", true);
                }
                if mine.is_some_and(|m| m.hidden) {
                    d.insert("hidden", true);
                }
                // hello_response.cpp addToBSON: buildIndexes only when false, secondaryDelaySecs
                // only when set, tags only when there are some.
                if let Some(raw) = self.raw_member(&config, idx) {
                    if raw.get_bool("buildIndexes") == Ok(false) {
                        d.insert("buildIndexes", false);
                    }
                    if let Some(m) = mine.filter(|m| m.secondary_delay > 0) {
                        d.insert("secondaryDelaySecs", Bson::Int64(m.secondary_delay));
                    }
                    if let Ok(tags) = raw.get_document("tags") {
                        if !tags.is_empty() {
                            d.insert("tags", tags.clone());
                        }
                    }
                }
                if let Some(m) = mine {
                    d.insert("me", m.host.clone());
                }
                if primary {
                    d.insert("electionId", election_id(st.term));
                }
                let ts = Timestamp {
                    time: (st.last_write.timestamp_millis() / 1000) as u32,
                    increment: 1,
                };
                let optime = doc! {"ts": ts, "t": st.term};
                d.insert(
                    "lastWrite",
                    doc! {"opTime": optime.clone(), "lastWriteDate": st.last_write, "majorityOpTime": optime, "majorityWriteDate": st.last_write},
                );
            }
            (true, _, _) => {
                // HelloResponse::addToBSON for a node without a usable config.
                d.insert(primary_key, false);
                d.insert("secondary", false);
                d.insert("info", "Does not have a valid replica set config");
                d.insert("isreplicaset", true);
            }
        }
        drop(st);
        if let Ok(who) = req.body.get_str("saslSupportedMechs") {
            if let Some((db, user)) = who.split_once('.') {
                // The mechanisms the user has credentials for (createUser's `mechanisms`),
                // sasl_commands.cpp / user.cpp getCredentials; an X.509 user ($external) gets [].
                if let Some(u) = self.users.iter().find(|u| db == "admin" && u.name == user) {
                    let mut mechs = Vec::new();
                    if u.sha1.is_some() {
                        mechs.push("SCRAM-SHA-1");
                    }
                    if u.sha256.is_some() {
                        mechs.push("SCRAM-SHA-256");
                    }
                    d.insert("saslSupportedMechs", mechs);
                } else if db == "$external" && self.opts.x509_users.iter().any(|u| u == user) {
                    d.insert("saslSupportedMechs", Vec::<&str>::new());
                }
            }
        }
        // speculativeAuthenticate is deliberately not answered: drivers then run saslStart
        // (auth spec, "Speculative Authentication": absence of the field means fall back).
        d.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE);
        d.insert("maxMessageSizeBytes", wire::MAX_MESSAGE_SIZE as i32);
        d.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
        d.insert("localTime", DateTime::now());
        d.insert("logicalSessionTimeoutMinutes", 30);
        d.insert("connectionId", conn.id);
        d.insert("minWireVersion", 0);
        d.insert("maxWireVersion", MAX_WIRE_VERSION);
        d.insert("readOnly", false);
        d.insert("ok", 1.0);
        Ok(d)
    }
}

/// buildInfo and getParameter: what drivers and our probes ask at connect.
impl Sim {
    pub(super) fn build_info(&self) -> Document {
        let va: Vec<Bson> = self
            .opts
            .version
            .split('.')
            .map(|p| Bson::Int32(p.parse().unwrap_or(0)))
            .chain(std::iter::once(Bson::Int32(0)))
            .take(4)
            .collect();
        doc! {
            "version": self.opts.version.clone(),
            "gitVersion": "0000000000000000000000000000000000000000",
            "versionArray": va,
            "bits": 64,
            "debug": false,
            "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE,
            "storageEngines": ["devnull", "wiredTiger"],
            "ok": 1.0,
        }
    }

    pub(super) fn get_parameter(&self, req: &Request) -> Result<Document, CmdError> {
        let all = matches!(req.body.get("getParameter"), Some(Bson::String(s)) if s == "*");
        let mut out = Document::new();
        if all || req.body.contains_key("featureCompatibilityVersion") {
            out.insert("featureCompatibilityVersion", doc! {"version": "7.0"});
        }
        if all || req.body.contains_key("authenticationMechanisms") {
            out.insert(
                "authenticationMechanisms",
                vec!["SCRAM-SHA-1", "SCRAM-SHA-256"],
            );
        }
        if out.is_empty() {
            // server_parameters: getParameter with no known option.
            return Err(fail(72, "no option found to get"));
        }
        out.insert("ok", 1.0);
        Ok(out)
    }
}
