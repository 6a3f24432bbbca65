//! Secrets (passwords, tokens) given as a value or, preferably, as a file (`--password-file`,
//! `*_FILE` variables: Docker and Kubernetes secrets are files). A [`Secret`] never prints itself.

use crate::Failure;
use std::fmt;
use std::path::Path;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Registers the value for redaction ([`crate::redact`]): from now on no line the process
    /// prints shows it.
    pub fn new(value: impl Into<String>) -> Self {
        let value = value.into();
        crate::redact::register(&value);
        Secret(value)
    }
    /// The only way to the value: greppable, so every use can be reviewed.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Resolves a secret given as `--NAME` / `--NAME-file`. `what` names the flags in messages,
/// e.g. `"--password / --password-file"`. Giving both is an error: one of them would be ignored.
pub fn resolve(
    value: Option<String>,
    file: Option<&Path>,
    what: &str,
) -> Result<Option<Secret>, Failure> {
    match (value, file) {
        (Some(_), Some(_)) => Err(Failure::usage(format!(
            "{what}: give the value or the file, not both"
        ))),
        (Some(v), None) if v.is_empty() => {
            Err(Failure::usage(format!("{what}: the value is empty")))
        }
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => read_file(path, what).map(Some),
        (None, None) => Ok(None),
    }
}

/// Reads a secret file (at most [`crate::file::SECRET_FILE_MAX`] bytes, see
/// [`crate::file::read_capped`]), dropping one trailing newline (`echo pw > file` adds one) or CRLF.
pub fn read_file(path: &Path, what: &str) -> Result<Secret, Failure> {
    let (bytes, _) = crate::file::read_capped(path, crate::file::SECRET_FILE_MAX, what)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage(format!("{what}: {} is not UTF-8 text", path.display())))?;
    let value = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(Failure::usage(format!(
            "{what}: {} is empty",
            path.display()
        )));
    }
    Ok(Secret::new(value))
}

/// Hides the password of `scheme://user:password@host…` for messages and logs (also when the
/// URI is malformed: see [`crate::redact::userinfo`]).
pub fn redact_userinfo(url: &str) -> String {
    crate::redact::in_url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn resolves_value_or_file_but_not_both() {
        let dir = std::env::temp_dir().join(format!("sidecar-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "s3cret\r\n").unwrap();
        assert_eq!(
            resolve(None, Some(&file), "--pw")
                .unwrap()
                .unwrap()
                .expose(),
            "s3cret"
        );
        assert_eq!(
            resolve(Some("v".into()), None, "--pw")
                .unwrap()
                .unwrap()
                .expose(),
            "v"
        );
        assert_eq!(resolve(None, None, "--pw").unwrap(), None);
        let both = resolve(Some("v".into()), Some(&file), "--pw").unwrap_err();
        assert!(both.message.contains("not both"));
        std::fs::write(&file, "\n").unwrap();
        assert!(resolve(None, Some(&file), "--pw")
            .unwrap_err()
            .message
            .contains("is empty"));
        let missing = resolve(None, Some(&dir.join("nope")), "--pw").unwrap_err();
        assert!(
            missing.message.contains("cannot read"),
            "{}",
            missing.message
        );
        assert!(!missing.message.contains('\n'));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn redacts_only_the_password() {
        assert_eq!(
            redact_userinfo("mongodb://root:pa:ss@db:27017/?authSource=admin"),
            "mongodb://root:***@db:27017/?authSource=admin"
        );
        assert_eq!(redact_userinfo("mongodb://db:27017"), "mongodb://db:27017");
        assert_eq!(redact_userinfo("http://user@h/x@y"), "http://user@h/x@y");
        assert_eq!(redact_userinfo("no scheme"), "no scheme");
        // Unescaped '/', '?' or '#' in the password (base64-made passwords have '/').
        for url in [
            "mongodb://root:se/cret@db:27017",
            "mongodb://root:se?cret@db:27017",
            "http://root:se#cret@rc:3000",
        ] {
            let shown = redact_userinfo(url);
            assert!(!shown.contains("cret"), "{url} -> {shown}");
            assert!(
                shown.starts_with("mongodb://root:***@") || shown.starts_with("http://root:***@")
            );
        }
    }
}
