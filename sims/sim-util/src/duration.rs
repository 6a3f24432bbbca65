//! The emulators' duration grammar: the one the shipped binaries accept
//! (`crates/sidecar/src/duration.rs`), so a test passes `300ms` or `2` to a sim and to a sidecar
//! with the same meaning. Written again here because emulators may not link shipped crates;
//! the unit tests below are sidecar's cases, so the two grammars cannot drift silently.

use std::time::Duration;

/// Ten years, sidecar's cap (far past any sensible wait; keeps `Instant + d` from overflowing).
const MAX_SECS: f64 = 315_360_000.0;

/// Parses `1500ms`, `2s`, `1.5s`, `1m30s`, `1h`; a bare number means SECONDS (`5` = 5 s).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let hint =
        || format!("invalid duration {text:?}: use a number with a unit, e.g. 500ms, 2s, 1m30s");
    let cap = || format!("invalid duration {text:?}: more than ten years (87600h)");
    if text.is_empty() {
        return Err(hint());
    }
    if let Ok(bare) = text.parse::<f64>() {
        return secs(bare).ok_or_else(hint);
    }
    let mut sum = 0.0_f64;
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let mut number = String::new();
        while let Some(c) = chars.next_if(|c| c.is_ascii_digit() || *c == '.') {
            number.push(c);
        }
        let mut unit = String::new();
        while let Some(c) = chars.next_if(|c| !(c.is_ascii_digit() || *c == '.')) {
            unit.push(c);
        }
        let value: f64 = number.parse().map_err(|_| hint())?;
        let per = match unit.as_str() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(hint()),
        };
        secs(value * per).ok_or_else(hint)?;
        sum += value * per;
        if sum > MAX_SECS {
            return Err(cap());
        }
    }
    secs(sum).ok_or_else(hint)
}

fn secs(s: f64) -> Option<Duration> {
    (s.is_finite() && (0.0..=MAX_SECS).contains(&s)).then(|| Duration::from_secs_f64(s))
}

#[cfg(test)]
mod tests {
    use super::parse_duration as parse;
    use std::time::Duration;

    #[test]
    fn sidecars_cases_parse_the_same() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(parse("0ms").unwrap(), Duration::ZERO);
        assert_eq!(parse("87600h").unwrap(), Duration::from_secs(315_360_000));
    }

    #[test]
    fn a_bare_number_is_seconds_as_in_the_sidecars() {
        assert_eq!(parse(" 5 ").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("300").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("0.25").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn garbage_is_refused_with_a_hint() {
        for bad in [
            "", "s", "2x", "-1s", "1..2s", "ms5", "nan", "inf", "1e300", "fast", "2 s", "1s2",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("e.g. 500ms"), "{bad}: {err}");
        }
        let err = parse("87600h87600h87600h").unwrap_err();
        assert!(err.contains("ten years"), "{err}");
    }
}
