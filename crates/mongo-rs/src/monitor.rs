//! Waiting for a member's state to change the way drivers do: the SDAM streaming protocol
//! ("awaitable hello", https://github.com/mongodb/specifications, server-discovery-and-monitoring
//! / server-monitoring). The first hello on a connection is a plain one; each later one carries
//! the `topologyVersion` last seen and `maxAwaitTimeMS`, and mongod answers as soon as its
//! topology changes (a state transition, a new config, drain mode ending) or at maxAwaitTimeMS
//! (replication_coordinator_impl.cpp `awaitHelloResponse` / `_getHelloResponseFuture`).
//!
//! [`Watch`] runs one monitor thread per member (a driver's monitor per server) and hands every
//! answer to the caller through a channel, so a transition on any streamed member wakes the
//! caller at once. Each monitor keeps one connection for its hellos (no RTT connection: we
//! select no server by latency) and the caller sets its [`Mode`]: streamed, asked once, or
//! paused, so members that cannot decide the current wait cost the set nothing. Only
//! connection failures are retried after a pause: quick while the member was never reached,
//! and capped low once it had answered (it is most likely restarting).
//! Spec read: mongodb/specifications source/server-discovery-and-monitoring/server-monitoring.md
//! @ 21eff0f7 (Awaitable hello Protocol, Streaming Protocol, Heartbeat frequency).

use crate::progress::{MEMBER_ANSWERED, MEMBER_NEVER_ANSWERED};
use crate::state::{self, Hello};
use mongo_wire::{Connection, Doc, Error, HostPort};
use sidecar::Deadline;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
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

/// What a member's monitor does next. The spec's monitor always streams ("after processing an
/// ok:1 hello response, the client MUST NOT sleep and MUST begin the next check immediately",
/// server-monitoring.md, Heartbeat frequency); a wait that cannot be decided by a member stops
/// asking it instead, the way a driver stops monitoring a server that left its topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Awaitable hello after awaitable hello, on the same connection.
    Stream,
    /// Until the first answer, then [`Mode::Pause`] (the connection is kept: resuming sends an
    /// awaitable hello with the last topologyVersion, answered at once if it changed meanwhile).
    Once,
    /// No request until the mode changes.
    Pause,
    /// The thread ends (after the hello in flight, if any).
    Stop,
}

/// A monitor's mode, shared with its thread.
struct Gate {
    mode: Mutex<Mode>,
    wake: Condvar,
}

impl Gate {
    fn set(&self, mode: Mode) {
        let mut m = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        if *m != Mode::Stop {
            *m = mode;
        }
        self.wake.notify_all();
    }

    /// `Once` becomes `Pause` after an answer (unless the caller changed it meanwhile).
    fn answered(&self) {
        let mut m = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        if *m == Mode::Once {
            *m = Mode::Pause;
        }
    }

