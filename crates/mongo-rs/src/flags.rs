//! The flags the three mongo binaries share beyond sidecar's: the password of `--username`, as
//! `--password` / `--password-file` (MONGO_PASSWORD / MONGO_PASSWORD_FILE), defined once.
//! Resolved by [`crate::client::credentials_from_flags`].

sidecar::secret_flags! {
    Password { password, password_file }, long = "password", env = "MONGO_PASSWORD",
    help = "The password of --username",
    file_help = "File holding the password of --username (a Docker/Kubernetes secret)"
}
