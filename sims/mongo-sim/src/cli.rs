//! Command line of the emulator (clap): [`Options`], the typed config the server runs with. Usage errors exit with code 2 (one line on stderr).

use crate::parse_duration;
use clap::{CommandFactory, Parser};
use sim_util::cli::Parsed;
use std::path::PathBuf;
use std::time::Duration;

pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LISTEN: i32 = 3;
pub const EXIT_DATA_DIR: i32 = 4;

/// mongo-sim: test-only mongod emulator (replica set, SCRAM auth, faults).
#[derive(Parser, Debug, Clone, PartialEq)]
#[command(
    name = "mongo-sim",
    override_usage = "mongo-sim --member HOST:PORT[=LISTEN_IP:PORT] [--member ...] [OPTIONS]",
    after_help = "DUR: 500ms, 2s, 1m30s (a bare number is seconds, as in the sidecars).\n\
                  Exit codes: 0 ok, 2 usage, 3 cannot listen, 4 data dir error.",
    args_override_self = true,
    max_term_width = 100
)]
pub struct Options {
    /// A member, reached as ADV (host:port) inside the network; listens on LISTEN (default
    /// 127.0.0.1:<ADV port>). Repeat for each member.
    #[arg(long = "member", value_name = "ADV[=LISTEN]", value_parser = parse_member)]
    pub members: Vec<MemberSpec>,
    /// Run members with --replSet NAME (otherwise each is a standalone mongod).
    #[arg(long, value_name = "NAME", value_parser = parse_set_name)]
    pub repl_set: Option<String>,
    /// Require authentication (SCRAM-SHA-256 / SCRAM-SHA-1).
    #[arg(long)]
    pub auth: bool,
    /// User in the admin db (ROLE default root); repeatable.
    #[arg(long = "user", value_name = "NAME:PASSWORD[:ROLE]")]
    user_specs: Vec<String>,
    /// The users of --user and --users-file, parsed.
    #[arg(skip)]
    pub users: Vec<User>,
    /// File with one NAME:PASSWORD[:ROLE] per line (keeps secrets out of argv).
    #[arg(long, value_name = "PATH")]
    users_file: Option<PathBuf>,
    /// Mechanisms the --user users have credentials for (createUser's `mechanisms`):
    /// SCRAM-SHA-1,SCRAM-SHA-256 (default) or one of them.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "SCRAM-SHA-1,SCRAM-SHA-256",
        value_parser = parse_mechanism
    )]
    pub user_mechanisms: Vec<String>,
    /// Serve TLS only (net.tls.mode requireTLS) with this certificate + key.
    #[arg(long, value_name = "PEM")]
    pub tls_cert_key_file: Option<PathBuf>,
    /// Verify client certificates against this CA (net.tls.CAFile); they are then required
    /// unless --tls-allow-connections-without-certificates.
    #[arg(long, value_name = "PEM")]
    pub tls_ca_file: Option<PathBuf>,
    /// With --tls-ca-file: clients without a certificate are accepted.
    #[arg(long = "tls-allow-connections-without-certificates")]
    pub tls_allow_without_cert: bool,
    /// A $external user (MONGODB-X509), its RFC 2253 subject, role root; repeatable.
    #[arg(long = "x509-user", value_name = "SUBJECT")]
    pub x509_users: Vec<String>,
    /// Persist the accepted replica-set config; reload it at start.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// SECONDARY -> PRIMARY delay after initiate.
    #[arg(long, value_name = "DUR", default_value = "300ms", value_parser = parse_duration)]
    pub election_delay: Duration,
    /// PRIMARY drain mode (not writable) duration.
    #[arg(long, value_name = "DUR", default_value = "200ms", value_parser = parse_duration)]
    pub drain_delay: Duration,
    /// STARTUP2 -> SECONDARY delay.
    #[arg(long, value_name = "DUR", default_value = "100ms", value_parser = parse_duration)]
    pub startup2_delay: Duration,
    /// Time a new config takes to reach the other members (heartbeats); it is committed once a
    /// majority of voters has it.
    #[arg(long, value_name = "DUR", default_value = "150ms", value_parser = parse_duration)]
    pub config_commit_delay: Duration,
    /// Time a reconfig spends in its quorum check; other reconfigs get 109
    /// ConfigurationInProgress meanwhile.
    #[arg(long, value_name = "DUR", default_value = "20ms", value_parser = parse_duration)]
    pub quorum_check_delay: Duration,
    /// buildInfo version.
    #[arg(long = "version-string", value_name = "V", default_value = "7.0.14")]
    pub version: String,
    /// Log every command received (emulator-only line, for request counts).
    #[arg(long)]
    pub log_commands: bool,
    /// Bind only after DUR (connection refused meanwhile).
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration, help_heading = "Faults")]
    pub listen_delay: Duration,
    /// Accept and read, never answer.
    #[arg(long, help_heading = "Faults")]
    pub stall: bool,
    /// Delay every reply by DUR.
    #[arg(long, value_name = "DUR", default_value = "0s", value_parser = parse_duration, help_heading = "Faults")]
    pub slow: Duration,
    /// Read the request, then close without answering.
    #[arg(long, help_heading = "Faults")]
    pub reset: bool,
    /// That member never listens (unreachable); repeatable.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_host_port, help_heading = "Faults")]
    pub down: Vec<String>,
    /// Once it has a config, that member enters STATE instead of SECONDARY: ARBITER,
    /// RECOVERING, ROLLBACK or REMOVED; repeatable.
    #[arg(long = "member-state", value_name = "HOST:PORT=STATE", value_parser = parse_member_state, help_heading = "Faults")]
    /// `--member-state HOST:PORT=STATE` (state name as in member_state.h).
    pub member_states: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberSpec {
    pub adv_host: String,
    pub adv_port: u16,
    pub listen_ip: String,
    pub listen_port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub name: String,
    pub password: String,
    pub role: String,
}

