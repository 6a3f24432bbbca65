//! Exit codes, the same for all coquelicot binaries (documented in README.md):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | healthy / done |
//! | 1 | not ready yet, unreachable or timed out: retrying later may succeed (`restart: on-failure` does) |
//! | 2 | usage or configuration error: fix the flags or environment |
//! | 3 | the server refused for good (wrong credentials, misconfigured server): fix the setup |

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Unavailable = 1,
    Usage = 2,
    Refused = 3,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn name(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Unavailable => "unavailable",
            Exit::Usage => "usage",
            Exit::Refused => "refused",
        }
    }
}

/// A run that did not succeed: the exit code and one line for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: one_line(&message.into()),
        }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Exit::Unavailable, message)
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(Exit::Refused, message)
    }
    /// Only unavailability is worth another attempt; usage errors and refusals are final.
    pub fn is_retryable(&self) -> bool {
        self.exit == Exit::Unavailable
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Messages are printed as one line: logs and `docker inspect` health output stay readable.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Ok.code(), 0);
        assert_eq!(Exit::Unavailable.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Refused.code(), 3);
    }

    #[test]
    fn failures_are_one_line_and_classified() {
        let f = Failure::refused("bad\n  credentials\tfor x");
        assert_eq!(f.message, "bad credentials for x");
        assert!(!f.is_retryable());
        assert!(Failure::unavailable("x").is_retryable());
        assert!(!Failure::usage("x").is_retryable());
    }
}
