//! Durations as operators write them in compose files and Kubernetes manifests.

use std::time::Duration;

/// Parses `1500ms`, `2s`, `1.5s`, `1m30s`, `1h`; a bare number means seconds (`--timeout 5`).
///
/// Returns a one-line message fit for a usage error on failure.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad =
        || format!("invalid duration {text:?}: use a number with a unit, e.g. 500ms, 2s, 1m30s");
    if text.is_empty() {
        return Err(bad());
    }
    let too_long = || format!("invalid duration {text:?}: more than ten years (87600h)");
    if let Ok(secs) = text.parse::<f64>() {
        return seconds(secs).ok_or_else(bad);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if number_len == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(number_len);
        let number: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += seconds(number * scale).ok_or_else(bad)?;
        // Each part is capped; their sum must be too (`87600h87600h87600h`).
        if total > Duration::from_secs(MAX_SECS as u64) {
            return Err(too_long());
        }
        rest = tail;
    }
    Ok(total)
}

/// [`parse`] for a `--timeout`: zero would mean "fail before trying", so it is refused.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    match parse(text)? {
        d if d.is_zero() => Err(format!(
            "invalid timeout {text:?}: it must be more than 0, e.g. 2s"
        )),
        d => Ok(d),
    }
}

/// Ten years is far past any sensible wait; it keeps from_secs_f64 and `Instant + d` away from
/// overflow.
const MAX_SECS: f64 = 315_360_000.0;

fn seconds(secs: f64) -> Option<Duration> {
    (secs.is_finite() && (0.0..=MAX_SECS).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// Formats a duration the way [`parse`] reads it back, for messages (`1.25s`, `300ms`).
pub fn display(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.2}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_compounds() {
        assert_eq!(parse("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse(" 5 ").unwrap(), Duration::from_secs(5));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
    }

    #[test]
    fn rejects_garbage_with_a_hint() {
        for bad in ["", "s", "2x", "-1s", "1..2s", "ms5", "nan", "inf", "1e300"] {
            let err = parse(bad).unwrap_err();
            assert!(err.contains("e.g. 500ms"), "{bad}: {err}");
        }
    }

    #[test]
    fn parts_that_overflow_the_cap_together_are_refused() {
        assert_eq!(parse("87600h").unwrap(), Duration::from_secs(315_360_000));
        let err = parse("87600h87600h87600h").unwrap_err();
        assert!(err.contains("ten years"), "{err}");
        assert!(parse_timeout("87600h1s").is_err());
    }

    #[test]
    fn timeouts_must_be_positive() {
        assert_eq!(
            parse_timeout("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_timeout("0s").unwrap_err().contains("more than 0"));
        assert!(parse_timeout("x").unwrap_err().contains("e.g. 500ms"));
    }

    #[test]
    fn display_round_trips() {
        for text in ["300ms", "2s", "1.25s"] {
            assert_eq!(display(parse(text).unwrap()), text);
        }
    }
}
