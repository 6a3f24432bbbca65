//! net-probe: the stack's network diagnosis (the seed's "sondereseau"). Given the links that must
//! work (`rocketchat>mongo:27017`: Rocket.Chat needs mongo on 27017), it resolves the target and
//! TCP-connects it from where it runs, all links in parallel under one deadline, prints
//! one matrix line per link and exits 0 only when every link works. Run it on the networks of
//! the services it checks (compose: the `diagnose` profile); a service cut off a network then
//! shows as the link that no longer resolves or connects.

pub mod cli;

use sidecar::report::Report;
use sidecar::{duration, watchdog, Deadline, Failure};
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use cli::{main_with, Args};

pub const PROG: &str = "net-probe";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub from: String,
    pub to: String,
    pub port: u16,
}

impl std::fmt::Display for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}>{}:{}", self.from, self.to, self.port)
    }
}

pub fn parse_link(text: &str) -> Result<Link, String> {
    let text = text.trim();
    let shape = || format!("'{text}' is not a link FROM>TO:PORT (e.g. rocketchat>mongo:27017)");
    let (from, target) = text.split_once('>').ok_or_else(shape)?;
    let (to, port) = target.rsplit_once(':').ok_or_else(shape)?;
    let ok_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 253
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !ok_name(from) || !ok_name(to) {
        return Err(format!(
            "{}: names are DNS names (letters, digits, - . _)",
            shape()
        ));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("'{text}': port '{port}' is not 1-65535"))?;
    Ok(Link {
        from: from.into(),
        to: to.into(),
        port,
    })
}

/// The outcome of one link: `Ok(connected address)` or why it is broken.
pub type Outcome = Result<SocketAddr, String>;

/// Checks one link before `deadline`: TO must resolve and accept a TCP connection on PORT (any of
/// its addresses). FROM only names the link: a one-shot service (a welder that has exited) has
/// no DNS entry, yet its link must still work when it runs again.
pub fn check(link: &Link, deadline: Deadline) -> Outcome {
    let addrs = resolve(&link.to, link.port).map_err(|_| {
        format!(
            "{} does not resolve (not running, or not on a network net-probe shares)",
            link.to
        )
    })?;
    let mut last = String::from("no address");
    for addr in addrs {
        let left = deadline.remaining();
        if left.is_zero() {
            return Err(format!("timed out connecting to {}:{}", link.to, link.port));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(_) => return Ok(addr),
            Err(e) => last = format!("{addr}: {e}"),
        }
    }
    Err(format!(
        "{} resolves but {}:{} does not accept connections ({last})",
        link.to, link.to, link.port
    ))
}

fn resolve(name: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (name, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(std::io::ErrorKind::NotFound.into());
    }
    Ok(addrs)
}

/// Checks every link in parallel; a link still unanswered at the deadline is broken (timed out).
pub fn check_all(links: &[Link], deadline: Deadline) -> Vec<(Link, Outcome, Duration)> {
    let (tx, rx) = mpsc::channel();
    for (i, link) in links.iter().enumerate() {
        let (tx, link) = (tx.clone(), link.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let outcome = check(&link, deadline);
            let _ = tx.send((i, outcome, started.elapsed()));
        });
    }
    drop(tx);
    let mut results: Vec<Option<(Outcome, Duration)>> = vec![None; links.len()];
    while results.iter().any(Option::is_none) {
        match rx.recv_timeout(deadline.remaining()) {
            Ok((i, outcome, took)) => results[i] = Some((outcome, took)),
            Err(_) => break,
        }
    }
    links
        .iter()
        .zip(results)
        .map(|(link, r)| {
            let (outcome, took) = r.unwrap_or_else(|| {
                (
                    Err(format!(
                        "timed out after {} (name resolution or connect)",
                        duration::display(deadline.budget())
                    )),
                    deadline.elapsed(),
                )
            });
            (link.clone(), outcome, took)
        })
        .collect()
}