pub fn split_host_port(s: &str) -> Result<(String, u16), String> {
    let (h, p) = if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("'{s}' is not [IPv6]:PORT"))?;
        (h, p)
    } else {
        s.rsplit_once(':')
            .ok_or_else(|| format!("'{s}' is not HOST:PORT"))?
    };
    if h.is_empty() {
        return Err(format!("'{s}' has an empty host"));
    }
    let port = p
        .parse::<u16>()
        .map_err(|_| format!("'{s}' has an invalid port (0-65535)"))?;
    Ok((h.to_string(), port))
}

pub fn parse_member(s: &str) -> Result<MemberSpec, String> {
    let (adv, listen) = match s.split_once('=') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let (adv_host, adv_port) = split_host_port(adv)?;
    let (listen_ip, listen_port) = match listen {
        Some(l) => split_host_port(l)?,
        None => ("127.0.0.1".to_string(), adv_port),
    };
    Ok(MemberSpec {
        adv_host,
        adv_port,
        listen_ip,
        listen_port,
    })
}

pub fn parse_user(s: &str) -> Result<User, String> {
    let mut parts = s.splitn(2, ':');
    let name = parts.next().unwrap_or_default().to_string();
    let rest = parts.next().ok_or("a user must be NAME:PASSWORD[:ROLE]")?;
    // The password may contain ':'; only a trailing known role is split off.
    let (password, role) = match rest.rsplit_once(':') {
        Some((p, r)) if is_role(r) => (p.to_string(), r.to_string()),
        _ => (rest.to_string(), "root".to_string()),
    };
    if name.is_empty() || password.is_empty() {
        return Err("a user must be NAME:PASSWORD[:ROLE] with non-empty name and password".into());
    }
    Ok(User {
        name,
        password,
        role,
    })
}

fn is_role(r: &str) -> bool {
    matches!(
        r,
        "root"
            | "clusterAdmin"
            | "clusterManager"
            | "clusterMonitor"
            | "readWrite"
            | "read"
            | "readWriteAnyDatabase"
            | "readAnyDatabase"
            | "dbAdmin"
            | "userAdmin"
            | "userAdminAnyDatabase"
    )
}

/// Parses argv (without the program name). `Ok(None)` means `--help` was asked for ([`help`]).
pub fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    match sim_util::cli::parse::<Options>("mongo-sim", args)? {
        Parsed::Help(_) => Ok(None),
        Parsed::Run(o) => resolve(o).map(Some),
    }
}

