//! Listeners, connections, command dispatch and the replica-set state machine. Command
//! families with their own upstream sources live in submodules: [`hello`] (hello/isMaster,
//! awaitable), [`status`] (replSetGetStatus), [`reconfig`] (replSetGetConfig/replSetReconfig,
//! commitment, newlyAdded), [`auth`] (SASL/SCRAM), [`crud`] (insert/find), [`reply`] (metadata
//! every reply carries).

mod auth;
mod crud;
mod hello;
mod reconfig;
mod reply;
mod status;

use crate::cli::{split_host_port, Options, EXIT_DATA_DIR, EXIT_LISTEN, EXIT_USAGE};
use crate::log;
use crate::repl::{self, code_name, CmdError, MemberState};
use crate::scram::{self, Conversation, Creds, Mech};
use crate::wire::{self, Request, WireError, OP_QUERY, QUERY_SECONDARY_OK};
use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Document};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{BufReader, ErrorKind};
use std::net::{IpAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// Limits reported by hello (https://www.mongodb.com/docs/manual/reference/command/hello/).
const MAX_BSON_OBJECT_SIZE: i32 = 16 * 1024 * 1024;
const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
/// Wire version of MongoDB 7.0 (src/mongo/db/wire_version.h: WIRE_VERSION_70 = 21).
const MAX_WIRE_VERSION: i32 = 21;
const CONFIG_FILE: &str = "mongo-sim-replset.bson";

/// A sim member as bound (ports resolved when listening on port 0).
#[derive(Debug, Clone)]
pub struct Member {
    pub adv_host: String,
    pub adv_port: u16,
    pub listen_ip: String,
    pub listen_port: u16,
    pub down: bool,
    /// `--member-state`: the state this member enters instead of SECONDARY.
    pub forced: Option<MemberState>,
    /// topologyVersion.processId: new on every (re)start (hello docs, "topologyVersion").
    pub process_id: ObjectId,
}

impl Member {
    pub fn adv(&self) -> String {
        format!("{}:{}", self.adv_host, self.adv_port)
    }

    /// isSelf emulation (src/mongo/db/repl/isself.cpp): the advertised name, or a loopback /
    /// listen address on one of our ports.
    pub fn maps(&self, host: &str) -> bool {
        let Ok((h, p)) = split_host_port(host) else {
            return false;
        };
        let h = h.to_ascii_lowercase();
        if h == self.adv_host.to_ascii_lowercase() && p == self.adv_port {
            return true;
        }
        if p != self.adv_port && p != self.listen_port {
            return false;
        }
        if matches!(h.as_str(), "localhost" | "127.0.0.1" | "::1") || h == self.listen_ip {
            return true;
        }
        let listen: Option<IpAddr> = self.listen_ip.parse().ok();
        match (h.as_str(), p).to_socket_addrs() {
            Ok(addrs) => addrs.map(|a| a.ip()).any(|ip| {
                Some(ip) == listen
                    || (ip.is_loopback() && listen.is_some_and(|l| l.is_unspecified()))
            }),
            Err(_) => false,
        }
    }
}

struct UserRec {
    name: String,
    role: String,
    sha1: Option<Creds>,
    sha256: Option<Creds>,
}

#[derive(Debug, Clone, Default)]
struct MemberRt {
    /// None: no config received yet (ghost / RSGhost in SDAM terms).
    state: Option<MemberState>,
    counter: i64,
    writable: bool,
    /// Version of the newest config this member has received (the `configVersion` its
    /// heartbeats report; MemberData starts at -1). The config is committed once a majority of
    /// voters has the current version.
    cfg_version: Option<i64>,
}

struct SetState {
    config: Option<Document>,
    rt: Vec<MemberRt>,
    term: i64,
    primary: Option<usize>,
    generation: u64,
    store: BTreeMap<String, Vec<Document>>,
    last_write: DateTime,
    election_date: DateTime,
    /// `_rsConfigState == kConfigReconfiguring`: a reconfig (user or automatic) is between its
    /// checks and installing the new config.
    reconfiguring: bool,
    /// Ticks of the cluster time within the current second of `last_write`.
    clock_ticks: u32,
    /// The HMAC key id of admin.system.keys, once a primary has generated the keys.
    key_id: Option<i64>,
}

pub struct Sim {
    pub opts: Options,
    pub members: Vec<Member>,
    users: Vec<UserRec>,
    st: Mutex<SetState>,
    cv: Condvar,
    conn_ids: AtomicI64,
    started: Instant,
    /// The cluster's $clusterTime signing key (keys collection), random per run.
    cluster_key: Vec<u8>,
    /// `--tls-cert-key-file`: every listener speaks TLS only (requireTLS).
    tls: Option<Arc<rustls::ServerConfig>>,
    /// `--tls-ca-file`: the client-certificate check mongod runs after the handshake.
    peer_check: Option<crate::tls::PeerCheck>,
}

fn fail(code: i32, msg: impl Into<String>) -> CmdError {
    CmdError::new(code, msg)
}

pub fn error_doc(e: &CmdError) -> Document {
    doc! {"ok": 0.0, "errmsg": e.msg.clone(), "code": e.code, "codeName": code_name(e.code)}
}

/// mongod's electionId in protocol version 1 is OID::fromTerm(term): 0x7fffffff then the term
/// as a big-endian 64-bit integer (src/mongo/bson/oid.h).
fn election_id(term: i64) -> ObjectId {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
    b[4..].copy_from_slice(&term.to_be_bytes());
    ObjectId::from_bytes(b)
}

/// typeName() of a BSON element (src/mongo/bson/bsontypes.cpp) for TypeMismatch messages.
fn bson_type_name(b: &Bson) -> &'static str {
    match b {
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Null => "null",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        Bson::Binary(_) => "binData",
        Bson::Timestamp(_) => "timestamp",
        _ => "unknown",
    }
}

