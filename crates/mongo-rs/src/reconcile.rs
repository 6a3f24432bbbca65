//! Step 4 (--reconcile): one replSetReconfig per member to add or remove, on the PRIMARY, each
//! committed before the next. Every attempt re-reads the config, so retries, a concurrent run
//! or a rerun never apply a change twice. A reconfig whose reply was an error AFTER it was sent
//! (50 "Reconfig finished but failed to propagate", a lost reply) may be in force already: the
//! next read then finds nothing to change, and we still wait for that config to commit (and its
//! new member to be SECONDARY) before reporting success.

use crate::client::get_config;
use crate::errors::{classify, classify_reconfig};
use crate::init::InitConfig;
use crate::monitor::{Mode, Watch};
use crate::progress::{self, announce};
use crate::reconfig::{self, Change, Step};
use crate::wait;
use mongo_wire::{Connection, Doc, HostPort};
use sidecar::report::Reporter;
use sidecar::retry::retry;
use sidecar::{Deadline, Failure};
use std::time::Duration;

/// What --reconcile changed, from the config before the first and after the last step.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub version: i64,
}

/// Step 4 (--reconcile): one replSetReconfig per member to add or remove, on the PRIMARY, each
/// committed before the next. Every attempt re-reads the config, so retries, a concurrent run
/// or a rerun never apply a change twice.
pub fn reconcile(
    p: &InitConfig,
    primary: &HostPort,
    deadline: Deadline,
    reporter: Reporter,
) -> (Reconciled, Result<(), Failure>) {
    let wanted = p.member_names();
    let mut primary = primary.clone();
    let mut initial: Option<Vec<String>> = None;
    let mut latest: Option<Doc> = None;
    let mut unconfirmed: Option<Step> = None;
    let summary = |initial: &Option<Vec<String>>, latest: &Option<Doc>| {
        let (Some(before), Some(now)) = (initial, latest) else {
            return Reconciled::default();
        };
        let (added, removed) = reconfig::diff(before, &reconfig::hosts(now));
        Reconciled {
            added,
            removed,
            version: reconfig::version(now),
        }
    };
    loop {
        // Read, plan and send one step (retrying "not now" answers, re-finding the PRIMARY).
        let sent = retry(
            &deadline,
            progress::RECONFIG,
            |n| {
                if n > 1 {
                    let mut watched = wait::Members::watch(p, deadline);
                    primary = wait::wait_for_primary(&mut watched, p, deadline, reporter)?;
                }
                let ctx = p.context(&primary.to_string());
                let fail = |e: mongo_wire::Error| classify_reconfig(&e, &ctx);
                let mut conn = p.admin_conn(&primary, deadline, &fail)?;
                let config = get_config(&mut conn, &primary).map_err(fail)?.doc;
                initial.get_or_insert_with(|| reconfig::hosts(&config));
                latest = Some(config.clone());
                let Some(step) = reconfig::next_step(&config, &wanted, &primary)? else {
                    // Nothing left to change: if our last reconfig's outcome is unknown, it is
                    // in force now (the config shows its change): wait for it like any other.
                    return Ok(unconfirmed.take().map(|s| Step {
                        version: reconfig::version(&config),
                        config,
                        ..s
                    }));
                };
                if let Change::Add(h) = &step.change {
                    wait::wait_answer(p, h, deadline, reporter)?;
                }
                reporter.progress(match &step.change {
                    Change::Add(h) => format!(
                        "adding {h} to replica set {} on PRIMARY {primary} (config version {})",
                        p.set_name, step.version
                    ),
                    Change::Remove(h) => format!(
                        "removing {h} from replica set {} on PRIMARY {primary} (config version {})",
                        p.set_name, step.version
                    ),
                });
                // maxTimeMS bounds the server's wait for the previous config to commit; it then
                // answers CurrentConfigNotCommittedYet (retryable) instead of holding us.
                let max_ms = deadline.timeout(p.cap).as_millis().max(1) as i64;
                let cmd = Doc::new()
                    .with("replSetReconfig", step.config.clone())
                    .with("maxTimeMS", max_ms);
                // From here on the server may have installed the config even if we never
                // hear so (50 after installing, a reply lost on the way back).
                unconfirmed = Some(step.clone());
                conn.command("admin", cmd).map_err(fail)?;
                unconfirmed = None;
                Ok(Some(step))
            },
            announce(reporter),
        );
        let step = match sent {
            Ok(Some(step)) => step,
            Ok(None) => return (summary(&initial, &latest), Ok(())),
            Err(f) => return (summary(&initial, &latest), Err(f)),
        };
        latest = Some(step.config.clone());
        // Wait until the new config is committed before the next step (MongoDB refuses the next
        // reconfig with 109/308 until then): commitmentStatus where the server has it, and a
        // voting majority at this version plus a new member as SECONDARY from replSetGetStatus.
        let new_member = match &step.change {
            Change::Add(h) => Some(h.clone()),
            Change::Remove(_) => None,
        };
        reporter.progress(format!(
            "waiting for config version {} to be committed",
            step.version
        ));
        let committed = wait_committed(p, &primary, &step, deadline, reporter, |conn| {
            let ctx = p.context(&primary.to_string());
            // A failed command may have left the connection unusable: drop it (`Broken`).
            let fail = |e: mongo_wire::Error| Check::Broken(classify(&e, &ctx));
            let running = get_config(conn, &primary).map_err(fail)?;
            let config = running.doc;
            if running.committed == Some(false) {
                return Err(Check::Waiting(Failure::unavailable(format!(
                    "config version {} is not committed yet (commitmentStatus false)",
                    reconfig::version(&config)
                ))));
            }
            let status = conn
                .command("admin", Doc::new().with("replSetGetStatus", 1))
                .map_err(fail)?;
            reconfig::committed(&status, &config, step.version, new_member.as_deref())
                .map_err(|why| Check::Waiting(Failure::unavailable(format!("{primary}: {why}"))))?;
            latest = Some(config);
            Ok(())
        });
        if let Err(f) = committed {
            return (summary(&initial, &latest), Err(f));
        }
    }
}

