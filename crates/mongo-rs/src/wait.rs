//! Waiting on the members: who answers, whether the set is initiated, when a PRIMARY is writable.
//! The waits watch members with awaitable hello ([`crate::monitor::Watch`]): a state change
//! wakes us at once, and only connection failures cost a pause. Only members that can decide
//! the current wait are asked: discovery needs one answer per member; the wait for a writable
//! PRIMARY streams the member that will report it (the PRIMARY named by a hello, else the
//! member we initiated or found initiated) and falls back to every member when that one
//! fails. Each request to a member that cannot matter is load on the set for nothing.

use crate::errors::classify;
use crate::init::InitConfig;
use crate::monitor::{Mode, Watch};
use crate::progress::Attempts;
use crate::{plan, Hello, MemberState, Plan};
use mongo_wire::HostPort;
use sidecar::report::Reporter;
use sidecar::{duration, Deadline, Failure};
use std::collections::BTreeMap;
use std::time::Duration;

/// What each watched member said last (its hello, or why it did not answer).
type Seen = BTreeMap<usize, Result<Hello, String>>;

fn label(h: &Hello) -> String {
    match h.state {
        MemberState::Primary { writable: true } => "writable PRIMARY".into(),
        MemberState::Primary { writable: false } => "PRIMARY in drain mode".into(),
        MemberState::Other(None) => "STARTUP2 or RECOVERING".into(),
        ref s => s.name(),
    }
}

