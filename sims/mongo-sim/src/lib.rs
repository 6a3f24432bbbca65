//! mongod emulator (test-only): one process emulates a whole replica set (or standalone
//! mongods) over the real wire protocol, with SCRAM auth and injectable faults.
//! Every emulated behaviour cites its source next to the code; see README.md.

pub mod cli;
pub mod log;
pub mod repl;
pub mod scram;
pub mod server;
pub mod tls;
pub mod wire;

/// The emulators' one duration grammar (sims/sim-util), the shipped sidecars' own: `500ms`, `2s`,
/// `1m30s`; a bare number means seconds.
pub use sim_util::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        // Seconds, as the sidecars read `--timeout 5` (it meant milliseconds here before).
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
