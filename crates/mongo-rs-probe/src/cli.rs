//! Command line of mongo-rs-probe: the clap `Args` (every flag has an environment twin, flags
//! win), its long help, and the frame that runs [`crate::run`] once.

use crate::{prepare, run, PROG};
use clap::builder::BoolishValueParser;
use clap::Parser;
use std::ffi::OsString;

const LONG_ABOUT: &str = "\
Health check for one mongod replica-set member: exits 0 only when the member is a writable
PRIMARY (or a SECONDARY with --allow-secondary). Otherwise it prints ONE line saying why, in
operator words: not initiated yet (run mongo-rs-init), standalone mongod (not started with
--replSet), STARTUP2/RECOVERING/ARBITER/REMOVED, primary in drain mode, wrong set name,
unreachable, timed out.

It opens one direct connection to the FIRST host of the URI and sends one `hello`, which needs
no authentication. Credentials are used only to tell STARTUP2 from RECOVERING (replSetGetStatus).
Whatever the server does (never answers, trickles, resets), it exits by --timeout plus a few ms.

Examples:
  # Dockerfile / compose healthcheck inside the mongod container (default URI):
  HEALTHCHECK CMD [\"/usr/local/bin/mongo-rs-probe\"]
  mongo-rs-probe --uri mongodb://mongo1:27017 --replica-set rs0 --timeout 3s
  MONGO_URL=mongodb://mongo1:27017/?replicaSet=rs0 mongo-rs-probe --allow-secondary --json

Exit codes:
  0  writable PRIMARY (or SECONDARY with --allow-secondary)
  1  not ready: not initiated, electing, drain mode, SECONDARY, unreachable, timed out
  2  usage: bad flag, URI, duration or password file
  3  misconfigured for good: standalone mongod, wrong set name, arbiter, bad credentials

Environment (flags win): MONGO_URL, MONGO_REPLICA_SET, MONGO_USERNAME, MONGO_PASSWORD,
MONGO_PASSWORD_FILE, MONGO_RS_PROBE_TIMEOUT, MONGO_RS_PROBE_ALLOW_SECONDARY, MONGO_RS_PROBE_JSON,
MONGO_RS_PROBE_ALIVE (--alive: liveness, any member state that answers hello is healthy).
TLS (as the URI options tls, tlsCAFile, tlsCertificateKeyFile, tlsCertificateKeyFilePassword,
tlsAllowInvalidHostnames, tlsInsecure; the URI wins): MONGO_TLS, MONGO_TLS_CA_FILE,
MONGO_TLS_CERTIFICATE_KEY_FILE, MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD[_FILE],
MONGO_TLS_ALLOW_INVALID_HOSTNAMES, MONGO_TLS_INSECURE. mongodb+srv:// reads its DNS servers from
/etc/resolv.conf or the file MONGO_RESOLV_CONF names (nameserver [IP]:PORT for another port).
Prefer MONGO_PASSWORD_FILE (a Docker/Kubernetes secret file) to MONGO_PASSWORD; passwords are
never printed, and user:password in the URI is shown as user:***. A password given on the
command line (--password, or a password in the userinfo of --uri) works but prints one warning line on
stderr: the command line is visible in ps.";

sidecar::common_flags! {
    Shared for Args, prefix = "MONGO_RS_PROBE", timeout = "2s",
    timeout_help = "Give up after this long (e.g. 500ms, 2s); the process exits by then",
    json_help = "Print one JSON object (ok, exit, reason, state, setName, host, elapsed_ms…) on stdout"
}

#[derive(Parser, Debug)]
#[command(name = PROG, version, about = "Exit 0 only when this mongod is a writable replica-set PRIMARY.", long_about = LONG_ABOUT)]
pub struct Args {
    /// MongoDB URI; the FIRST host is probed (the same MONGO_URL Rocket.Chat reads).
    #[arg(
        long,
        env = "MONGO_URL",
        default_value = "mongodb://localhost:27017",
        hide_env_values = true
    )]
    pub uri: String,

    #[command(flatten)]
    pub common: Shared,

    /// Also report healthy when the member is a SECONDARY.
    #[arg(long, env = "MONGO_RS_PROBE_ALLOW_SECONDARY", value_parser = BoolishValueParser::new())]
    pub allow_secondary: bool,

    /// Liveness: healthy whenever mongod answers hello, in ANY member state (not initiated,
    /// STARTUP2, RECOVERING, SECONDARY, ...): detects a wedged mongod, never restarts a busy one.
    #[arg(long, env = "MONGO_RS_PROBE_ALIVE", value_parser = BoolishValueParser::new())]
    pub alive: bool,

    /// Expected replica-set name (default: the URI's replicaSet option); a mismatch fails (exit 3).
    #[arg(long, env = "MONGO_REPLICA_SET")]
    pub replica_set: Option<String>,

    #[command(flatten)]
    pub login: mongo_rs::flags::Login,
}

/// Parses `argv` and runs; returns the exit code. Usage errors are one line on stderr (exit 2).
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(
        PROG,
        true,
        argv,
        |args: Args, deadline, reporter| match prepare(&args) {
            Ok(p) => run(&p, deadline, reporter),
            Err(f) => f.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn cli_is_consistent_and_help_teaches() {
        sidecar::cli::assert_help_mentions::<Args>(&[
            "Exit codes",
            "MONGO_URL",
            "MONGO_PASSWORD_FILE",
            "HEALTHCHECK",
            "--allow-secondary",
        ]);
    }

    #[test]
    fn defaults_suit_a_healthcheck_without_arguments() {
        let a = Args::try_parse_from([PROG]).unwrap();
        assert_eq!(a.uri, "mongodb://localhost:27017");
        assert_eq!(a.common.timeout, Duration::from_secs(2));
        assert!(!a.allow_secondary && !a.common.json);
    }
}
