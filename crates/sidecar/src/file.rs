//! Files that hold secrets: read with a size cap (a password is not a megabyte, and `/dev/zero`
//! must not fill the memory), written atomically and privately (a planted symlink or a 0644 file
//! at the temporary name must not receive the secret), and a lock beside a file for writers
//! that must not race (rc-probe's login).

use crate::{Deadline, Failure};
use std::fs::{File, Metadata, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cap for a secret file, a token cache or a webhook-URL file.
pub const SECRET_FILE_MAX: u64 = 8 * 1024;

/// Largest PEM file we read (a CA bundle, a certificate and its key): a few KiB, a big bundle a
/// few hundred.
pub const PEM_FILE_MAX: u64 = 1 << 20;

/// Reads at most `max` bytes of `path`; `what` names the flag in messages. A regular file larger
/// than `max` is refused without reading it; so are devices, directories and sockets. A FIFO
/// (`--password-file <(…)`) is read with the same cap; if its writer stalls, the watchdog ends
/// the run at its deadline. The file is opened non-blocking (opening a FIFO without a writer
/// would block); symlinks are followed, since Kubernetes mounts secrets as symlinks.
pub fn read_capped(path: &Path, max: u64, what: &str) -> Result<(Vec<u8>, Metadata), Failure> {
    let _scope = crate::watchdog::scope(format!("{} to be readable ({what})", path.display()));
    let bad = |why: String| Failure::usage(format!("{what}: {}: {why}", path.display()));
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            bad(format!(
                "cannot read: {e} (mount the secret file or fix the path)"
            ))
        })?;
    let meta = file
        .metadata()
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let kind = meta.file_type();
    if kind.is_file() {
        if meta.len() > max {
            return Err(bad(format!(
                "{} bytes, more than the {max} a secret file may hold: point the flag at the secret itself",
                meta.len()
            )));
        }
    } else if kind.is_fifo() {
        // Back to blocking reads: the watchdog bounds a writer that never writes.
        // SAFETY: fcntl on a file descriptor we own, flags read then written back.
        unsafe {
            let fd = file.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    } else {
        return Err(bad(
            "not a regular file (a directory, device or socket): give the file holding the secret"
                .into(),
        ));
    }
    let mut bytes = Vec::new();
    (&mut file)
        .take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(bad(format!(
            "more than the {max} bytes a secret file may hold: point the flag at the secret itself"
        )));
    }
    Ok((bytes, meta))
}

/// Readable or writable by the owner only, and owned by us: safe to trust with a token.
pub fn is_private(meta: &Metadata) -> bool {
    // SAFETY: geteuid has no preconditions.
    meta.mode() & 0o077 == 0 && meta.uid() == unsafe { libc::geteuid() }
}

/// Writes `data` to `path` via a temporary file in the same directory, then fsync and rename:
/// readers see the old or the new content, never half of one. The temporary name is random and
/// created with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600: a symlink or a file planted at that name
/// makes the write fail instead of receiving the secret, and the result is always 0600.
pub fn write_private_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut random = [0u8; 12];
    getrandom::getrandom(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let result = (|| {
        // The umask can only remove bits; this makes 0600 exact whatever it is.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// An exclusive `flock` on `<path>.lock`, released when dropped (or when the process dies, so a
/// crashed holder never leaves a stale lock).
pub struct Lock {
    _file: File,
}

impl Lock {
    /// Waits for the lock until `deadline`; `Ok(None)` when the deadline passed first.
    pub fn beside(path: &Path, deadline: Deadline) -> std::io::Result<Option<Lock>> {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(PathBuf::from(name))?;
        loop {
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Some(Lock { _file: file }));
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(err);
            }
            if deadline.remaining().is_zero() {
                return Ok(None);
            }
            std::thread::sleep(deadline.remaining().min(Duration::from_millis(20)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn temp(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sidecar-file-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_atomically_with_mode_0600() {
        let dir = temp("atomic");
        let p = dir.join("out");
        write_private_atomic(&p, b"one\n").unwrap();
        write_private_atomic(&p, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(write_private_atomic(&dir.join("no/such/dir"), b"x").is_err());
        let leftovers = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(leftovers, 1, "no temp file left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn planted_symlink_or_open_file_at_the_old_temp_name_gets_nothing() {
        // The temporary name used to be `.<name>.<pid>.tmp`: predictable, opened without
        // O_EXCL, so a symlink planted there received the token and a 0644 file kept its mode.
        let dir = temp("planted");
        let p = dir.join("token");
        let stolen = dir.join("stolen");
        std::fs::write(&stolen, "").unwrap();
        let predictable = dir.join(format!(".token.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&stolen, &predictable).unwrap();
        write_private_atomic(&p, b"T0KEN").unwrap();
        assert_eq!(
            std::fs::read_to_string(&stolen).unwrap(),
            "",
            "followed the symlink"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "T0KEN");
        std::fs::remove_file(&predictable).unwrap();
        std::fs::write(&predictable, "").unwrap();
        std::fs::set_permissions(&predictable, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private_atomic(&p, b"T0KEN2").unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the result took the planted file's mode");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn reads_are_capped_and_only_from_files_or_fifos() {
        let dir = temp("capped");
        let big = dir.join("big");
        let f = File::create(&big).unwrap();
        f.set_len(1 << 30).unwrap(); // 1 GiB, sparse: refused from its size, never read
        let e = read_capped(&big, SECRET_FILE_MAX, "--password-file").unwrap_err();
        assert_eq!(e.exit, crate::Exit::Usage);
        assert!(
            e.message.contains("big") && e.message.contains("bytes"),
            "{e}"
        );
        let zero = read_capped(Path::new("/dev/zero"), SECRET_FILE_MAX, "--x").unwrap_err();
        assert!(
            zero.message.contains("/dev/zero: not a regular file"),
            "{zero}"
        );
        let d = read_capped(&dir, SECRET_FILE_MAX, "--x").unwrap_err();
        assert!(d.message.contains("not a regular file"), "{d}");
        let ok = dir.join("ok");
        std::fs::write(&ok, "pw\n").unwrap();
        assert_eq!(read_capped(&ok, SECRET_FILE_MAX, "--x").unwrap().0, b"pw\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lock_is_exclusive_until_dropped() {
        let dir = temp("lock");
        let p = dir.join("cache");
        let held = Lock::beside(&p, Deadline::after(Duration::from_secs(1)))
            .unwrap()
            .unwrap();
        let waited = Lock::beside(&p, Deadline::after(Duration::from_millis(60))).unwrap();
        assert!(waited.is_none(), "a second holder while the first holds it");
        drop(held);
        assert!(Lock::beside(&p, Deadline::after(Duration::from_millis(60)))
            .unwrap()
            .is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
