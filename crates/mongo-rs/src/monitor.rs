//! Waiting for a member's state to change the way drivers do: the SDAM streaming protocol
//! ("awaitable hello", https://github.com/mongodb/specifications, server-discovery-and-monitoring
//! / server-monitoring). The first hello on a connection is a plain one; each later one carries
//! the `topologyVersion` last seen and `maxAwaitTimeMS`, and mongod answers as soon as its
//! topology changes (a state transition, a new config, drain mode ending) or at maxAwaitTimeMS
//! (replication_coordinator_impl.cpp `awaitHelloResponse` / `_getHelloResponseFuture`).
//!
//! [`Watch`] runs one monitor thread per member (a driver's monitor per server) and hands every
//! answer to the caller through a channel, so a transition on ANY member wakes the caller at
//! once. Only connection failures are retried after a pause: quick while the member was never
//! reached, and capped low once it had answered (it is most likely restarting).

use crate::progress::{MEMBER_ANSWERED, MEMBER_NEVER_ANSWERED};
use crate::state::{self, Hello};
use mongo_wire::{Connection, Doc, Error, HostPort};
use sidecar::Deadline;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The longest an awaitable hello waits server-side: drivers use heartbeatFrequencyMS (10 s);
/// shorter here so a monitor notices a stop request and the deadline soon.
pub const MAX_AWAIT: Duration = Duration::from_secs(2);

/// One member's monitor: a connection and the topologyVersion its server last reported.
pub struct Monitor {
    host: HostPort,
    cap: Duration,
    conn: Option<Connection>,
    topology_version: Option<Doc>,
    legacy: bool,
}

impl Monitor {
    pub fn new(host: HostPort, cap: Duration) -> Self {
        Monitor {
            host,
            cap,
            conn: None,
            topology_version: None,
            legacy: false,
        }
    }

    /// The next hello: at once on a fresh connection, else when the server's topology changes
    /// or after `max_await`. A failure drops the connection (the next call reconnects).
    pub fn next(&mut self, deadline: Deadline, max_await: Duration) -> Result<(Doc, Hello), Error> {
        let r = self.next_inner(deadline, max_await);
        if r.is_err() {
            self.conn = None;
            self.topology_version = None;
        }
        r
    }

    fn next_inner(
        &mut self,
        deadline: Deadline,
        max_await: Duration,
    ) -> Result<(Doc, Hello), Error> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => Connection::connect(&self.host, deadline, self.cap)?,
        };
        let verb = if self.legacy { "isMaster" } else { "hello" };
        let mut cmd = Doc::new().with(verb, 1);
        let mut wait = Duration::ZERO;
        if let Some(tv) = &self.topology_version {
            wait = max_await.min(deadline.remaining());
            cmd = cmd
                .with("topologyVersion", tv.clone())
                .with("maxAwaitTimeMS", wait.as_millis() as i64);
        }
        conn.set_cap(self.cap + wait);
        let reply = match conn.command("admin", cmd) {
            // hello arrived in 4.4.2 (with awaitable hello); older servers know isMaster only.
            Err(e) if e.server_code() == Some(59) && !self.legacy => {
                self.legacy = true;
                conn.command("admin", Doc::new().with("isMaster", 1))?
            }
            other => other?,
        };
        self.topology_version = reply.get_doc("topologyVersion").cloned();
        let hello = state::interpret(&reply);
        self.conn = Some(conn);
        Ok((reply, hello))
    }
}

/// An answer (or failure) from member `index` of a [`Watch`].
pub struct Event {
    pub index: usize,
    pub host: String,
    pub result: Result<Hello, Error>,
}

/// One monitor thread per member, all reporting to one channel. Dropping the watch stops the
/// threads after their current hello (they never outlive the deadline either).
pub struct Watch {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    stop: Arc<AtomicBool>,
    hosts: Vec<HostPort>,
    deadline: Deadline,
    cap: Duration,
}

impl Watch {
    pub fn start(hosts: &[HostPort], deadline: Deadline, cap: Duration) -> Watch {
        let (tx, rx) = channel();
        let mut w = Watch {
            tx,
            rx,
            stop: Arc::new(AtomicBool::new(false)),
            hosts: Vec::new(),
            deadline,
            cap,
        };
        for h in hosts {
            w.add(h.clone());
        }
        w
    }

    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    /// Watches one more member (e.g. a PRIMARY named by another member's hello); returns its
    /// index. A host already watched keeps its index.
    pub fn add(&mut self, host: HostPort) -> usize {
        if let Some(i) = self.hosts.iter().position(|h| *h == host) {
            return i;
        }
        let index = self.hosts.len();
        self.hosts.push(host.clone());
        let (tx, stop, deadline, cap) = (
            self.tx.clone(),
            Arc::clone(&self.stop),
            self.deadline,
            self.cap,
        );
        std::thread::spawn(move || monitor_loop(index, host, tx, stop, deadline, cap));
        index
    }

    /// The next answer from any member, or `None` once `until` has passed.
    pub fn next(&self, until: Deadline) -> Option<Event> {
        self.rx.recv_timeout(until.remaining()).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn monitor_loop(
    index: usize,
    host: HostPort,
    tx: Sender<Event>,
    stop: Arc<AtomicBool>,
    deadline: Deadline,
    cap: Duration,
) {
    let name = host.to_string();
    let mut m = Monitor::new(host, cap);
    let mut answered = false;
    let mut pause = MEMBER_NEVER_ANSWERED.initial;
    while !stop.load(Ordering::SeqCst) && !deadline.expired() {
        let r = m.next(deadline, MAX_AWAIT);
        let failed = r.is_err();
        if r.is_ok() {
            answered = true;
            pause = MEMBER_NEVER_ANSWERED.initial;
        }
        let event = Event {
            index,
            host: name.clone(),
            result: r.map(|(_, h)| h),
        };
        if tx.send(event).is_err() {
            return;
        }
        if failed {
            let top = if answered {
                MEMBER_ANSWERED.max
            } else {
                MEMBER_NEVER_ANSWERED.max
            };
            std::thread::sleep(pause.min(deadline.remaining()));
            pause = (pause * 2).min(top);
        }
    }
}