/// Why a commitment check did not pass: still waiting (the connection is fine), or a failed
/// command (reconnect before the next check).
enum Check {
    Waiting(Failure),
    Broken(Failure),
}

/// Waits until `check` (commitmentStatus + replSetGetStatus on the PRIMARY) passes. Between
/// checks it sleeps on awaitable hello from every member of the new config: a member receiving
/// the config or becoming SECONDARY bumps its topologyVersion and wakes us at once; a quiet
/// second (or a failed connection) re-checks anyway. One authenticated connection is kept.
fn wait_committed(
    p: &InitConfig,
    primary: &HostPort,
    step: &Step,
    deadline: Deadline,
    reporter: Reporter,
    mut check: impl FnMut(&mut Connection) -> Result<(), Check>,
) -> Result<(), Failure> {
    let hosts: Vec<HostPort> = reconfig::members(&step.config)
        .iter()
        .filter_map(|m| HostPort::parse(&m.host).ok())
        .collect();
    let watch = Watch::start(&hosts, deadline, p.cap, Mode::Stream);
    let ctx = p.context(&primary.to_string());
    let fail = |e: mongo_wire::Error| classify(&e, &ctx);
    let mut conn: Option<Connection> = None;
    let mut last = String::new();
    loop {
        let attempt = match conn.take() {
            Some(c) => Ok(c),
            None => retry(
                &deadline,
                progress::MEMBER_ANSWERED,
                |_| p.admin_conn(primary, deadline, &fail),
                announce(reporter),
            ),
        }
        .and_then(|mut c| match check(&mut c) {
            Ok(()) => Ok(()),
            Err(Check::Waiting(f)) => {
                conn = Some(c);
                Err(f)
            }
            Err(Check::Broken(f)) => Err(f),
        });
        match attempt {
            Ok(()) => return Ok(()),
            Err(f) if !f.is_retryable() => return Err(f),
            Err(f) => {
                if f.message != last {
                    reporter.progress(f.message.clone());
                    last = f.message.clone();
                }
                if deadline.expired() {
                    return Err(Failure::unavailable(format!(
                        "gave up after {}: {f}",
                        sidecar::duration::display(deadline.elapsed())
                    )));
                }
                // Any member's change, or one second without any.
                let tick = Deadline::after(Duration::from_secs(1).min(deadline.remaining()));
                let _ = watch.next(tick);
            }
        }
    }
}
