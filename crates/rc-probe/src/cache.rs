//! The token cache and the login lock. The cache is `{"url","user","userId","authToken"}`, only
//! used for the same url and user, read with a size cap, written atomically (0600). A cache
//! readable by others is not trusted: its token may have been read, so it is logged out and
//! replaced by a fresh 0600 one ("repaired", never used as is). Runs started together on a
//! stale or missing cache take a lock beside it (`<cache>.lock`, flock, bounded by the run's
//! deadline): one logs in, the others reuse its token.

use rc_client::Session;
use serde_json::{json, Value};
use sidecar::file::{is_private, read_capped, write_private_atomic, Lock, SECRET_FILE_MAX};
use sidecar::{Deadline, Failure, Secret};
use std::path::Path;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
pub enum Cached {
    /// No cache, unreadable JSON, or another url/user: log in.
    Missing,
    Private(Session),
    /// Group/other bits or another owner: log this token out and replace the file.
    Exposed(Session),
}

/// Reads the cache. A cache that is not a small regular file (`/dev/zero`, 50 MB) is a
/// configuration error (exit 2, the file named), never read into memory.
pub fn load_cache(path: &Path, url: &str, user: &str) -> Result<Cached, Failure> {
    if !path.exists() {
        return Ok(Cached::Missing);
    }
    let (bytes, meta) = read_capped(path, SECRET_FILE_MAX, WHAT)?;
    let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
        return Ok(Cached::Missing);
    };
    let field = |k: &str| v.get(k).and_then(Value::as_str);
    let (Some(u), Some(name), Some(id), Some(token)) = (
        field("url"),
        field("user"),
        field("userId"),
        field("authToken"),
    ) else {
        return Ok(Cached::Missing);
    };
    if u != url || !name.eq_ignore_ascii_case(user) {
        return Ok(Cached::Missing);
    }
    let session = Session {
        user_id: id.to_string(),
        token: Secret::new(token),
    };
    Ok(if is_private(&meta) {
        Cached::Private(session)
    } else {
        Cached::Exposed(session)
    })
}

/// A cache that can never be read (a device, a directory, 50 MB) is a usage error before any
/// network call; a missing one is fine.
pub fn check(path: &Path) -> Result<(), Failure> {
    match path.exists() {
        true => read_capped(path, SECRET_FILE_MAX, WHAT).map(|_| ()),
        false => Ok(()),
    }
}

const WHAT: &str = "--token-cache (RC_PROBE_TOKEN_CACHE)";

/// Writes the cache atomically (random temp name in the same directory, 0600, then rename).
pub fn save_cache(path: &Path, url: &str, user: &str, session: &Session) -> std::io::Result<()> {
    let body = json!({
        "url": url,
        "user": user,
        "userId": session.user_id,
        "authToken": session.token.expose(),
    });
    write_private_atomic(path, body.to_string().as_bytes())
}

/// The login lock beside the cache, waited for until shortly before the deadline (the login
/// itself needs some time). `Ok(None)`: still held by another run at that point.
pub fn login_lock(path: &Path, deadline: Deadline) -> std::io::Result<Option<Lock>> {
    let keep = (deadline.budget() / 3).min(Duration::from_secs(1));
    let wait = Deadline::after(deadline.remaining().saturating_sub(keep));
    Lock::beside(path, wait)
}
