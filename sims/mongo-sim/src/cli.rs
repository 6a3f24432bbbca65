//! Command line of the emulator. Usage errors exit with code 2 (one line on stderr).

use crate::parse_duration;
use std::path::PathBuf;
use std::time::Duration;

pub const EXIT_USAGE: i32 = 2;
pub const EXIT_LISTEN: i32 = 3;
pub const EXIT_DATA_DIR: i32 = 4;

pub const USAGE: &str = "\
mongo-sim: test-only mongod emulator (replica set, SCRAM auth, faults)

USAGE: mongo-sim --member HOST:PORT[=LISTEN_IP:PORT] [--member ...] [options]

  --member ADV[=LISTEN]   a member, reached as ADV (host:port) inside the network; listens on
                          LISTEN (default 127.0.0.1:<ADV port>). Repeat for each member.
  --repl-set NAME         run members with --replSet NAME (otherwise each is a standalone mongod)
  --auth                  require authentication (SCRAM-SHA-256 / SCRAM-SHA-1)
  --user NAME:PASSWORD[:ROLE]  user in the admin db (ROLE default root); repeatable
  --users-file PATH       file with one NAME:PASSWORD[:ROLE] per line (keeps secrets out of argv)
  --user-mechanisms LIST  mechanisms the --user users have credentials for (createUser's
                          `mechanisms`): SCRAM-SHA-1,SCRAM-SHA-256 (default) or one of them
  --tls-cert-key-file PEM serve TLS only (net.tls.mode requireTLS) with this certificate + key
  --tls-ca-file PEM       verify client certificates against this CA (net.tls.CAFile); they
                          are then required unless --tls-allow-connections-without-certificates
  --tls-allow-connections-without-certificates
  --x509-user SUBJECT     a $external user (MONGODB-X509), its RFC 2253 subject, role root;
                          repeatable
  --data-dir DIR          persist the accepted replica-set config; reload it at start
  --election-delay DUR    SECONDARY -> PRIMARY delay after initiate (default 300ms)
  --drain-delay DUR       PRIMARY drain mode (not writable) duration (default 200ms)
  --startup2-delay DUR    STARTUP2 -> SECONDARY delay (default 100ms)
  --config-commit-delay DUR  time a new config takes to reach the other members (heartbeats);
                          it is committed once a majority of voters has it (default 150ms)
  --quorum-check-delay DUR   time a reconfig spends in its quorum check; other reconfigs get
                          109 ConfigurationInProgress meanwhile (default 20ms)
  --version-string V      buildInfo version (default 7.0.14)
  --log-commands          log every command received (emulator-only line, for request counts)
faults:
  --listen-delay DUR      bind only after DUR (connection refused meanwhile)
  --stall                 accept and read, never answer
  --slow DUR              delay every reply by DUR
  --reset                 read the request, then close without answering
  --down HOST:PORT        that member never listens (unreachable); repeatable
  --member-state HOST:PORT=STATE  once it has a config, that member enters STATE instead of
                          SECONDARY: ARBITER, RECOVERING, ROLLBACK or REMOVED; repeatable
DUR: 500ms, 2s, 1m.  Exit codes: 0 ok, 2 usage, 3 cannot listen, 4 data dir error.
";

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

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub members: Vec<MemberSpec>,
    pub repl_set: Option<String>,
    pub auth: bool,
    pub users: Vec<User>,
    pub data_dir: Option<PathBuf>,
    pub election_delay: Duration,
    pub drain_delay: Duration,
    pub startup2_delay: Duration,
    pub config_commit_delay: Duration,
    pub quorum_check_delay: Duration,
    pub version: String,
    pub listen_delay: Duration,
    pub stall: bool,
    pub slow: Duration,
    pub reset: bool,
    pub down: Vec<String>,
    /// `--member-state HOST:PORT=STATE` (state name as in member_state.h).
    pub member_states: Vec<(String, String)>,
    pub log_commands: bool,
    pub user_mechanisms: Vec<String>,
    pub tls_cert_key_file: Option<PathBuf>,
    pub tls_ca_file: Option<PathBuf>,
    pub tls_allow_without_cert: bool,
    pub x509_users: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            members: Vec::new(),
            repl_set: None,
            auth: false,
            users: Vec::new(),
            data_dir: None,
            election_delay: Duration::from_millis(300),
            drain_delay: Duration::from_millis(200),
            startup2_delay: Duration::from_millis(100),
            config_commit_delay: Duration::from_millis(150),
            quorum_check_delay: Duration::from_millis(20),
            version: "7.0.14".into(),
            listen_delay: Duration::ZERO,
            stall: false,
            slow: Duration::ZERO,
            reset: false,
            down: Vec::new(),
            member_states: Vec::new(),
            log_commands: false,
            user_mechanisms: vec!["SCRAM-SHA-1".into(), "SCRAM-SHA-256".into()],
            tls_cert_key_file: None,
            tls_ca_file: None,
            tls_allow_without_cert: false,
            x509_users: Vec::new(),
        }
    }
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