/// The `--help` text.
pub fn help() -> String {
    Options::command().render_long_help().to_string()
}

/// The users file, and the checks that span several flags.
fn resolve(mut o: Options) -> Result<Options, String> {
    for u in &o.user_specs {
        o.users
            .push(parse_user(u).map_err(|e| format!("--user: {e}"))?);
    }
    if let Some(path) = &o.users_file {
        let shown = path.display();
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("--users-file {shown}: {e}"))?;
        for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            o.users
                .push(parse_user(l).map_err(|e| format!("--users-file {shown}: {e}"))?);
        }
    }
    if o.members.is_empty() {
        return Err("at least one --member HOST:PORT is required; see --help".into());
    }
    if o.auth && o.users.is_empty() && o.x509_users.is_empty() {
        return Err(
            "--auth needs at least one --user NAME:PASSWORD, --users-file or --x509-user".into(),
        );
    }
    if o.tls_cert_key_file.is_some()
        && o.tls_ca_file.is_none()
        && chain_of_trust_required(&o.version)
    {
        // SERVER-72839 (CVE-2024-1351): mongod 4.4.29 / 5.0.25 / 6.0.14 / 7.0.6 and later
        // refuse to start TLS without net.tls.CAFile.
        return Err(
            "The use of TLS without specifying a chain of trust is no longer supported: give --tls-ca-file (and --tls-allow-connections-without-certificates for clients without one), or an older --version-string".into(),
        );
    }
    for d in o.down.iter().chain(o.member_states.iter().map(|(h, _)| h)) {
        let (h, p) = split_host_port(d)?;
        let known = o.members.iter().any(|m| {
            (m.adv_host == h && m.adv_port == p) || (m.listen_ip == h && m.listen_port == p)
        });
        if !known {
            return Err(format!(
                "--down/--member-state {d} does not name any --member"
            ));
        }
    }
    Ok(o)
}

fn parse_set_name(v: &str) -> Result<String, String> {
    if v.is_empty() || v.contains('/') {
        return Err("--repl-set needs a set name without '/'".into());
    }
    Ok(v.to_string())
}

fn parse_mechanism(v: &str) -> Result<String, String> {
    match v {
        "SCRAM-SHA-1" | "SCRAM-SHA-256" => Ok(v.to_string()),
        _ => Err("use SCRAM-SHA-1 and/or SCRAM-SHA-256".into()),
    }
}

fn parse_host_port(v: &str) -> Result<String, String> {
    split_host_port(v).map(|_| v.to_string())
}

/// `HOST:PORT=STATE`, the state upper-cased as member_state.h names it.
fn parse_member_state(v: &str) -> Result<(String, String), String> {
    let (hp, state) = v.split_once('=').ok_or("expected HOST:PORT=STATE")?;
    split_host_port(hp)?;
    if crate::repl::MemberState::forced(state).is_none() {
        return Err("STATE must be ARBITER, RECOVERING, ROLLBACK or REMOVED".into());
    }
    Ok((hp.to_string(), state.to_ascii_uppercase()))
}

