//! The last line of defence behind per-socket timeouts: some waits cannot be given a timeout
//! (name resolution through getaddrinfo, a peer that trickles bytes just under every read
//! timeout, a secret file that is a FIFO or on a stuck mount). The watchdog ends the process at
//! the deadline plus a small grace, with the same one-line report as any other timeout, so a
//! probe can never outlive its `--timeout`.
//!
//! It is armed in ONE place, [`crate::cli::main`], before the body runs (so before any file is
//! read); binaries only say what they are waiting for, with [`waiting_for`].

use crate::report::{Report, Reporter};
use crate::{duration, Deadline, Failure};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long past the deadline the watchdog waits for the normal path to report.
pub const GRACE: Duration = Duration::from_millis(50);

static WAITING_FOR: Mutex<String> = Mutex::new(String::new());

/// What the run waits for now, for the timeout line ("mongod at db:27017 to answer hello").
pub fn waiting_for(what: impl Into<String>) {
    *WAITING_FOR.lock().unwrap_or_else(|p| p.into_inner()) = what.into();
}

fn current() -> String {
    let what = WAITING_FOR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if what.is_empty() {
        "the run to finish".into()
    } else {
        what
    }
}

/// Says what the run waits for until the guard is dropped, then restores the previous text.
pub fn scope(what: String) -> Scope {
    let mut guard = WAITING_FOR.lock().unwrap_or_else(|p| p.into_inner());
    let previous = std::mem::replace(&mut *guard, what);
    Scope { previous }
}

pub struct Scope {
    previous: String,
}

impl Drop for Scope {
    fn drop(&mut self) {
        waiting_for(std::mem::take(&mut self.previous));
    }
}

/// Disarms the watchdog when dropped (the run reported by itself).
pub struct Armed(Arc<AtomicBool>);

impl Drop for Armed {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Arms the watchdog for the whole run (called by [`crate::cli::main`] only).
pub(crate) fn arm(deadline: Deadline, reporter: Reporter) -> Armed {
    let done = Arc::new(AtomicBool::new(false));
    let seen = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(deadline.remaining() + GRACE);
        if seen.load(Ordering::SeqCst) {
            return;
        }
        let failure = Failure::unavailable(format!(
            "timed out after {} waiting for {} (raise --timeout if the server is just slow)",
            duration::display(deadline.budget()),
            current()
        ));
        let code = reporter.finish(&Report::from(failure), deadline.elapsed());
        std::process::exit(code);
    });
    Armed(done)
}
