//! Step 0: wait until Rocket.Chat answers, on `/api/info` only: it is on API.default, which has
//! no rate limiter (ApiClass.ts), and costs the server nothing. While connections are refused
//! nothing reaches the server at all, so they are retried every 20 ms (readiness is noticed
//! within ~20 ms); once something answers HTTP (a proxy's 502/503, a starting server's 5xx) the
//! interval is 100 ms, as before. No login is ever spent on waiting (admin_login.rs).

use crate::Bootstrap;
use sidecar::Failure;
use std::time::Duration;

/// Between refused connections: they cost the server nothing.
pub const REFUSED_INTERVAL: Duration = Duration::from_millis(20);
/// Between HTTP answers that are not yet Rocket.Chat's (proxy 502/503, 5xx, 429).
pub const ANSWERED_INTERVAL: Duration = Duration::from_millis(100);

/// `8` of `8.1.0`.
pub fn major(version: &str) -> Option<u32> {
    version.split('.').next()?.trim().parse().ok()
}

impl Bootstrap<'_> {
    /// The server's version (None when it does not disclose it), once `/api/info` answers.
    pub(crate) fn wait_for_server(&mut self) -> Result<Option<String>, Failure> {
        let mut attempt: u32 = 0;
        let mut since_line = std::time::Instant::now();
        loop {
            attempt += 1;
            let e = match self.admin.info() {
                Ok(version) => {
                    self.reporter.progress(format!(
                        "Rocket.Chat answers at {} (version {})",
                        self.cfg.url,
                        version.as_deref().unwrap_or("not disclosed")
                    ));
                    return Ok(version);
                }
                Err(e) => e,
            };
            let failure = e.failure("waiting for Rocket.Chat");
            if !failure.is_retryable() {
                return Err(failure);
            }
            let gave_up = |failure: &Failure| {
                Failure::unavailable(format!(
                    "gave up after {} and {attempt} attempt(s): {failure}",
                    sidecar::duration::display(self.deadline.elapsed())
                ))
            };
            if self.deadline.expired() {
                return Err(gave_up(&failure));
            }
            let pause = if e.origin == rc_client::Origin::NoConnection {
                REFUSED_INTERVAL
            } else {
                ANSWERED_INTERVAL
            };
            // One line at first, then one every ~5 s, not 50 a second.
            if attempt == 1 || since_line.elapsed() >= Duration::from_secs(5) {
                since_line = std::time::Instant::now();
                self.reporter.progress(format!(
                    "attempt {attempt}: {failure}; polling /api/info every {} until it answers",
                    sidecar::duration::display(pause)
                ));
            }
            std::thread::sleep(pause.min(self.deadline.remaining()));
            // A pause that ran into the deadline leaves no time for a real attempt.
            if self.deadline.expired() {
                return Err(gave_up(&failure));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors() {
        assert_eq!(major("6.13.0"), Some(6));
        assert_eq!(major(" 8.1"), Some(8));
        assert_eq!(major("garbage"), None);
    }
}
