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

use std::time::Duration;

/// Parses `500ms`, `2s`, `1m` (and a bare number of milliseconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1u64)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1)
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration '{s}': use e.g. 500ms, 2s or 1m"))?;
    Ok(Duration::from_millis(n.saturating_mul(mult)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
