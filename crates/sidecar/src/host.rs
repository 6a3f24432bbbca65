//! Host names as flags and URIs give them. A name that no resolver can ever find (a space, NUL,
//! LF, `#`) is a configuration error (exit 2) at once, not "not answering" retried until the
//! deadline (exit 1).

/// A host name (letters, digits, `-`, `.`, `_`), an IPv4 address, or the inside of an IPv6
/// literal's brackets. `Err` says what is wrong, for a usage message.
pub fn check_name(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("empty host name".into());
    }
    if host.contains(':') {
        // An IPv6 literal (zone ids like `%eth0` allowed).
        let ok = host
            .chars()
            .all(|c| c.is_ascii_hexdigit() || ":.%".contains(c) || c.is_ascii_alphanumeric());
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "{:?} is not an IPv6 address",
                crate::text::server(host)
            ))
        };
    }
    if host.len() > 253 {
        return Err("host name longer than 253 characters".into());
    }
    match host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._".contains(*c)))
    {
        None => Ok(()),
        Some(c) => Err(format!(
            "host name {:?} contains {:?}: only letters, digits, '-', '.' and '_' can be resolved",
            crate::text::server(host),
            c
        )),
    }
}

/// The authority of an http(s) URL: `host`, `host:port`, `[v6]`, `[v6]:port`.
pub fn check_authority(authority: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed '[' in the host")?;
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p if p.starts_with(':') => Some(&p[1..]),
            _ => return Err("junk after ']' in the host".into()),
        };
        (&rest[..end], port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    check_name(host)?;
    match port {
        Some(p) if !matches!(p.parse::<u16>(), Ok(n) if n > 0) => {
            Err(format!("port {:?} is not 1-65535", crate::text::server(p)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_names_and_ports_are_refused() {
        for good in [
            "rocketchat",
            "mongo-0.mongo.ns.svc",
            "10.0.0.1",
            "a_b",
            "::1",
            "fe80::1%eth0",
        ] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\0b", "a\nb", "a#b", "a/b", "é"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_authority("rc:3000").is_ok());
        assert!(check_authority("[::1]:3000").is_ok());
        for bad in ["rc:65536", "rc:0", "rc:x", "r c:3000", "[::1", "[::1]x"] {
            assert!(check_authority(bad).is_err(), "{bad}");
        }
    }
}
