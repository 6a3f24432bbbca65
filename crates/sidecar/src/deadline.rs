//! One deadline per run. Every wait (connect, read, write, backoff sleep) takes its timeout from
//! the time left, so no sequence of slow steps can outlive the deadline the operator gave.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    start: Instant,
    end: Instant,
}

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        let start = Instant::now();
        Deadline {
            start,
            end: start + budget,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    pub fn budget(&self) -> Duration {
        self.end - self.start
    }

    /// A timeout for one blocking call: at most `cap`, never past the deadline, never zero
    /// (std's socket timeouts reject zero, which would mean "block forever").
    pub fn timeout(&self, cap: Duration) -> Duration {
        self.remaining().min(cap).max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_is_capped_and_never_zero() {
        let d = Deadline::after(Duration::from_secs(10));
        assert!(d.timeout(Duration::from_secs(1)) <= Duration::from_secs(1));
        let gone = Deadline::after(Duration::ZERO);
        assert!(gone.expired());
        assert_eq!(
            gone.timeout(Duration::from_secs(1)),
            Duration::from_millis(1)
        );
        assert_eq!(d.budget(), Duration::from_secs(10));
    }
}
