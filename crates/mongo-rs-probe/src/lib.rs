//! mongo-rs-probe: a HEALTHCHECK for one mongod replica-set member. One direct connection to
//! the first host of the URI, one `hello` (no authentication needed), a verdict, an exit code.
//! No pool, no monitoring thread: it must finish within `--timeout` whatever the server does.

pub mod cli;

use mongo_rs::{client, probe, state, MemberState};
use mongo_wire::{Credential, HostPort};
use sidecar::report::{Report, Reporter};
use sidecar::{watchdog, Deadline, Failure};
use std::time::Duration;

pub use cli::{main_with, Args};

pub const PROG: &str = "mongo-rs-probe";

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
pub fn prepare(args: &Args) -> Result<ProbeConfig, Failure> {
    // mongodb+srv:// resolves its seed list here; the deadline starts with the run's.
    let mut uri =
        mongo_wire::srv::resolve(&args.uri, sidecar::Deadline::after(args.common.timeout))?;
    client::tls_setup(&mut uri)?;
    let cred = args.login.credentials(&uri)?;
    let want_set = client::set_name(args.replica_set.as_deref(), &uri)?;
    Ok(ProbeConfig {
        host: uri.hosts[0].clone(),
        cred,
        want_set,
        allow_secondary: args.allow_secondary,
        alive: args.alive,
        cap: args.common.timeout,
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
    use clap::Parser;

    #[test]
    fn usage_errors_before_any_network() {
        let bad_uri = Args::try_parse_from([PROG, "--uri", "mongodb+srv://u:pw@x:27017/"]).unwrap();
        let rep = prepare(&bad_uri).unwrap_err();
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
        assert_eq!(prepare(&conflict).unwrap_err().exit, sidecar::Exit::Usage);
        let p = prepare(&Args::try_parse_from([PROG, "--alive"]).unwrap()).unwrap();
        assert_eq!(p.host.to_string(), "localhost:27017");
        assert!(p.alive && !p.allow_secondary && p.want_set.is_none() && p.cred.is_none());
        assert_eq!(p.cap, Duration::from_secs(2));
        assert!(Args::try_parse_from([PROG, "--timeout", "0s"]).is_err());
        assert!(Args::try_parse_from([PROG, "--timeout", "soon"]).is_err());
    }
}
