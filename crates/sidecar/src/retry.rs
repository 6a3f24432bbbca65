//! Retry until success, a final failure, or the deadline — with bounded exponential backoff and
//! jitter, so that a fleet of init containers restarted together does not hammer a server in step.

use crate::{duration, Deadline, Failure};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }
}

impl Backoff {
    /// The pause after failed attempt `attempt` (1-based), before jitter: initial·2^(attempt-1), capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1).min(20))
            .unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Runs `attempt(n)` (n = 1, 2, …) until it succeeds or fails for good. Retryable failures
/// ([`Failure::is_retryable`]) are retried after a pause until the deadline; then the last one is
/// returned with how long we tried. `on_retry` is told of each retry (for progress lines).
pub fn retry<T>(
    deadline: &Deadline,
    backoff: Backoff,
    mut attempt: impl FnMut(u32) -> Result<T, Failure>,
    mut on_retry: impl FnMut(u32, &Failure, Duration),
) -> Result<T, Failure> {
    let mut jitter = Jitter::seeded();
    let mut n = 1;
    loop {
        let failure = match attempt(n) {
            Ok(value) => return Ok(value),
            Err(failure) if !failure.is_retryable() => return Err(failure),
            Err(failure) => failure,
        };
        if deadline.expired() {
            return Err(Failure::unavailable(format!(
                "gave up after {} and {n} attempt(s): {failure}",
                duration::display(deadline.elapsed())
            )));
        }
        // "Equal jitter": half fixed, half random, so pauses stay spread but never collapse to 0.
        let base = backoff.delay(n);
        let pause = (base / 2 + jitter.up_to(base / 2)).min(deadline.remaining());
        on_retry(n, &failure, pause);
        std::thread::sleep(pause);
        // A pause that ran into the deadline leaves no time for a real attempt: report the
        // last informative failure, not a "no time left" from an attempt doomed to time out.
        if deadline.expired() {
            return Err(Failure::unavailable(format!(
                "gave up after {} and {n} attempt(s): {failure}",
                duration::display(deadline.elapsed())
            )));
        }
        n += 1;
    }
}

/// xorshift64*: jitter needs spread, not secrecy, and this keeps the binaries free of a RNG crate.
struct Jitter(u64);

impl Jitter {
    fn seeded() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Jitter((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    fn up_to(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let max_ns = max.as_nanos() as u64;
        Duration::from_nanos(if max_ns == 0 { 0 } else { r % (max_ns + 1) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_the_cap() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
        };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(500), Duration::from_secs(1));
    }

    #[test]
    fn retries_retryable_failures_until_success() {
        let deadline = Deadline::after(Duration::from_secs(5));
        let fast = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
        };
        let mut retries = Vec::new();
        let got = retry(
            &deadline,
            fast,
            |n| {
                if n < 3 {
                    Err(Failure::unavailable(format!("down {n}")))
                } else {
                    Ok(n)
                }
            },
            |n, f, _| retries.push((n, f.message.clone())),
        );
        assert_eq!(got, Ok(3));
        assert_eq!(retries, vec![(1, "down 1".into()), (2, "down 2".into())]);
    }

    #[test]
    fn final_failures_are_not_retried() {
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut calls = 0;
        let got: Result<(), _> = retry(
            &deadline,
            Backoff::default(),
            |_| {
                calls += 1;
                Err(Failure::refused("wrong password"))
            },
            |_, _, _| {},
        );
        assert_eq!(got.unwrap_err().message, "wrong password");
        assert_eq!(calls, 1);
    }

    #[test]
    fn gives_up_at_the_deadline_with_the_last_reason() {
        let deadline = Deadline::after(Duration::from_millis(30));
        let fast = Backoff {
            initial: Duration::from_millis(5),
            max: Duration::from_millis(5),
        };
        let got: Result<(), _> = retry(
            &deadline,
            fast,
            |_| Err(Failure::unavailable("refused")),
            |_, _, _| {},
        );
        let failure = got.unwrap_err();
        assert!(failure.is_retryable());
        assert!(
            failure.message.starts_with("gave up after"),
            "{}",
            failure.message
        );
        assert!(
            failure.message.ends_with(": refused"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn no_doomed_attempt_after_a_pause_that_reaches_the_deadline() {
        let deadline = Deadline::after(Duration::from_millis(30));
        let slow = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        };
        let mut calls = 0;
        let got: Result<(), _> = retry(
            &deadline,
            slow,
            |n| {
                calls += 1;
                Err(Failure::unavailable(format!("drain mode {n}")))
            },
            |_, _, _| {},
        );
        assert_eq!(calls, 1);
        let message = got.unwrap_err().message;
        assert!(message.ends_with(": drain mode 1"), "{message}");
    }

    #[test]
    fn jitter_stays_in_range() {
        let mut j = Jitter::seeded();
        for _ in 0..1000 {
            assert!(j.up_to(Duration::from_millis(10)) <= Duration::from_millis(10));
        }
        assert_eq!(j.up_to(Duration::ZERO), Duration::ZERO);
    }
}