fn summary(w: &Watch, seen: &Seen) -> String {
    w.hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| match seen.get(&i) {
            Some(Ok(hello)) => format!("{h} {}", label(hello)),
            Some(Err(e)) => e.clone(),
            None => format!("{h} no answer yet"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn gave_up(deadline: Deadline, what: &str, w: &Watch, seen: &Seen) -> Failure {
    Failure::unavailable(format!(
        "gave up after {}: {what}: {}",
        duration::display(deadline.elapsed()),
        summary(w, seen)
    ))
}

/// The watch and what each member said last, shared by the steps of one run so the monitors'
/// connections (and their awaitable hellos) carry over from one step to the next.
pub struct Members {
    w: Watch,
    seen: Seen,
    /// The member whose answers decide the wait for a PRIMARY, if one is known: the PRIMARY a
    /// hello named, or the member discovery found initiated (or that we initiate). `None`:
    /// every member is streamed.
    lead: Option<usize>,
}

impl Members {
    /// Every member, each asked once until a step says more ([`discover`] needs one answer
    /// per member; [`wait_for_primary`] chooses whom to stream).
    pub fn watch(p: &InitConfig, deadline: Deadline) -> Members {
        Members {
            w: Watch::start(&p.members, deadline, p.cap, Mode::Once),
            seen: Seen::new(),
            lead: None,
        }
    }

    /// Streams the lead alone, or every member when there is none.
    fn refocus(&self) {
        match self.lead {
            Some(i) => self.w.focus(&[i]),
            None => self.w.focus(&(0..self.w.hosts().len()).collect::<Vec<_>>()),
        }
    }
}

/// Steps 1-2 of a default run: whether to initiate. An already-initiated set is recognised from
/// ANY member that answers with the set's name (members down are fine); only a decision to
/// initiate needs every member's answer (none may have a config). Final problems (standalone,
/// mongos, other set name, not a mongod) fail at once.
pub fn discover(
    m: &mut Members,
    p: &InitConfig,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<Plan, Failure> {
    reporter.progress(format!(
        "waiting for {} to answer (deadline {})",
        p.member_names().join(", "),
        duration::display(deadline.budget())
    ));
    let Members { w, seen, lead } = m;
    let mut attempts: BTreeMap<usize, Attempts> = BTreeMap::new();
    loop {
        let Some(ev) = w.next(deadline) else {
            return Err(gave_up(deadline, "not every member answered", w, seen));
        };
        match ev.result {
            Ok(h) => {
                let initiated = h.set_name.is_some();
                seen.insert(ev.index, Ok(h.clone()));
                // Final answers from any member count at once (the plan refuses them).
                plan(&[(ev.host.clone(), h)], &p.set_name)?;
                if initiated {
                    let answered: Vec<(String, Hello)> = seen
                        .iter()
                        .filter_map(|(i, r)| Some((w.hosts()[*i].to_string(), r.clone().ok()?)))
                        .collect();
                    *lead = Some(ev.index);
                    return plan(&answered, &p.set_name);
                }
            }
            Err(e) => {
                let f = classify(&e, &p.context(&ev.host));
                if !f.is_retryable() {
                    return Err(f);
                }
                if cut_by_deadline(&deadline) && seen.contains_key(&ev.index) {
                    continue;
                }
                attempts.entry(ev.index).or_default().failed(&f, reporter);
                seen.insert(ev.index, Err(f.message));
            }
        }
        if seen.len() == p.members.len() && seen.values().all(Result::is_ok) {
            let all: Vec<(String, Hello)> = seen
                .iter()
                .map(|(i, r)| (w.hosts()[*i].to_string(), r.clone().unwrap()))
                .collect();
            // We initiate on the first member: it reports its own election, or names the
            // PRIMARY once another member wins.
            *lead = Some(0);
            return plan(&all, &p.set_name);
        }
    }
}

/// Every read is bounded by the run's deadline, so a (retryable) failure arriving as it runs
/// out (an awaitable hello's answer due at maxAwaitTimeMS = what was left) was cut by the
/// deadline, not by the member: it must not replace what the member said last in the final
/// line. Only a member that said something is kept that way; the margin covers socket timers
/// firing a little early.
fn cut_by_deadline(deadline: &Deadline) -> bool {
    deadline.remaining() <= Duration::from_millis(20)
}

/// Step 3 (and the whole of --wait-only): until some member is a writable PRIMARY. Any seed
/// that answers is enough; a PRIMARY outside the seed list (named by another member's
/// `primary`) is watched too. A member of another set is refused.
pub fn wait_for_primary(
    m: &mut Members,
    p: &InitConfig,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<HostPort, Failure> {
    reporter.progress("waiting for a writable PRIMARY");
    // Answers already queued (discovery returns at its first initiated answer) count first.
    while let Some(ev) = m.w.try_next() {
        if let Ok(h) = ev.result {
            m.seen.insert(ev.index, Ok(h));
        }
    }
    // What the members said before this step may already answer it.
    for (i, r) in m.seen.iter() {
        if let Ok(h) = r {
            if h.state == (MemberState::Primary { writable: true })
                && h.set_name.as_deref() == Some(&p.set_name)
            {
                return Ok(m.w.hosts()[*i].clone());
            }
        }
    }
    // A PRIMARY named by an answer decides the wait, rather than the member that named it.
    let named: Option<HostPort> = m.seen.values().find_map(|r| {
        let h = r.as_ref().ok()?;
        (h.set_name.as_deref() == Some(&p.set_name)).then_some(())?;
        HostPort::parse(h.primary.as_deref()?).ok()
    });
    if let Some(hp) = named {
        m.lead = Some(m.w.add(hp, Mode::Pause));
    }
    m.refocus();
    let Members { w, seen, lead } = m;
    loop {
        let Some(ev) = w.next(deadline) else {
            return Err(gave_up(deadline, "no writable PRIMARY", w, seen));
        };
        match ev.result {
            Ok(h) => {
                if let Some(found) = h.set_name.as_deref().filter(|s| *s != p.set_name) {
                    return Err(Failure::refused(format!(
                        "set-name mismatch: {} belongs to replica set {found:?}, not {:?}",
                        ev.host, p.set_name
                    )));
                }
                if h.state == (MemberState::Primary { writable: true }) {
                    return Ok(w.hosts()[ev.index].clone());
                }
                if let Some(hint) = h.primary.as_deref().and_then(|s| HostPort::parse(s).ok()) {
                    let i = w.add(hint, Mode::Stream);
                    if *lead != Some(i) {
                        *lead = Some(i);
                        w.focus(&[i]);
                    }
                }
                let changed = !matches!(seen.get(&ev.index), Some(Ok(old)) if old.state == h.state);
                if changed {
                    reporter.progress(format!("{} is {}", ev.host, label(&h)));
                }
                seen.insert(ev.index, Ok(h));
            }
            Err(_) if cut_by_deadline(&deadline) && seen.contains_key(&ev.index) => continue,
            Err(e) => {
                if !matches!(seen.get(&ev.index), Some(Err(_))) {
                    reporter.progress(format!("{} unreachable ({e}), retrying", ev.host));
                }
                // The member that was to report the PRIMARY is gone: ask every member again
                // (the failing one keeps retrying at its backoff).
                if *lead == Some(ev.index) {
                    *lead = None;
                    w.focus(&(0..w.hosts().len()).collect::<Vec<_>>());
                }
                seen.insert(ev.index, Err(format!("{} unreachable ({e})", ev.host)));
            }
        }
    }
}

/// Until `host` answers hello (a member must be up before a reconfig adds it: the PRIMARY's
/// quorum check would refuse it). Final problems (not a mongod) fail at once.
pub fn wait_answer(
    p: &InitConfig,
    host: &str,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<Hello, Failure> {
    let hp = HostPort::parse(host).map_err(|e| Failure::usage(format!("member {host}: {e}")))?;
    let w = Watch::start(&[hp], deadline, p.cap, Mode::Once);
    let mut last: Option<Failure> = None;
    let mut attempts = Attempts::default();
    loop {
        let Some(ev) = w.next(deadline) else {
            // The caller's retry adds "gave up after …": say only what happened here.
            let why = last.map_or_else(|| format!("{host} did not answer"), |f| f.message);
            return Err(Failure::unavailable(format!(
                "new member not answering after {} attempt(s): {why}",
                attempts.count()
            )));
        };
        match ev.result {
            Ok(h) => return Ok(h),
            Err(e) => {
                let f = classify(&e, &p.context(host));
                if !f.is_retryable() {
                    return Err(f);
                }
                attempts.failed(&f, reporter);
                last = Some(f);
            }
        }
    }
}