/// One matrix line per link.
pub fn matrix_line(link: &Link, outcome: &Outcome, took: Duration) -> String {
    match outcome {
        Ok(addr) => format!("ok     {link}  ({addr}, {})", duration::display(took)),
        Err(why) => format!("BROKEN {link}  {why}"),
    }
}

pub fn run(args: &Args, deadline: Deadline) -> Report {
    watchdog::waiting_for(format!("{} links", args.links.len()));
    let results = check_all(&args.links, deadline);
    if !args.common.json {
        let mut out = std::io::stdout().lock();
        for (link, outcome, took) in &results {
            let _ = writeln!(out, "{}", matrix_line(link, outcome, *took));
        }
    }
    let broken: Vec<String> = results
        .iter()
        .filter(|(_, o, _)| o.is_err())
        .map(|(l, _, _)| l.to_string())
        .collect();
    let links: Vec<serde_json::Value> = results
        .iter()
        .map(|(l, o, t)| {
            serde_json::json!({
                "link": l.to_string(),
                "ok": o.is_ok(),
                "detail": match o { Ok(a) => a.to_string(), Err(e) => e.clone() },
                "elapsed_ms": t.as_millis() as u64,
            })
        })
        .collect();
    let report = if broken.is_empty() {
        Report::ok(format!("all {} links work", results.len()))
    } else {
        Report::from(Failure::unavailable(format!(
            "{} of {} links broken: {}",
            broken.len(),
            results.len(),
            broken.join(", ")
        )))
    };
    report.with("broken", broken).with("links", links)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::net::TcpListener;

    #[test]
    fn parses_links_and_rejects_bad_ones_in_one_line() {
        assert_eq!(
            parse_link("rocketchat>mongo:27017").unwrap(),
            Link {
                from: "rocketchat".into(),
                to: "mongo".into(),
                port: 27017
            }
        );
        for bad in ["mongo:27017", "a>b", "a>b:0", "a>b:x", ">b:1", "a b>c:1"] {
            let e = parse_link(bad).unwrap_err();
            assert!(!e.contains('\n') && e.contains(bad.trim()), "{bad}: {e}");
        }
        let a = Args::try_parse_from([PROG, "--link", "a>b:1,c>d:2"]).unwrap();
        assert_eq!(a.links.len(), 2);
        assert!(Args::try_parse_from([PROG]).is_err());
    }

    #[test]
    fn a_listening_target_works_and_a_closed_or_unknown_one_is_named() {
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = open.local_addr().unwrap().port();
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let links = [
            parse_link(&format!("localhost>127.0.0.1:{port}")).unwrap(),
            parse_link(&format!("localhost>127.0.0.1:{closed_port}")).unwrap(),
            parse_link("localhost>no-such-host.invalid:1").unwrap(),
            // FROM is a label: a one-shot service that has exited does not resolve.
            parse_link(&format!("exited-welder>127.0.0.1:{port}")).unwrap(),
        ];
        let r = check_all(&links, Deadline::after(Duration::from_secs(5)));
        assert!(r[0].1.is_ok(), "{:?}", r[0].1);
        assert!(r[1].1.as_ref().unwrap_err().contains("does not accept"));
        assert!(r[2]
            .1
            .as_ref()
            .unwrap_err()
            .contains("no-such-host.invalid does not resolve"));
        assert!(r[3].1.is_ok(), "{:?}", r[3].1);
        let line = matrix_line(&r[1].0, &r[1].1, r[1].2);
        assert!(line.starts_with("BROKEN localhost>127.0.0.1:"), "{line}");
    }

    #[test]
    fn report_names_every_broken_link_and_exits_1() {
        let args =
            Args::try_parse_from([PROG, "--link", "localhost>no-such-host.invalid:9"]).unwrap();
        let report = run(&args, Deadline::after(Duration::from_secs(5)));
        assert_eq!(report.exit.code(), 1);
        assert!(report
            .reason
            .contains("1 of 1 links broken: localhost>no-such-host.invalid:9"));
    }
}