/// Parses argv (without the program name). `Ok(None)` means `--help` was printed.
pub fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options::default();
    let mut i = 0;
    let value = |i: &mut usize, flag: &str| -> Result<String, String> {
        *i += 1;
        args.get(*i)
            .cloned()
            .ok_or_else(|| format!("{flag} needs a value; see --help"))
    };
    while i < args.len() {
        let a = args[i].as_str();
        // Accept --flag=value too.
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") && f != "--member" => (f, Some(v.to_string())),
            _ => (a, None),
        };
        let val = |i: &mut usize| match &inline {
            Some(v) => Ok(v.clone()),
            None => value(i, flag),
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--member" => {
                let v = match a.strip_prefix("--member=") {
                    Some(v) => v.to_string(),
                    None => value(&mut i, "--member")?,
                };
                o.members
                    .push(parse_member(&v).map_err(|e| format!("--member: {e}"))?);
            }
            "--repl-set" => {
                let v = val(&mut i)?;
                if v.is_empty() || v.contains('/') {
                    return Err("--repl-set needs a set name without '/'".into());
                }
                o.repl_set = Some(v);
            }
            "--auth" => o.auth = true,
            "--log-commands" => o.log_commands = true,
            "--user" => o
                .users
                .push(parse_user(&val(&mut i)?).map_err(|e| format!("--user: {e}"))?),
            "--users-file" => {
                let path = val(&mut i)?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("--users-file {path}: {e}"))?;
                for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                    o.users
                        .push(parse_user(l).map_err(|e| format!("--users-file {path}: {e}"))?);
                }
            }
            "--user-mechanisms" => {
                let v = val(&mut i)?;
                let list: Vec<String> = v.split(',').map(str::to_string).collect();
                if list.is_empty()
                    || list
                        .iter()
                        .any(|m| m != "SCRAM-SHA-1" && m != "SCRAM-SHA-256")
                {
                    return Err("--user-mechanisms: SCRAM-SHA-1 and/or SCRAM-SHA-256".into());
                }
                o.user_mechanisms = list;
            }
            "--tls-cert-key-file" => o.tls_cert_key_file = Some(PathBuf::from(val(&mut i)?)),
            "--tls-ca-file" => o.tls_ca_file = Some(PathBuf::from(val(&mut i)?)),
            "--tls-allow-connections-without-certificates" => o.tls_allow_without_cert = true,
            "--x509-user" => o.x509_users.push(val(&mut i)?),
            "--data-dir" => o.data_dir = Some(PathBuf::from(val(&mut i)?)),
            "--election-delay" => o.election_delay = dur(flag, &val(&mut i)?)?,
            "--drain-delay" => o.drain_delay = dur(flag, &val(&mut i)?)?,
            "--startup2-delay" => o.startup2_delay = dur(flag, &val(&mut i)?)?,
            "--config-commit-delay" => o.config_commit_delay = dur(flag, &val(&mut i)?)?,
            "--quorum-check-delay" => o.quorum_check_delay = dur(flag, &val(&mut i)?)?,
            "--version-string" => o.version = val(&mut i)?,
            "--listen-delay" => o.listen_delay = dur(flag, &val(&mut i)?)?,
            "--stall" => o.stall = true,
            "--slow" => o.slow = dur(flag, &val(&mut i)?)?,
            "--reset" => o.reset = true,
            "--down" => {
                let v = val(&mut i)?;
                split_host_port(&v).map_err(|e| format!("--down: {e}"))?;
                o.down.push(v);
            }
            "--member-state" => {
                let v = val(&mut i)?;
                let (hp, state) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--member-state {v}: expected HOST:PORT=STATE"))?;
                split_host_port(hp).map_err(|e| format!("--member-state: {e}"))?;
                if crate::repl::MemberState::forced(state).is_none() {
                    return Err(format!(
                        "--member-state {v}: STATE must be ARBITER, RECOVERING, ROLLBACK or REMOVED"
                    ));
                }
                o.member_states
                    .push((hp.to_string(), state.to_ascii_uppercase()));
            }
            other => return Err(format!("unknown argument '{other}'; see --help")),
        }
        i += 1;
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
    Ok(Some(o))
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

fn dur(flag: &str, v: &str) -> Result<Duration, String> {
    parse_duration(v).map_err(|e| format!("{flag}: {e}"))
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
    }
}
