//! A refused password is remembered across runs, so that a probe run every few seconds, or a
//! bootstrap restarted by `restart: on-failure`, does not log in again and again with it:
//! Rocket.Chat's brute-force protection blocks a username after 10 failed logins in 5 minutes
//! (an IP after 50), which would lock the bot — and Hubot with it — out. The memory file (0600,
//! written atomically) holds a salted SHA-256 fingerprint of (url, user, password), never the
//! password; while it matches, the caller refuses without logging in. Changing the password (or
//! deleting the file) lifts it. rc-probe keeps it in `<token cache>.refused`, rc-bootstrap in
//! `--refusal-file`. One implementation for both binaries.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sidecar::file::write_private_atomic;
use sidecar::Secret;
use std::path::{Path, PathBuf};

/// Only a plain refusal is the password's fault: a brute-force block is temporary and
/// `totp-required` is a second factor, neither says the password is wrong.
pub fn worth_remembering(e: &crate::RcError) -> bool {
    e.is_auth_failure() && e.login_block().is_none() && !e.is_totp_required()
}

/// rc-probe's memory file next to its token cache.
pub fn path_for(cache: &Path) -> PathBuf {
    let mut p = cache.as_os_str().to_owned();
    p.push(".refused");
    PathBuf::from(p)
}

fn fingerprint(salt: &str, url: &str, user: &str, password: &Secret) -> String {
    let mut h = Sha256::new();
    for part in [salt, url, &user.to_ascii_lowercase(), password.expose()] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// When this exact password was refused before: the refusal's `error` text and time (epoch s).
pub fn remembered(file: &Path, url: &str, user: &str, password: &Secret) -> Option<(String, u64)> {
    let text = std::fs::read_to_string(file).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let salt = v.get("salt")?.as_str()?;
    if v.get("fingerprint")?.as_str()? != fingerprint(salt, url, user, password) {
        return None;
    }
    Some((
        v.get("error")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        v.get("at").and_then(Value::as_u64).unwrap_or(0),
    ))
}

/// Remembers a refusal (best effort: a read-only cache directory only loses the memory).
pub fn remember(file: &Path, url: &str, user: &str, password: &Secret, error: &str) {
    let mut raw = [0u8; 16];
    if getrandom::getrandom(&mut raw).is_err() {
        return;
    }
    let salt: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = json!({
        "salt": salt,
        "fingerprint": fingerprint(&salt, url, user, password),
        "error": sidecar::exit::one_line(error),
        "at": at,
    });
    let _ = write_private_atomic(file, body.to_string().as_bytes());
}

/// How long ago an epoch-seconds time was.
pub fn age(at: u64) -> std::time::Duration {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::time::Duration::from_secs(now.saturating_sub(at))
}

/// A successful login forgets any refusal.
pub fn forget(file: &Path) {
    let _ = std::fs::remove_file(file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_same_password_and_forgets() {
        let dir = std::env::temp_dir().join(format!("rc-client-refusal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cache = path_for(&dir.join("token"));
        let (bad, good) = (Secret::new("wrong-pass"), Secret::new("right-pass"));
        assert!(remembered(&cache, "http://rc", "bot", &bad).is_none());
        remember(&cache, "http://rc", "bot", &bad, "HTTP 401 unauthorized");
        let text = std::fs::read_to_string(&cache).unwrap();
        assert!(!text.contains("wrong-pass"), "{text}");
        assert_eq!(
            remembered(&cache, "http://rc", "BOT", &bad).unwrap().0,
            "HTTP 401 unauthorized"
        );
        assert!(remembered(&cache, "http://rc", "bot", &good).is_none());
        assert!(remembered(&cache, "http://other", "bot", &bad).is_none());
        forget(&cache);
        assert!(remembered(&cache, "http://rc", "bot", &bad).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
