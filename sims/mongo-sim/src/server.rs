//! The emulated mongod: the shared state of one emulated replica set and the types every
//! command family uses. The parts, each with its upstream sources next to the code:
//! [`commands`] (the one command table: names, auth, roles, handlers), [`hello`] (the handshake:
//! hello/isMaster awaitable, buildInfo, getParameter), [`auth`] (SASL/SCRAM, X.509),
//! [`initiate`], [`status`], [`reconfig`] and [`commitment`] (replication commands),
//! [`timeline`] (the member state machine), [`crud`] (insert/find/listDatabases), [`reply`]
//! (metadata every reply carries), [`persist`] (the config kept in --data-dir), [`net`]
//! (listeners, TLS, the wire loop and faults).

mod auth;
mod commands;
mod commitment;
mod crud;
mod hello;
mod initiate;
mod net;
mod persist;
mod reconfig;
mod reply;
mod status;
#[cfg(test)]
pub(crate) mod tests;
mod timeline;

pub use net::run;

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

fn fail(code: i32, msg: impl Into<String>) -> CmdError {
    CmdError::new(code, msg)
}

pub fn error_doc(e: &CmdError) -> Document {
    doc! {"ok": 0.0, "errmsg": e.msg.clone(), "code": e.code, "codeName": code_name(e.code)}
}

/// A quorum check's entry for a host that did not answer (initiate and reconfig alike).
fn connection_refused(host: &str) -> (String, String) {
    let why = format!("Error connecting to {host} :: caused by :: Connection refused");
    (host.to_string(), why)
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

    /// What the quorum checks' heartbeats find: a config host names a member that listens.
    fn reachable(&self, host: &str) -> bool {
        self.member_for(host).is_some_and(|i| !self.members[i].down)
    }

    /// Index into the config members for sim member `idx`.
    fn config_host_of(&self, config: &Document, idx: usize) -> Option<String> {
        repl::members(config)
            .into_iter()
            .find(|cm| self.member_for(&cm.host) == Some(idx))
            .map(|cm| cm.host)
    }
}
