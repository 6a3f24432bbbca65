//! mongo-rs-probe: a HEALTHCHECK for one mongod replica-set member. One direct connection to
//! the first host of the URI, one `hello` (no authentication needed), a verdict, an exit code.
//! No pool, no monitoring thread: it must finish within `--timeout` whatever the server does.

pub mod cli;

use mongo_rs::{client, probe, state, Context, MemberState};
use mongo_wire::{uri, Error};
use sidecar::report::{Report, Reporter};
use sidecar::{duration, watchdog, Deadline, Failure};

pub use cli::{main_with, Args};

pub const PROG: &str = "mongo-rs-probe";

pub fn run(args: &Args, deadline: Deadline, _reporter: Reporter) -> Report {
    let mut uri = match uri::parse(&args.uri) {
        Ok(u) => u,
        Err(m) => return Failure::usage(m).into(),
    };
    if let Err(f) = client::tls_setup(&mut uri) {
        return f.into();
    }
    let cred = match client::credentials_from_flags(
        &uri,
        args.username.clone(),
        args.password.password_file.as_deref(),
        args.password.password.clone(),
    ) {
        Ok(c) => c,
        Err(f) => return f.into(),
    };
    let want_set = match (&args.replica_set, &uri.replica_set) {
        (Some(flag), Some(opt)) if flag != opt => {
            return Failure::usage(format!(
                "--replica-set {flag} conflicts with replicaSet={opt} in the URI: give one"
            ))
            .into()
        }
        (Some(s), _) | (None, Some(s)) => Some(s.clone()),
        (None, None) => None,
    };
    let host = uri.hosts[0].clone();
    let name = host.to_string();
    watchdog::waiting_for(format!("{name} to answer hello"));

    let (mut conn, hello) = match client::connect_hello(&host, deadline, args.common.timeout) {
        Ok(x) => x,
        Err(e) => {
            let ctx = Context {
                host: name.clone(),
                ..Context::default()
            };
            let state = match e {
                Error::TimedOut { .. } => "TIMEOUT",
                Error::Refused { .. } | Error::Resolve { .. } | Error::Io { .. } => "UNREACHABLE",
                _ => "ERROR",
            };
            let mut f = mongo_rs::classify(&e, &ctx);
            if state == "TIMEOUT" {
                f = Failure::unavailable(format!(
                    "timed out after {} waiting for {name} to answer hello (raise --timeout if the server is just slow)",
                    duration::display(deadline.budget())
                ));
            } else if state == "UNREACHABLE" {
                f = Failure::unavailable(format!("unreachable: {}", f.message));
            }
            return Report::from(f).with("state", state).with("host", name);
        }
    };
    if args.alive {
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
        let status = client::status(&mut conn, cred.as_ref());
        hello.state = state::refine(hello.state, &status);
    }
    let verdict = probe::verdict(&name, &hello, args.allow_secondary, want_set.as_deref());
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
    use std::time::Duration;

    #[test]
    fn usage_errors_before_any_network() {
        let r = Reporter {
            prog: PROG,
            json: false,
            quiet: true,
        };
        let d = Deadline::after(Duration::from_secs(1));
        let bad_uri = Args::try_parse_from([PROG, "--uri", "mongodb+srv://u:pw@x/"]).unwrap();
        let rep = run(&bad_uri, d, r);
        assert_eq!(rep.exit, sidecar::Exit::Usage);
        assert!(!rep.reason.contains("pw@"));
        let conflict = Args::try_parse_from([
            PROG,
            "--uri",
            "mongodb://h/?replicaSet=a",
            "--replica-set",
            "b",
        ])
        .unwrap();
        assert_eq!(run(&conflict, d, r).exit, sidecar::Exit::Usage);
        assert!(Args::try_parse_from([PROG, "--timeout", "0s"]).is_err());
        assert!(Args::try_parse_from([PROG, "--timeout", "soon"]).is_err());
    }
}
