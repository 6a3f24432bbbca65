//! A watchdog per pass. sidecar's watchdog ends the process at ONE deadline; a loop needs one
//! that is re-armed for every pass: whatever blocks a pass (name resolution has no timeout)
//! ends the process one grace period after that pass's deadline, with one line, exit 1, and
//! the kubelet restarts the container.

use sidecar::report::{Report, Reporter};
use sidecar::{duration, Deadline, Failure};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const GRACE: Duration = Duration::from_secs(2);

pub struct PassWatch {
    current: Arc<Mutex<Option<Deadline>>>,
}

impl PassWatch {
    pub fn start(reporter: Reporter) -> PassWatch {
        let current: Arc<Mutex<Option<Deadline>>> = Arc::default();
        let seen = Arc::clone(&current);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(200));
            let late = seen
                .lock()
                .map(|d| d.filter(|d| d.elapsed() > d.budget() + GRACE))
                .unwrap_or(None);
            if let Some(d) = late {
                let f = Failure::unavailable(format!(
                    "a pass did not finish within {} (+{} grace): exiting so that it restarts",
                    duration::display(d.budget()),
                    duration::display(GRACE)
                ));
                std::process::exit(reporter.finish(&Report::from(f), d.elapsed()));
            }
        });
        PassWatch { current }
    }

    pub fn begin(&self, deadline: Deadline) {
        if let Ok(mut c) = self.current.lock() {
            *c = Some(deadline);
        }
    }

    pub fn end(&self) {
        if let Ok(mut c) = self.current.lock() {
            *c = None;
        }
    }
}
