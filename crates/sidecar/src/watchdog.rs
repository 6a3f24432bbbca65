//! The last line of defence behind per-socket timeouts: some waits cannot be given a timeout
//! (name resolution through getaddrinfo, a peer that trickles bytes just under every read
//! timeout). The watchdog ends the process at the deadline plus a small grace, with the same
//! one-line report as any other timeout, so a probe can never outlive its `--timeout`.

use crate::report::{Report, Reporter};
use crate::{duration, Deadline, Failure};
use std::time::Duration;

/// How long past the deadline the watchdog waits for the normal path to report.
pub const GRACE: Duration = Duration::from_millis(50);

/// Arms the watchdog; `what` says what was being waited for ("mongod at db:27017 to answer").
pub fn arm(deadline: Deadline, reporter: Reporter, what: String) {
    std::thread::spawn(move || {
        std::thread::sleep(deadline.remaining() + GRACE);
        let failure = Failure::unavailable(format!(
            "timed out after {} waiting for {what} (raise --timeout if the server is just slow)",
            duration::display(deadline.budget())
        ));
        let code = reporter.finish(&Report::from(failure), deadline.elapsed());
        std::process::exit(code);
    });
}
