//! The flags the three mongo binaries share beyond sidecar's: `--username` and its password, as
//! `--password` / `--password-file` (MONGO_USERNAME, MONGO_PASSWORD / MONGO_PASSWORD_FILE),
//! defined once and resolved once ([`Login::credentials`]).

use mongo_wire::{Credential, Uri};
use sidecar::Failure;

sidecar::secret_flags! {
    Password { password, password_file }, long = "password", env = "MONGO_PASSWORD",
    help = "The password of --username",
    file_help = "File holding the password of --username (a Docker/Kubernetes secret)"
}

/// `--username` with its password (flattened into each mongo binary's `Args`).
#[derive(clap::Args, Debug, Clone)]
pub struct Login {
    /// The user to authenticate as: a cluster admin (clusterAdmin or root) for the commands that
    /// change the set; the probe needs one only to tell STARTUP2 from RECOVERING. Or
    /// user:password in the URI.
    #[arg(long, env = "MONGO_USERNAME")]
    pub username: Option<String>,
    #[command(flatten)]
    pub password: Password,
}

impl Login {
    /// The credentials to use against `uri` (see [`crate::client::credentials`]).
    pub fn credentials(&self, uri: &Uri) -> Result<Option<Credential>, Failure> {
        crate::client::credentials_from_flags(
            uri,
            self.username.clone(),
            self.password.password_file.as_deref(),
            self.password.password.clone(),
        )
    }
}
