//! How the replica-set waits retry and say so: the backoff of each kind of wait, and the two
//! progress lines (one per pause of [`sidecar::retry::retry`], one per doubling of a watched
//! member's failed attempts), so every step words its retries alike.

use sidecar::report::Reporter;
use sidecar::retry::Backoff;
use sidecar::{duration, Failure};
use std::time::Duration;

// replSetInitiate retries with sidecar's `Backoff::default()` (0.1 s doubling to 2 s).

/// Reading the config and sending one replSetReconfig: "not now" answers pass quickly.
pub const RECONFIG: Backoff = Backoff {
    initial: Duration::from_millis(100),
    max: Duration::from_secs(1),
};
/// A watched member's monitor after a connection failure ([`crate::monitor`]): doubling up to
/// 1 s while the member never answered…
pub const MEMBER_NEVER_ANSWERED: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_secs(1),
};
/// …and up to 250 ms once it had (a restart is short). Reconnecting to the PRIMARY between
/// commitment checks uses the same.
pub const MEMBER_ANSWERED: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_millis(250),
};

/// The `on_retry` of [`sidecar::retry::retry`]: "WHY (attempt N, next in PAUSE)".
pub fn announce(reporter: Reporter) -> impl FnMut(u32, &Failure, Duration) {
    move |n, f, pause| {
        reporter.progress(format!(
            "{f} (attempt {n}, next in {})",
            duration::display(pause)
        ))
    }
}

/// Failed attempts on a watched member (its monitor retries by itself): a line at the 1st,
/// 2nd, 4th, 8th… so a member that stays down does not flood the log.
#[derive(Debug, Default)]
pub struct Attempts(u32);

impl Attempts {
    pub fn failed(&mut self, f: &Failure, reporter: Reporter) {
        self.0 += 1;
        let n = self.0;
        if says(n) {
            reporter.progress(format!("{f} (attempt {n}, retrying)"));
        }
    }

    pub fn count(&self) -> u32 {
        self.0
    }
}

/// Whether failed attempt `n` gets a line: the 1st and every power of two.
fn says(n: u32) -> bool {
    n == 1 || n.is_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_on_a_running_set_retry_quicker_than_initiate() {
        let initiate = Backoff::default();
        assert!(RECONFIG.max < initiate.max && MEMBER_ANSWERED.max < RECONFIG.max);
        assert!(MEMBER_ANSWERED.max < MEMBER_NEVER_ANSWERED.max);
    }

    #[test]
    fn attempts_count_every_failure() {
        let quiet = Reporter {
            prog: "t",
            json: false,
            quiet: true,
        };
        let mut a = Attempts::default();
        for _ in 0..5 {
            a.failed(&Failure::unavailable("down"), quiet);
        }
        assert_eq!(a.count(), 5);
        let said: Vec<u32> = (1..=9).filter(|n| says(*n)).collect();
        assert_eq!(said, [1, 2, 4, 8]);
    }
}
