//! mongo-rs-probe: a HEALTHCHECK for one mongod replica-set member. One direct connection to
//! the first host of the URI, one `hello` (no authentication needed), a verdict, an exit code.
//! No pool, no monitoring thread: it must finish within `--timeout` whatever the server does.

use clap::builder::BoolishValueParser;
use clap::Parser;
use mongo_rs::{client, probe, state, MemberState};
use mongo_wire::{uri, Credential, HostPort};
use sidecar::report::{Report, Reporter};
use sidecar::{duration, watchdog, Deadline, Failure};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const PROG: &str = "mongo-rs-probe";

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
Prefer MONGO_PASSWORD_FILE (a Docker/Kubernetes secret file) to MONGO_PASSWORD; passwords are
never printed, and user:password in the URI is shown as user:***.";

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

    /// Give up after this long (e.g. 500ms, 2s); the process exits by then.
    #[arg(long, env = "MONGO_RS_PROBE_TIMEOUT", default_value = "2s", value_parser = duration::parse_timeout)]
    pub timeout: Duration,

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

    /// Print one JSON object (ok, exit, reason, state, setName, host, elapsed_ms…) on stdout.
    #[arg(long, env = "MONGO_RS_PROBE_JSON", value_parser = BoolishValueParser::new())]
    pub json: bool,

    /// User for replSetGetStatus (optional; hello needs none).
    #[arg(long, env = "MONGO_USERNAME")]
    pub username: Option<String>,

    /// File holding the password (MONGO_PASSWORD gives the value itself; never on the command line).
    #[arg(long, env = "MONGO_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
}

/// Parses `argv` and runs; returns the exit code. Usage errors are one line on stderr (exit 2).
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(
        PROG,
        true,
        argv,
        |args: Args, deadline, reporter| match prepare(&args, std::env::var("MONGO_PASSWORD").ok())
        {
            Ok(p) => run(&p, deadline, reporter),
            Err(f) => f.into(),
        },
    )
}

impl sidecar::cli::CommonArgs for Args {
    fn timeout(&self) -> Duration {
        self.timeout
    }
    fn json(&self) -> bool {
        self.json
    }
}

/// Everything a probe needs, validated before any network access.
#[derive(Debug)]
pub struct ProbeConfig {
    /// The member probed: the URI's first host.
    pub host: HostPort,
    pub cred: Option<Credential>,
    /// The set name it must belong to, if one is given.
    pub want_set: Option<String>,
    pub allow_secondary: bool,
    pub alive: bool,
    /// Bound for the connect and the hello (the whole `--timeout`).
    pub cap: Duration,
}

/// `Args` (and the password from the environment) into the typed config, before any network.
pub fn prepare(args: &Args, env_password: Option<String>) -> Result<ProbeConfig, Failure> {
    let mut uri = uri::parse(&args.uri).map_err(Failure::usage)?;
    client::tls_setup(&mut uri)?;
    let cred = client::credentials_from_flags(
        &uri,
        args.username.clone(),
        args.password_file.as_deref(),
        env_password,
    )?;
    let want_set = client::set_name(args.replica_set.as_deref(), &uri)?;
    Ok(ProbeConfig {
        host: uri.hosts[0].clone(),
        cred,
        want_set,
        allow_secondary: args.allow_secondary,
        alive: args.alive,
        cap: args.timeout,
    })
}

pub fn run(p: &ProbeConfig, deadline: Deadline, _reporter: Reporter) -> Report {
    let name = p.host.to_string();
    watchdog::waiting_for(format!("{name} to answer hello"));

    let (mut conn, hello) = match client::connect_hello(&p.host, deadline, p.cap) {
        Ok(x) => x,
        Err(e) => {
            let why = probe::no_answer(&e, &name, deadline.budget());
            return Report::from(why.failure)
                .with("state", why.state)
                .with("host", name);
        }
    };
    if p.alive {
        // A full command round trip answered: the process is alive, whatever its state.
        return Report::ok(format!(
            "{name} answers hello ({}): alive",
            hello.state.name()
        ))
        .with("state", hello.state.name())
        .with("host", name);
    }
    let mut hello = hello;
    if state::is_ambiguous(&hello.state) {
        // Best effort, same connection: STARTUP2 vs RECOVERING, never-initiated vs REMOVED.
        let status = client::status(&mut conn, p.cred.as_ref());
        hello.state = state::refine(hello.state, &status);
    }
    let verdict = probe::verdict(&name, &hello, p.allow_secondary, p.want_set.as_deref());
    let report = match verdict {
        Ok(line) => Report::ok(line),
        Err(f) => Report::from(f),
    };
    let mut report = report
        .with("state", hello.state.name())
        .with("host", name)
        .with(
            "writable",
            matches!(hello.state, MemberState::Primary { writable: true }),
        );
    if let Some(s) = hello.set_name {
        report = report.with("setName", s);
    }
    if let Some(p) = hello.primary {
        report = report.with("primary", p);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent_and_help_teaches() {
        Args::command().debug_assert();
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "Exit codes",
            "MONGO_URL",
            "MONGO_PASSWORD_FILE",
            "HEALTHCHECK",
            "--allow-secondary",
        ] {
            assert!(help.contains(needle), "help lacks {needle}");
        }
    }

    #[test]
    fn defaults_suit_a_healthcheck_without_arguments() {
        let a = Args::try_parse_from([PROG]).unwrap();
        assert_eq!(a.uri, "mongodb://localhost:27017");
        assert_eq!(a.timeout, Duration::from_secs(2));
        assert!(!a.allow_secondary && !a.json);
    }

    #[test]
    fn usage_errors_before_any_network() {
        let bad_uri = Args::try_parse_from([PROG, "--uri", "mongodb+srv://u:pw@x/"]).unwrap();
        let rep = prepare(&bad_uri, None).unwrap_err();
        assert_eq!(rep.exit, sidecar::Exit::Usage);
        assert!(!rep.message.contains("pw@"));
        let conflict = Args::try_parse_from([
            PROG,
            "--uri",
            "mongodb://h/?replicaSet=a",
            "--replica-set",
            "b",
        ])
        .unwrap();
        assert_eq!(
            prepare(&conflict, None).unwrap_err().exit,
            sidecar::Exit::Usage
        );
        let p = prepare(&Args::try_parse_from([PROG, "--alive"]).unwrap(), None).unwrap();
        assert_eq!(p.host.to_string(), "localhost:27017");
        assert!(p.alive && !p.allow_secondary && p.want_set.is_none() && p.cred.is_none());
        assert_eq!(p.cap, Duration::from_secs(2));
        assert!(Args::try_parse_from([PROG, "--timeout", "0s"]).is_err());
        assert!(Args::try_parse_from([PROG, "--timeout", "soon"]).is_err());
    }
}