/// Whether mongod VERSION needs a CA file for TLS: 4.4.29+, 5.0.25+, 6.0.14+, 7.0.6+, 7.1+.
fn chain_of_trust_required(version: &str) -> bool {
    let mut n = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (a, b, c) = (
        n.next().unwrap_or(0),
        n.next().unwrap_or(0),
        n.next().unwrap_or(0),
    );
    match (a, b) {
        (4, 4) => c >= 29,
        (5, 0) => c >= 25,
        (6, 0) => c >= 14,
        (7, 0) => c >= 6,
        _ => (a, b) > (7, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn tls_without_a_ca_file_is_refused_from_7_0_6() {
        let base = ["--member", "127.0.0.1:1", "--tls-cert-key-file", "s.pem"];
        let e = parse_args(&args(&base)).unwrap_err();
        assert!(e.contains("chain of trust"), "{e}");
        for old in ["7.0.5", "6.0.13", "5.0.24", "4.4.28", "4.2.25"] {
            let mut v = args(&base);
            v.extend(args(&["--version-string", old]));
            assert!(parse_args(&v).is_ok(), "{old}");
        }
        for new in ["7.0.6", "6.0.14", "8.0.4", "7.3.0"] {
            let mut v = args(&base);
            v.extend(args(&["--version-string", new]));
            assert!(parse_args(&v).is_err(), "{new}");
        }
        let mut v = args(&base);
        v.extend(args(&["--tls-ca-file", "ca.pem"]));
        assert!(parse_args(&v).is_ok());
    }

    #[test]
    fn members_and_flags() {
        let o = parse_args(&args(&[
            "--member",
            "mongo-0:27017=127.0.0.1:40001",
            "--member",
            "localhost:40002",
            "--repl-set",
            "rs0",
            "--auth",
            "--user",
            "admin:pa:ss",
            "--user",
            "mon:pw:clusterMonitor",
            "--slow=1s",
            "--down",
            "localhost:40002",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.members[0].adv_host, "mongo-0");
        assert_eq!(o.members[0].listen_port, 40001);
        assert_eq!(o.members[1].listen_ip, "127.0.0.1");
        assert_eq!(o.members[1].listen_port, 40002);
        assert_eq!(o.users[0].password, "pa:ss");
        assert_eq!(o.users[0].role, "root");
        assert_eq!(o.users[1].role, "clusterMonitor");
        assert_eq!(o.slow, Duration::from_secs(1));
        assert_eq!(o.repl_set.as_deref(), Some("rs0"));
    }

    #[test]
    fn errors_are_explained() {
        assert!(parse_args(&args(&[])).unwrap_err().contains("--member"));
        assert!(parse_args(&args(&["--member", "nohost"])).is_err());
        assert!(parse_args(&args(&["--member", "h:1", "--bogus"]))
            .unwrap_err()
            .contains("--bogus"));
        assert!(parse_args(&args(&["--member", "h:1", "--auth"])).is_err());
        assert!(parse_args(&args(&["--member", "h:1", "--down", "x:2"])).is_err());
        assert!(parse_args(&args(&["--member", "h:1", "--slow"])).is_err());
        assert!(
            parse_args(&args(&["--member", "h:1", "--member-state", "h:1=BOSS"]))
                .unwrap_err()
                .contains("ARBITER")
        );
        let o = parse_args(&args(&[
            "--member",
            "h:1",
            "--member-state",
            "h:1=recovering",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.member_states, vec![("h:1".into(), "RECOVERING".into())]);
        assert_eq!(parse_args(&args(&["--help"])).unwrap(), None);
        // Usage errors stay one line (clap's report is a paragraph).
        let e = parse_args(&args(&["--member", "h:1", "--slow", "soon"])).unwrap_err();
        assert!(
            e.contains("--slow") && e.contains("e.g. 500ms") && !e.contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn repeated_flags_accumulate_or_the_last_wins() {
        let o = parse_args(&args(&[
            "--member",
            "h:1",
            "--member",
            "h:2",
            "--auth",
            "--auth",
            "--x509-user",
            "CN=a",
            "--repl-set",
            "a",
            "--repl-set",
            "b",
            "--slow",
            "2",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(o.members.len(), 2);
        assert_eq!(o.repl_set.as_deref(), Some("b"));
        // A bare number is seconds, as in the sidecars (it was milliseconds before sim-util).
        assert_eq!(o.slow, Duration::from_secs(2));
        assert!(o.auth);
        assert_eq!(o.user_mechanisms, ["SCRAM-SHA-1", "SCRAM-SHA-256"]);
        let one = parse_args(&args(&[
            "--member",
            "h:1",
            "--user-mechanisms",
            "SCRAM-SHA-1",
        ]));
        assert_eq!(one.unwrap().unwrap().user_mechanisms, ["SCRAM-SHA-1"]);
        let e = parse_args(&args(&["--member", "h:1", "--user-mechanisms", "MD5"])).unwrap_err();
        assert!(e.contains("SCRAM-SHA-1 and/or SCRAM-SHA-256"), "{e}");
    }
}