    /// Sleeps `pause` (a connection failure's backoff), then blocks while paused; returns the
    /// mode to go on with (`Stop` at once when stopped or past the deadline).
    fn wait(&self, pause: Duration, deadline: Deadline) -> Mode {
        let until = Deadline::after(pause.min(deadline.remaining()));
        let mut m = self.mode.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if deadline.expired() || *m == Mode::Stop {
                return Mode::Stop;
            }
            let left = if !until.expired() {
                until.remaining()
            } else if *m == Mode::Pause {
                deadline.remaining()
            } else {
                return *m;
            };
            m = self
                .wake
                .wait_timeout(m, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// One monitor thread per member, all reporting to one channel. Dropping the watch stops the
/// threads after their current hello (they never outlive the deadline either).
pub struct Watch {
    tx: Sender<Event>,
    rx: Receiver<Event>,
    gates: Vec<Arc<Gate>>,
    hosts: Vec<HostPort>,
    deadline: Deadline,
    cap: Duration,
}

impl Watch {
    pub fn start(hosts: &[HostPort], deadline: Deadline, cap: Duration, mode: Mode) -> Watch {
        let (tx, rx) = channel();
        let mut w = Watch {
            tx,
            rx,
            gates: Vec::new(),
            hosts: Vec::new(),
            deadline,
            cap,
        };
        for h in hosts {
            w.add(h.clone(), mode);
        }
        w
    }

    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
    }

    /// Watches one more member (e.g. a PRIMARY named by another member's hello) in `mode`;
    /// returns its index. A host already watched keeps its index and monitor, in `mode`.
    pub fn add(&mut self, host: HostPort, mode: Mode) -> usize {
        if let Some(i) = self.hosts.iter().position(|h| *h == host) {
            self.gates[i].set(mode);
            return i;
        }
        let index = self.hosts.len();
        let gate = Arc::new(Gate {
            mode: Mutex::new(mode),
            wake: Condvar::new(),
        });
        self.hosts.push(host.clone());
        self.gates.push(Arc::clone(&gate));
        let (tx, deadline, cap) = (self.tx.clone(), self.deadline, self.cap);
        std::thread::spawn(move || monitor_loop(index, host, tx, gate, deadline, cap));
        index
    }

    /// Streams the members in `only`, pauses every other one.
    pub fn focus(&self, only: &[usize]) {
        for (i, g) in self.gates.iter().enumerate() {
            g.set(if only.contains(&i) {
                Mode::Stream
            } else {
                Mode::Pause
            });
        }
    }

    /// An answer already received, if any (never blocks).
    pub fn try_next(&self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// The next answer from any member, or `None` once `until` has passed.
    pub fn next(&self, until: Deadline) -> Option<Event> {
        self.rx.recv_timeout(until.remaining()).ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        for g in &self.gates {
            g.set(Mode::Stop);
        }
    }
}

fn monitor_loop(
    index: usize,
    host: HostPort,
    tx: Sender<Event>,
    gate: Arc<Gate>,
    deadline: Deadline,
    cap: Duration,
) {
    let name = host.to_string();
    let mut m = Monitor::new(host, cap);
    let mut answered = false;
    let mut pause = MEMBER_NEVER_ANSWERED.initial;
    let mut wait = Duration::ZERO;
    while gate.wait(std::mem::take(&mut wait), deadline) != Mode::Stop {
        let r = m.next(deadline, MAX_AWAIT);
        let failed = r.is_err();
        if r.is_ok() {
            answered = true;
            pause = MEMBER_NEVER_ANSWERED.initial;
            gate.answered();
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
            wait = pause;
            pause = (pause * 2).min(top);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(mode: Mode) -> Arc<Gate> {
        Arc::new(Gate {
            mode: Mutex::new(mode),
            wake: Condvar::new(),
        })
    }

    #[test]
    fn once_pauses_after_the_first_answer_and_a_stream_stays() {
        let g = gate(Mode::Once);
        g.answered();
        assert_eq!(*g.mode.lock().unwrap(), Mode::Pause);
        let g = gate(Mode::Stream);
        g.answered();
        assert_eq!(*g.mode.lock().unwrap(), Mode::Stream);
    }

    #[test]
    fn a_paused_monitor_resumes_when_streamed_and_stop_is_final() {
        let g = gate(Mode::Pause);
        let deadline = Deadline::after(Duration::from_secs(30));
        let waiter = {
            let g = Arc::clone(&g);
            std::thread::spawn(move || g.wait(Duration::ZERO, deadline))
        };
        g.set(Mode::Stream);
        assert_eq!(waiter.join().unwrap(), Mode::Stream);
        g.set(Mode::Stop);
        g.set(Mode::Stream);
        assert_eq!(
            g.wait(Duration::ZERO, deadline),
            Mode::Stop,
            "Stop is never undone"
        );
    }

    #[test]
    fn a_paused_monitor_ends_at_the_deadline() {
        let g = gate(Mode::Pause);
        let deadline = Deadline::after(Duration::from_millis(20));
        assert_eq!(g.wait(Duration::ZERO, deadline), Mode::Stop);
    }
}