/// bsonExtractBooleanField's error for a field that is neither a bool nor a number.
fn type_mismatch(field: &str, v: &Bson) -> CmdError {
    let found = bson_type_name(v);
    fail(
        14,
        format!("Expected boolean or number type for field \"{field}\", found {found}"),
    )
}

/// Renders a command like mongod's BSONObj::toString in "not authorized" messages.
fn shellish(b: &Bson) -> String {
    match b {
        Bson::Document(d) => {
            if d.is_empty() {
                return "{}".into();
            }
            let parts: Vec<String> = d
                .iter()
                .map(|(k, v)| format!("{k}: {}", shellish(v)))
                .collect();
            format!("{{ {} }}", parts.join(", "))
        }
        Bson::Array(a) => {
            let parts: Vec<String> = a.iter().map(shellish).collect();
            format!("[ {} ]", parts.join(", "))
        }
        Bson::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

impl Sim {
    pub fn new(opts: Options, members: Vec<Member>) -> Arc<Sim> {
        let users = opts
            .users
            .iter()
            .map(|u| UserRec {
                name: u.name.clone(),
                role: u.role.clone(),
                sha1: opts
                    .user_mechanisms
                    .iter()
                    .any(|m| m == "SCRAM-SHA-1")
                    .then(|| {
                        scram::make_creds(Mech::Sha1, &u.name, &u.password, scram::random_bytes(16))
                    }),
                sha256: opts
                    .user_mechanisms
                    .iter()
                    .any(|m| m == "SCRAM-SHA-256")
                    .then(|| {
                        scram::make_creds(
                            Mech::Sha256,
                            &u.name,
                            &u.password,
                            scram::random_bytes(28),
                        )
                    }),
            })
            .collect();
        let n = members.len();
        Arc::new(Sim {
            opts,
            members,
            users,
            st: Mutex::new(SetState {
                config: None,
                rt: vec![MemberRt::default(); n],
                term: 0,
                primary: None,
                generation: 0,
                store: BTreeMap::new(),
                last_write: DateTime::now(),
                election_date: DateTime::now(),
                reconfiguring: false,
                clock_ticks: 1,
                key_id: None,
            }),
            cv: Condvar::new(),
            conn_ids: AtomicI64::new(0),
            started: Instant::now(),
            cluster_key: scram::random_bytes(32),
            tls: None,
            peer_check: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, SetState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn repl_enabled(&self) -> bool {
        self.opts.repl_set.is_some()
    }

    /// Sim member a config host refers to (first match), if any.
    fn member_for(&self, host: &str) -> Option<usize> {
        self.members.iter().position(|m| m.maps(host))
    }

    /// Index into the config members for sim member `idx`.
    fn config_host_of(&self, config: &Document, idx: usize) -> Option<String> {
        repl::members(config)
            .into_iter()
            .find(|cm| self.member_for(&cm.host) == Some(idx))
            .map(|cm| cm.host)
    }

    /// Advances the cluster time (a config install, an election, a write: oplog entries).
    fn tick(st: &mut SetState) {
        let now = DateTime::now();
        if now.timestamp_millis() / 1000 > st.last_write.timestamp_millis() / 1000 {
            st.clock_ticks = 1;
        } else {
            st.clock_ticks += 1;
        }
        st.last_write = now;
    }

    fn bump(&self, st: &mut SetState, idx: usize) {
        st.rt[idx].counter += 1;
        self.cv.notify_all();
    }

    fn transition(&self, st: &mut SetState, idx: usize, new: MemberState) {
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
    fn install_config(
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

    fn timeline(self: Arc<Self>, gen: u64, is_reconfig: bool) {
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

    fn persist(&self, st: &SetState) {
        let (Some(dir), Some(config)) = (&self.opts.data_dir, &st.config) else {
            return;
        };
        let d = doc! {"config": config.clone(), "term": st.term};
        let mut bytes = Vec::new();
        if d.to_writer(&mut bytes).is_err() {
            return;
        }
        // Atomic replace: write a temp file, then rename over the old one.
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        let res =
            std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, dir.join(CONFIG_FILE)));
        if let Err(e) = res {
            log::line(
                "E",
                "STORAGE",
                0,
                "ReplCoord-0",
                "Failed to persist replica set config",
                json!({"error": e.to_string(), "dataDir": dir.display().to_string()}),
            );
        }
    }

    /// Reloads a persisted config at start (mongod reads local.system.replset).
    pub fn load_persisted(self: &Arc<Self>) -> Result<(), String> {
        let Some(dir) = &self.opts.data_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create --data-dir {}: {e}", dir.display()))?;
        let path: PathBuf = dir.join(CONFIG_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                self.log_no_local_config();
                return Ok(());
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let d = Document::from_reader(&mut &bytes[..]).map_err(|e| {
            format!(
                "{} is not a mongo-sim config file ({e}); delete it or use another --data-dir",
                path.display()
            )
        })?;
        let config = d
            .get_document("config")
            .map_err(|_| {
                format!(
                    "{} has no config; delete it or use another --data-dir",
                    path.display()
                )
            })?
            .clone();
        let name = config.get_str("_id").unwrap_or_default().to_string();
        match &self.opts.repl_set {
            Some(set) if *set == name => {
                let mut st = self.lock();
                st.term = repl::num(d.get("term")).unwrap_or(0.0) as i64;
                self.install_config(&mut st, config, false, None);
            }
            Some(set) => {
                // replication_coordinator_impl.cpp _finishLoadLocalConfig @ d4d4a268: warning
                // 21406, then `myIndex = -1` and `_setCurrentRSConfig` all the same: the node
                // HAS a config it is not in, i.e. REMOVED (replSetGetStatus 93, hello as
                // without config, replSetInitiate 23 "already initialized").
                log::line("W", "REPL", 21406, "initandlisten", "Local replica set configuration document set name differs from command line set name; waiting for reconfig or remote heartbeat", json!({"localConfigSetName": name, "commandLineSetName": set}));
                let mut st = self.lock();
                st.term = repl::num(d.get("term")).unwrap_or(0.0) as i64;
                st.config = Some(config);
                for i in 0..self.members.len() {
                    if !self.members[i].down {
                        self.transition(&mut st, i, MemberState::Removed);
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    pub fn log_no_local_config(&self) {
        if self.repl_enabled() {
            // LOGV2 21313 at startup when local.system.replset is empty.
            log::info(
                "REPL",
                21313,
                "initandlisten",
                "Did not find local replica set configuration document at startup",
                json!({"error": {"code": 47, "codeName": "NoMatchingDocument", "errmsg": "Did not find replica set configuration document in local.system.replset"}}),
            );
        }
    }
}

/// Per-connection state.
struct Conn {
    id: i64,
    member: usize,
    remote: String,
    user: Option<(String, String)>,
    conv: Option<Conversation>,
    /// The verified TLS client certificate's subject (RFC 2253), if one was presented.
    peer_subject: Option<String>,
}

/// Commands that run without authentication (their `requiresAuth()` is false in mongod:
/// hello/isMaster, ping, buildInfo, saslStart/saslContinue, endSessions).
const NO_AUTH: &[&str] = &[
    "hello",
    "isMaster",
    "ismaster",
    "ping",
    "buildInfo",
    "buildinfo",
    "saslStart",
    "saslContinue",
    "authenticate",
    "endSessions",
];

const KNOWN: &[&str] = &[
    "hello",
    "isMaster",
    "ismaster",
    "ping",
    "buildInfo",
    "buildinfo",
    "getParameter",
    "endSessions",
    "replSetInitiate",
    "replSetGetStatus",
    "replSetGetConfig",
    "replSetReconfig",
    "saslStart",
    "saslContinue",
    "authenticate",
    "insert",
    "find",
    "listDatabases",
];

impl Sim {
    fn dispatch(self: &Arc<Self>, conn: &mut Conn, req: &Request) -> Document {
        if self.opts.log_commands {
            let name = req.body.keys().next().cloned().unwrap_or_default();
            let awaitable = req.body.contains_key("maxAwaitTimeMS");
            log::line(
                "I",
                "COMMAND",
                0,
                &format!("conn{}", conn.id),
                "Command received (mongo-sim)",
                json!({"command": name, "awaitable": awaitable, "member": self.members[conn.member].adv()}),
            );
        }
        let mut reply = self.run_command(conn, req);
        self.decorate(conn, req, &mut reply);
        reply
    }

    fn run_command(self: &Arc<Self>, conn: &mut Conn, req: &Request) -> Document {
        let Some(name) = req.body.keys().next().cloned() else {
            return error_doc(&fail(59, "no such command: ''"));
        };
        if !KNOWN.contains(&name.as_str()) {
            // service_entry_point_common.cpp: unknown command -> CommandNotFound.
            return error_doc(&fail(59, format!("no such command: '{name}'")));
        }
        if self.opts.auth && conn.user.is_none() && !NO_AUTH.contains(&name.as_str()) {
            // src/mongo/db/commands.cpp: "Command <name> requires authentication" (code 13).
            return error_doc(&fail(13, format!("Command {name} requires authentication")));
        }
        if let Err(e) = self.check_role(conn, &name, req) {
            return error_doc(&e);
        }
        let res = match name.as_str() {
            "hello" | "isMaster" | "ismaster" => self.hello(conn, req, name != "hello"),
            "ping" | "endSessions" => Ok(doc! {"ok": 1.0}),
            "buildInfo" | "buildinfo" => Ok(self.build_info()),
            "getParameter" => self.get_parameter(req),
            "saslStart" => self.sasl_start(conn, req),
            "saslContinue" => self.sasl_continue(conn, req),
            "authenticate" => self.authenticate_x509(conn, req),
            "replSetInitiate" => self.repl_set_initiate(conn, req),
            "replSetGetStatus" => self.repl_set_get_status(conn),
            "replSetGetConfig" => self.repl_set_get_config(conn, req),
            "replSetReconfig" => self.repl_set_reconfig(conn, req),
            "insert" => self.insert(conn, req),
            "find" => self.find(conn, req),
            "listDatabases" => Ok(self.list_databases()),
            _ => Err(fail(59, format!("no such command: '{name}'"))),
        };
        // No `info` on errors: checkReplEnabledForCommand (94) and processReplSetInitiate (23)
        // append one, but the service entry point's generateErrorResponse resets the reply
        // builder before writing the error (4.x+; 3.6 kept it).
        res.unwrap_or_else(|e| error_doc(&e))
    }

    /// Built-in role privileges, reduced (https://www.mongodb.com/docs/manual/reference/built-in-roles/).
    fn check_role(&self, conn: &Conn, name: &str, req: &Request) -> Result<(), CmdError> {
        let Some((_, role)) = &conn.user else {
            return Ok(());
        };
        let allowed = match name {
            "replSetInitiate" | "replSetReconfig" => {
                matches!(role.as_str(), "root" | "clusterAdmin" | "clusterManager")
            }
            "replSetGetStatus" | "replSetGetConfig" => {
                matches!(
                    role.as_str(),
                    "root" | "clusterAdmin" | "clusterManager" | "clusterMonitor"
                )
            }
            "insert" => matches!(role.as_str(), "root" | "readWrite" | "readWriteAnyDatabase"),
            "find" => matches!(
                role.as_str(),
                "root" | "readWrite" | "readWriteAnyDatabase" | "read" | "readAnyDatabase"
            ),
            _ => true,
        };
        if allowed {
            return Ok(());
        }
        let mut cmd = req.body.clone();
        cmd.remove("lsid");
        cmd.remove("$clusterTime");
        cmd.insert("$db", req.db.clone());
        // AuthorizationSession: "not authorized on <db> to execute command <cmd>".
        Err(fail(
            13,
            format!(
                "not authorized on {} to execute command {}",
                req.db,
                shellish(&Bson::Document(cmd))
            ),
        ))
    }

    fn build_info(&self) -> Document {
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

    fn get_parameter(&self, req: &Request) -> Result<Document, CmdError> {
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

    fn list_databases(&self) -> Document {
        let st = self.lock();
        let mut dbs: Vec<String> = st
            .store
            .keys()
            .filter_map(|ns| ns.split_once('.').map(|(d, _)| d.to_string()))
            .collect();
        dbs.dedup();
        let list: Vec<Bson> = dbs
            .iter()
            .map(|d| {
                Bson::Document(
                    doc! {"name": d.clone(), "sizeOnDisk": Bson::Int64(8192), "empty": false},
                )
            })
            .collect();
        doc! {"databases": list, "totalSize": Bson::Int64(8192 * dbs.len() as i64), "totalSizeMb": Bson::Int64(0), "ok": 1.0}
    }

    // ---------------------------------------------------------------- replication commands

    /// ReplicationCoordinatorImpl::checkReplEnabledForCommand.
    fn check_repl_enabled(&self, st: &SetState, idx: usize) -> Result<(), CmdError> {
        if !self.repl_enabled() {
            return Err(fail(76, "not running with --replSet"));
        }
        if st.rt[idx].state.is_none() || st.config.is_none() {
            return Err(fail(94, "no replset config has been received"));
        }
        Ok(())
    }

    /// CmdReplSetInitiate (repl_set_commands.cpp) + processReplSetInitiate
    /// (replication_coordinator_impl.cpp).
    fn repl_set_initiate(
        self: &Arc<Self>,
        conn: &Conn,
        req: &Request,
    ) -> Result<Document, CmdError> {
        let ctx = format!("conn{}", conn.id);
        // CmdReplSetInitiate::run answers 76 before processReplSetInitiate logs 21356.
        let Some(set) = self.opts.repl_set.clone() else {
            return Err(fail(
                76,
                "This node was not started with replication enabled.",
            ));
        };
        log::info(
            "REPL",
            21356,
            &ctx,
            "replSetInitiate admin command received from client",
            json!({"member": self.members[conn.member].adv()}),
        );
        let mut result = doc! {};
        let mut config = match req.body.get("replSetInitiate") {
            Some(Bson::Document(d)) if !d.is_empty() => d.clone(),
            _ => {
                // Default config: this node alone, named by someHostAndPortForMe().
                let me = self.members[conn.member].adv();
                result.insert(
                    "info2",
                    "no configuration specified. Using a default configuration for the set",
                );
                result.insert("me", me.clone());
                log::info("REPL", 21577, &ctx, "Initiate: no configuration specified. Using a default configuration for the set", serde_json::Value::Null);
                doc! {"_id": set.clone(), "version": 1, "members": [{"_id": 0, "host": me}]}
            }
        };
        if !config.contains_key("version") {
            config.insert("version", 1);
        }
        let mut st = self.lock();
        if st.config.is_some() {
            // processReplSetInitiate's `info` hint is dropped with the reply builder (above).
            return Err(fail(23, "already initialized"));
        }
        let config = repl::normalize(&config, 0)?;
        let name = config.get_str("_id").unwrap_or_default().to_string();
        if name != set {
            // 6.0+ wording (processReplSetInitiate); 4.4/5.0 said "Attempting to initiate a
            // replica set with name X, but command line reports Y; rejecting".
            return Err(fail(93, format!("Rejecting initiate with a set name that differs from command line set name, initiate set name: {name}, command line set name: {set}")));
        }
        let ms = repl::members(&config);
        // repl_set_config_checks.cpp findSelfInConfig.
        let vt = repl::version_and_term(&config);
        let Some(me) = ms.iter().find(|m| self.members[conn.member].maps(&m.host)) else {
            return Err(fail(93, format!("No host described in new configuration with {vt} for replica set {name} maps to this node")));
        };
        // validateConfigForInitiate: findSelfInConfigIfElectable, wrapped into 93.
        if me.arbiter || me.priority <= 0.0 {
            return Err(fail(93, format!("This node, {}, with _id MemberId({}) is not electable under the new configuration with {vt} for replica set {name}", me.host, me.id)));
        }
        let failed: Vec<(String, String)> = ms
            .iter()
            .filter(|m| !self.members[conn.member].maps(&m.host))
            .filter(|m| {
                self.member_for(&m.host)
                    .map_or(true, |i| self.members[i].down)
            })
            .map(|m| {
                (
                    m.host.clone(),
                    format!(
                        "Error connecting to {} :: caused by :: Connection refused",
                        m.host
                    ),
                )
            })
            .collect();
        if let Some(e) = repl::initiate_quorum_error(&failed) {
            return Err(e);
        }
        log::info(
            "REPL",
            21357,
            &ctx,
            "replSetInitiate config object parses ok",
            json!({"numMembers": ms.len()}),
        );
        self.install_config(&mut st, config, false, None);
        result.insert("ok", 1.0);
        Ok(result)
    }
}

fn payload_bytes(body: &Document) -> Vec<u8> {
    match body.get("payload") {
        Some(Bson::Binary(b)) => b.bytes.clone(),
        Some(Bson::String(s)) => s.clone().into_bytes(),
        _ => Vec::new(),
    }
}

// -------------------------------------------------------------------- networking

fn serve_conn(sim: Arc<Sim>, member: usize, stream: TcpStream) {
    let id = sim.conn_ids.fetch_add(1, Ordering::SeqCst) + 1;
    let remote = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let _ = stream.set_nodelay(true);
    log::info(
        "NETWORK",
        22943,
        "listener",
        "Connection accepted",
        json!({"remote": remote, "connectionId": id, "member": sim.members[member].adv()}),
    );
    match sim.tls.clone() {
        None => {
            // session_asio.h maybeHandshakeSSLForIngress: a first message whose responseTo is
            // neither 0 nor -1 is a TLS ClientHello; without TLS configured mongod ends the
            // connection with SSLHandshakeFailed.
            let mut head = [0u8; 12];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let n = stream.peek(&mut head).unwrap_or(0);
            let _ = stream.set_read_timeout(None);
            let response_to = i32::from_le_bytes([head[8], head[9], head[10], head[11]]);
            if n >= 12 && response_to != 0 && response_to != -1 {
                log::line(
                    "I",
                    "NETWORK",
                    22988,
                    &format!("conn{id}"),
                    "Error receiving request from client. Ending connection from remote",
                    json!({"error": {"code": 141, "codeName": "SSLHandshakeFailed", "errmsg": "SSL handshake received but server is started without SSL support"}, "remote": remote}),
                );
                return;
            }
            serve_stream(sim, member, id, remote, None, stream)
        }
        Some(config) => {
            // A client that never finishes its handshake must not hold the thread forever.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            // maybeHandshakeSSLForIngress: a first message whose responseTo is 0 or -1 is
            // the wire protocol in the clear; under requireTLS mongod ends the connection.
            let mut head = [0u8; 12];
            let n = stream.peek(&mut head).unwrap_or(0);
            let response_to = i32::from_le_bytes([head[8], head[9], head[10], head[11]]);
            if n >= 12 && (response_to == 0 || response_to == -1) {
                log::line(
                    "I",
                    "NETWORK",
                    22988,
                    &format!("conn{id}"),
                    "Error receiving request from client. Ending connection from remote",
                    json!({"error": {"code": 141, "codeName": "SSLHandshakeFailed", "errmsg": "The server is configured to only allow SSL connections"}, "remote": remote}),
                );
                return;
            }
            let mut tcp = stream;
            let mut tls = match rustls::ServerConnection::new(config) {
                Ok(t) => t,
                Err(_) => return,
            };
            while tls.is_handshaking() {
                if let Err(e) = tls.complete_io(&mut tcp) {
                    // LOGV2 22988 (transport/session_asio.h): "Error receiving request from
                    // client" with the SSL handshake error.
                    log::line(
                        "I",
                        "NETWORK",
                        22988,
                        &format!("conn{id}"),
                        "Error receiving request from client. Ending connection from remote",
                        json!({"error": format!("SSLHandshakeFailed: {e}"), "remote": remote}),
                    );
                    return;
                }
            }
            if let Some(check) = &sim.peer_check {
                if let Err(why) = check.check(tls.peer_certificates()) {
                    // The handshake completed; mongod logs the refusal and ends the session
                    // without a TLS alert or a reply (transport_layer: 22988 on the error).
                    log::line(
                        "I",
                        "NETWORK",
                        22988,
                        &format!("conn{id}"),
                        "Error receiving request from client. Ending connection from remote",
                        json!({"error": {"code": 141, "codeName": "SSLHandshakeFailed", "errmsg": why}, "remote": remote}),
                    );
                    let _ = tcp.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
            let _ = tcp.set_read_timeout(None);
            let subject = tls
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| crate::tls::subject_rfc2253(c));
            let stream = rustls::StreamOwned::new(tls, tcp);
            serve_stream(sim, member, id, remote, subject, stream)
        }
    }
}

fn serve_stream<S: std::io::Read + std::io::Write>(
    sim: Arc<Sim>,
    member: usize,
    id: i64,
    remote: String,
    peer_subject: Option<String>,
    stream: S,
) {
    let mut reader = BufReader::new(stream);
    let mut conn = Conn {
        id,
        member,
        remote: remote.clone(),
        user: None,
        conv: None,
        peer_subject,
    };
    loop {
        let (header, payload) = match wire::read_message(&mut reader) {
            Ok(m) => m,
            Err(WireError::Io(_)) => break,
            Err(WireError::Malformed(why)) => {
                // mongod ends the session on a protocol violation.
                log::line(
                    "I",
                    "NETWORK",
                    22989,
                    &format!("conn{id}"),
                    "Error receiving request from client. Ending connection from remote",
                    json!({"error": why, "remote": remote}),
                );
                break;
            }
        };
        if sim.opts.reset {
            // Fault: close without answering.
            break;
        }
        if sim.opts.stall {
            // Fault: keep reading, never answer.
            continue;
        }
        let req = match wire::parse_request(&header, &payload) {
            Ok(r) => r,
            Err(e) => {
                log::line(
                    "I",
                    "NETWORK",
                    22989,
                    &format!("conn{id}"),
                    "Error receiving request from client. Ending connection from remote",
                    json!({"error": e.to_string(), "remote": remote}),
                );
                break;
            }
        };
        let reply = sim.dispatch(&mut conn, &req);
        if !sim.opts.slow.is_zero() {
            thread::sleep(sim.opts.slow);
        }
        if req.more_to_come() {
            continue;
        }
        // exhaustAllowed is honoured by answering once without moreToCome, which the wire
        // protocol permits ("the server MAY ... respond with a single reply").
        let bytes = if req.op_code == OP_QUERY {
            wire::encode_op_reply(0, req.request_id, &reply)
        } else {
            wire::encode_op_msg(0, req.request_id, &reply)
        };
        if wire::write_all(reader.get_mut(), &bytes).is_err() {
            break;
        }
    }
    log::info(
        "NETWORK",
        22944,
        &format!("conn{id}"),
        "Connection ended",
        json!({"remote": remote, "connectionId": id}),
    );
}

/// The `--member-state` a member spec is given, if any.
fn forced_state(opts: &Options, spec: &crate::cli::MemberSpec) -> Option<MemberState> {
    opts.member_states.iter().find_map(|(hp, state)| {
        let (h, p) = split_host_port(hp).ok()?;
        let named = (h == spec.adv_host && p == spec.adv_port)
            || (h == spec.listen_ip && p == spec.listen_port);
        named.then(|| MemberState::forced(state)).flatten()
    })
}

/// Binds every member that is not `--down`, prints "Waiting for connections", serves forever.
pub fn run(opts: Options) -> i32 {
    if !opts.listen_delay.is_zero() {
        thread::sleep(opts.listen_delay);
    }
    let mut members = Vec::new();
    let mut listeners = Vec::new();
    for spec in &opts.members {
        let down = opts.down.iter().any(|d| {
            split_host_port(d).is_ok_and(|(h, p)| {
                (h == spec.adv_host && p == spec.adv_port)
                    || (h == spec.listen_ip && p == spec.listen_port)
            })
        });
        let mut m = Member {
            adv_host: spec.adv_host.clone(),
            adv_port: spec.adv_port,
            listen_ip: spec.listen_ip.clone(),
            listen_port: spec.listen_port,
            down,
            forced: forced_state(&opts, spec),
            process_id: ObjectId::new(),
        };
        if down {
            listeners.push(None);
        } else {
            let l = match TcpListener::bind((spec.listen_ip.as_str(), spec.listen_port)) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!(
                        "mongo-sim: cannot listen on {}:{} for member {}:{}: {e}; choose a free port",
                        spec.listen_ip, spec.listen_port, spec.adv_host, spec.adv_port
                    );
                    return EXIT_LISTEN;
                }
            };
            let actual = l.local_addr().map(|a| a.port()).unwrap_or(spec.listen_port);
            if m.adv_port == 0 {
                m.adv_port = actual;
            }
            m.listen_port = actual;
            listeners.push(Some(l));
        }
        members.push(m);
    }
    let tls = match &opts.tls_cert_key_file {
        None => None,
        Some(path) => match crate::tls::server_config(
            path,
            opts.tls_ca_file.as_deref(),
            opts.tls_allow_without_cert,
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("mongo-sim: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let mut sim = Sim::new(opts, members);
    if let Some(sim) = Arc::get_mut(&mut sim) {
        if let Some((config, check)) = tls {
            sim.tls = Some(config);
            sim.peer_check = check;
        }
    }
    if let Err(e) = sim.load_persisted() {
        eprintln!("mongo-sim: {e}");
        return EXIT_DATA_DIR;
    }
    if sim.opts.data_dir.is_none() {
        sim.log_no_local_config();
    }
    let mut handles = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let Some(l) = l else { continue };
        let m = &sim.members[i];
        // LOGV2 23016 (transport_layer_asio.cpp), plus the member names for tests.
        log::info(
            "NETWORK",
            23016,
            "listener",
            "Waiting for connections",
            json!({"port": m.listen_port, "host": m.listen_ip, "member": m.adv(), "ssl": if sim.tls.is_some() { "on" } else { "off" }}),
        );
        let sim = Arc::clone(&sim);
        handles.push(thread::spawn(move || {
            for stream in l.incoming() {
                match stream {
                    Ok(s) => {
                        let sim = Arc::clone(&sim);
                        thread::spawn(move || serve_conn(sim, i, s));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        }));
    }
    for h in handles {
        let _ = h.join();
    }
    0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cli::parse_args;

    pub(super) fn sim(args: &[&str]) -> Arc<Sim> {
        let opts = parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .unwrap();
        let members = opts
            .members
            .iter()
            .map(|s| Member {
                adv_host: s.adv_host.clone(),
                adv_port: s.adv_port,
                listen_ip: s.listen_ip.clone(),
                listen_port: s.listen_port,
                down: opts
                    .down
                    .iter()
                    .any(|d| *d == format!("{}:{}", s.adv_host, s.adv_port)),
                forced: forced_state(&opts, s),
                process_id: ObjectId::new(),
            })
            .collect();
        Sim::new(opts, members)
    }

    pub(super) fn req(body: Document) -> Request {
        Request {
            request_id: 1,
            op_code: wire::OP_MSG,
            body,
            db: "admin".into(),
            flags: 0,
            query_flags: 0,
        }
    }

    pub(super) fn conn(member: usize) -> Conn {
        Conn {
            id: 1,
            member,
            remote: "test".into(),
            user: None,
            conv: None,
            peer_subject: None,
        }
    }

    pub(super) fn code(d: &Document) -> i32 {
        d.get_i32("code").unwrap_or(0)
    }

    pub(super) fn wait_for(s: &Arc<Sim>, idx: usize, f: impl Fn(&Document) -> bool) -> Document {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let h = s.dispatch(&mut conn(idx), &req(doc! {"hello": 1}));
            if f(&h) || Instant::now() > deadline {
                return h;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub(super) const THREE: &[&str] = &[
        "--member",
        "a:1=127.0.0.1:1",
        "--member",
        "b:2=127.0.0.1:2",
        "--member",
        "c:3=127.0.0.1:3",
        "--repl-set",
        "rs0",
        "--election-delay",
        "20ms",
        "--drain-delay",
        "20ms",
        "--startup2-delay",
        "10ms",
    ];

    #[test]
    fn host_mapping() {
        let m = Member {
            adv_host: "mongo-0".into(),
            adv_port: 27017,
            listen_ip: "127.0.0.1".into(),
            listen_port: 40001,
            down: false,
            forced: None,
            process_id: ObjectId::new(),
        };
        assert!(m.maps("mongo-0:27017"));
        assert!(m.maps("MONGO-0:27017"));
        assert!(m.maps("localhost:40001"));
        assert!(m.maps("127.0.0.1:27017"));
        assert!(!m.maps("mongo-1:27017"));
        assert!(!m.maps("localhost:40002"));
        assert!(!m.maps("garbage"));
    }

    #[test]
    fn state_machine_initiate_to_writable_primary() {
        let s = sim(THREE);
        let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
        assert_eq!(
            h.get_str("info").unwrap(),
            "Does not have a valid replica set config"
        );
        assert_eq!(
            code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
            94
        );
        let cfg = doc! {"_id": "rs0", "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"},{"_id":2,"host":"c:3"}]};
        let r = s.dispatch(&mut conn(1), &req(doc! {"replSetInitiate": cfg.clone()}));
        assert_eq!(r.get_f64("ok").unwrap(), 1.0, "{r}");
        assert_eq!(
            code(&s.dispatch(&mut conn(2), &req(doc! {"replSetInitiate": cfg}))),
            23
        );
        let h = wait_for(&s, 0, |h| h.get_bool("isWritablePrimary").unwrap_or(false));
        assert!(h.get_bool("isWritablePrimary").unwrap(), "{h}");
        assert_eq!(h.get_str("setName").unwrap(), "rs0");
        assert_eq!(h.get_str("primary").unwrap(), "a:1");
        let h1 = wait_for(&s, 1, |h| h.get_bool("secondary").unwrap_or(false));
        assert!(h1.get_bool("secondary").unwrap());
        let st = s.dispatch(&mut conn(1), &req(doc! {"replSetGetStatus": 1}));
        assert_eq!(st.get_i32("myState").unwrap(), 2);
        // Writes only on the primary.
        let mut ins = req(doc! {"insert": "c", "documents": [{"x": 1}]});
        ins.db = "test".into();
        assert_eq!(code(&s.dispatch(&mut conn(1), &ins)), 10107);
        assert_eq!(s.dispatch(&mut conn(0), &ins).get_i32("n").unwrap(), 1);
    }

    #[test]
    fn drain_mode_reports_primary_but_not_writable() {
        let s = sim(&[
            "--member",
            "a:1",
            "--repl-set",
            "rs0",
            "--election-delay",
            "10ms",
            "--drain-delay",
            "2s",
            "--startup2-delay",
            "10ms",
        ]);
        let r = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        assert_eq!(r.get_str("me").unwrap(), "a:1");
        let st = {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let st = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
                if st.get_i32("myState").unwrap_or(0) == 1 || Instant::now() > deadline {
                    break st;
                }
                thread::sleep(Duration::from_millis(10));
            }
        };
        assert_eq!(st.get_i32("myState").unwrap(), 1);
        let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
        assert!(!h.get_bool("isWritablePrimary").unwrap());
        // _makeHelloResponse: drain mode reports secondary: true, primary == me.
        assert!(h.get_bool("secondary").unwrap(), "{h}");
        assert_eq!(h.get_str("primary").unwrap(), h.get_str("me").unwrap());
        let mut ins = req(doc! {"insert": "c", "documents": [{"x": 1}], "txnNumber": 1i64});
        ins.db = "test".into();
        let e = s.dispatch(&mut conn(0), &ins);
        assert_eq!(code(&e), 10107);
        // NotPrimaryError replies carry topologyVersion; a retryable write gets its label.
        assert!(e.get_document("topologyVersion").is_ok(), "{e}");
        assert_eq!(
            e.get_array("errorLabels").unwrap(),
            &vec![Bson::from("RetryableWriteError")]
        );
        // A readable member gossips $clusterTime (dummy signature without auth) + operationTime.
        let ct = h.get_document("$clusterTime").unwrap();
        assert_eq!(
            ct.get_document("signature")
                .unwrap()
                .get_i64("keyId")
                .unwrap(),
            0
        );
        assert_eq!(
            h.get_timestamp("operationTime").unwrap(),
            ct.get_timestamp("clusterTime").unwrap()
        );
    }

    #[test]
    fn restart_with_another_set_name_keeps_the_config_and_is_removed() {
        let dir = std::env::temp_dir().join(format!("mongo-sim-rename-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let data = dir.to_str().unwrap().to_string();
        let with = |set: &str| {
            let mut a = THREE.to_vec();
            a.retain(|x| *x != "rs0");
            let pos = a.iter().position(|x| *x == "--repl-set").unwrap();
            a.insert(pos + 1, set);
            a.extend(["--data-dir", &data]);
            let s = sim(&a);
            s.load_persisted().unwrap();
            s
        };
        let first = with("rs0");
        first.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        // Until writable: the timeline (which persists) is over before the restart.
        wait_for(&first, 0, |h| {
            h.get_bool("isWritablePrimary").unwrap_or(false)
        });
        drop(first);
        let s = with("other");
        // _finishLoadLocalConfig: config kept with myIndex -1 -> REMOVED, not a ghost.
        let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
        assert!(h.get_str("setName").is_err(), "{h}");
        assert!(h.get_bool("isreplicaset").unwrap());
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}));
        assert_eq!(code(&e), 93, "{e}");
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        assert_eq!(code(&e), 23, "{e}");
        assert_eq!(e.get_str("errmsg").unwrap(), "already initialized");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn initiate_errors() {
        let s = sim(&[
            "--member",
            "a:1",
            "--member",
            "b:2",
            "--repl-set",
            "rs0",
            "--down",
            "b:2",
        ]);
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetInitiate": {"_id": "other", "members": [{"_id":0,"host":"a:1"}]}}),
        );
        assert_eq!(code(&e), 93);
        assert_eq!(e.get_str("errmsg").unwrap(), "Rejecting initiate with a set name that differs from command line set name, initiate set name: other, command line set name: rs0");
        let e = s.dispatch(
            &mut conn(0),
            &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"zzz:9"}]}}),
        );
        assert_eq!(e.get_str("errmsg").unwrap(), "No host described in new configuration with {version: 1, term: 0} for replica set rs0 maps to this node");
        // validateConfigForInitiate: self must be electable (wrapped into 93).
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"a:1","priority":0},{"_id":1,"host":"b:2"}]}}));
        assert_eq!(
            (code(&e), e.get_str("errmsg").unwrap()),
            (93, "This node, a:1, with _id MemberId(0) is not electable under the new configuration with {version: 1, term: 0} for replica set rs0")
        );
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {"_id": "rs0", "members": [{"_id":0,"host":"a:1"},{"_id":1,"host":"b:2"}]}}));
        assert_eq!(code(&e), 74);
        assert!(e.get_str("errmsg").unwrap().contains("b:2 failed with"));
        let s = sim(&["--member", "a:1"]);
        let e = s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        assert_eq!(code(&e), 76);
        assert_eq!(
            code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
            76
        );
        assert!(s
            .dispatch(&mut conn(0), &req(doc! {"hello": 1}))
            .get_bool("isWritablePrimary")
            .unwrap());
        let e = s.dispatch(&mut conn(0), &req(doc! {"frobnicate": 1}));
        assert_eq!(
            e.get_str("errmsg").unwrap(),
            "no such command: 'frobnicate'"
        );
        assert_eq!(code(&e), 59);
    }

    #[test]
    fn auth_gates_commands() {
        let s = sim(&[
            "--member",
            "a:1",
            "--repl-set",
            "rs0",
            "--auth",
            "--user",
            "admin:pw",
            "--user",
            "app:pw:readWrite",
            "--x509-user",
            "CN=rs-init,O=Ops",
        ]);
        assert_eq!(
            code(&s.dispatch(&mut conn(0), &req(doc! {"replSetGetStatus": 1}))),
            13
        );
        assert_eq!(
            s.dispatch(&mut conn(0), &req(doc! {"ping": 1}))
                .get_f64("ok")
                .unwrap(),
            1.0
        );
        let h = s.dispatch(
            &mut conn(0),
            &req(doc! {"hello": 1, "saslSupportedMechs": "admin.admin"}),
        );
        assert_eq!(h.get_array("saslSupportedMechs").unwrap().len(), 2);
        // An X.509 user has no SASL credentials: the field is there, empty
        // (sasl_mechanism_registry.cpp advertiseMechanismNamesForUser); unknown: no field.
        let h = s.dispatch(
            &mut conn(0),
            &req(doc! {"hello": 1, "saslSupportedMechs": "$external.CN=rs-init,O=Ops"}),
        );
        assert!(h.get_array("saslSupportedMechs").unwrap().is_empty());
        let h = s.dispatch(
            &mut conn(0),
            &req(doc! {"hello": 1, "saslSupportedMechs": "$external.CN=nobody"}),
        );
        assert!(h.get("saslSupportedMechs").is_none());
        let mut c = conn(0);
        c.user = Some(("app".into(), "readWrite".into()));
        let e = s.dispatch(&mut c, &req(doc! {"replSetInitiate": {}}));
        assert_eq!(code(&e), 13);
        assert!(e
            .get_str("errmsg")
            .unwrap()
            .starts_with("not authorized on admin to execute command { replSetInitiate:"));
    }

    #[test]
    fn awaitable_hello_wakes_on_change() {
        let s = sim(&[
            "--member",
            "a:1",
            "--repl-set",
            "rs0",
            "--startup2-delay",
            "10ms",
            "--election-delay",
            "10ms",
            "--drain-delay",
            "10ms",
        ]);
        let h = s.dispatch(&mut conn(0), &req(doc! {"hello": 1}));
        let tv = h.get_document("topologyVersion").unwrap().clone();
        let s2 = Arc::clone(&s);
        let waiter = thread::spawn(move || {
            s2.dispatch(
                &mut conn(0),
                &req(doc! {"hello": 1, "topologyVersion": tv, "maxAwaitTimeMS": 5000}),
            )
        });
        thread::sleep(Duration::from_millis(50));
        s.dispatch(&mut conn(0), &req(doc! {"replSetInitiate": {}}));
        let t0 = Instant::now();
        let h2 = waiter.join().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(4));
        assert!(
            h2.get_document("topologyVersion")
                .unwrap()
                .get_i64("counter")
                .unwrap()
                > 0
        );
    }
}
