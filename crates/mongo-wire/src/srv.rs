//! `mongodb+srv://` seed lists, after MongoDB's "Initial DNS Seedlist Discovery" specification
//! (mongodb/specifications, source/initial-dns-seedlist-discovery/initial-dns-seedlist-discovery.md
//! @ 5c337e958bf65f77bbcf04333a6847f8846bf026; its prose tests in tests/README.md
//! @ 2d40b9687fdc47074df337caeffc7ffdf25f0b26):
//!
//! * SRV records of `_{srvServiceName}._tcp.{hostname}` give the hosts (priority and weight
//!   ignored); each must end with `.{domainname}`, where `{domainname}` is `{hostname}` less its
//!   first label when it has three or more, else the whole `{hostname}` (the 2024-09 revision:
//!   `localhost` and `mongo.local` are allowed, and then a host needs one more label);
//! * at most one TXT record on `{hostname}`, its strings concatenated, with only `authSource`,
//!   `replicaSet` and `loadBalanced`; options of the URI win over it;
//! * TLS on unless `tls`/`ssl` is given (not from TXT); `srvMaxHosts` picks that many at random.
//!
//! Exit codes: the URI itself wrong is usage (2, before any lookup); DNS that answers with
//! something that can never work (no such name, no SRV records, a host outside the domain, a bad
//! TXT record) is a refusal (3: fix the records or the URI); a DNS server that does not answer
//! in time is unavailable (1, retried). Messages show the host, never the user info.

use crate::dns::{self, Resolver};
use crate::uri::{self, HostPort, SrvQuery, Uri};
use sidecar::{watchdog, Deadline, Failure};

/// Parses `text` and, for `mongodb+srv://`, resolves its seed list and TXT options with the
/// resolver of `MONGO_RESOLV_CONF` (default /etc/resolv.conf), all under `deadline`.
pub fn resolve(text: &str, deadline: Deadline) -> Result<Uri, Failure> {
    let (uri, srv) = uri::parse_raw(text).map_err(Failure::usage)?;
    match srv {
        None => Ok(uri),
        Some(q) => {
            let resolver = Resolver::from_env().map_err(Failure::usage)?;
            resolve_with(uri, &q, &resolver, deadline)
        }
    }
}

pub fn resolve_with(
    mut uri: Uri,
    q: &SrvQuery,
    resolver: &Resolver,
    deadline: Deadline,
) -> Result<Uri, Failure> {
    let shown = format!("mongodb+srv://{}", q.host);
    let esc = |s: &str| sidecar::text::escape_controls(s);
    let name = format!("_{}._tcp.{}", q.service, q.host);
    dns::encode_name(&name).map_err(|e| Failure::usage(format!("{shown}: {name}: {e}")))?;

    let srv = {
        let _w = watchdog::scope(format!(
            "DNS server {} to answer the SRV query for {name}",
            resolver.servers_text()
        ));
        resolver.query(&name, dns::TYPE_SRV, deadline)?
    };
    let srv = srv.ok_or_else(|| {
        Failure::refused(format!(
            "{shown}: no such DNS name {name} (NXDOMAIN from {}): check the host name in the URI and the SRV records",
            resolver.servers_text()
        ))
    })?;
    let targets = srv
        .srv()
        .map_err(|e| Failure::unavailable(format!("{shown}: bad SRV reply for {name}: {e}")))?;
    if targets.is_empty() {
        return Err(Failure::refused(format!(
            "{shown}: {name} has no SRV records: publish _{}._tcp SRV records for {} or list the hosts with mongodb://",
            q.service, q.host
        )));
    }
    let mut hosts = Vec::with_capacity(targets.len());
    for (port, target) in targets {
        check_host(&q.host, &target)
            .map_err(|e| Failure::refused(format!("{shown}: SRV record {name}: {}", esc(&e))))?;
        if port == 0 {
            return Err(Failure::refused(format!(
                "{shown}: SRV record {name} gives {target} port 0"
            )));
        }
        let hp = HostPort { host: target, port };
        if !hosts.contains(&hp) {
            hosts.push(hp);
        }
    }

    let txt = {
        let _w = watchdog::scope(format!(
            "DNS server {} to answer the TXT query for {}",
            resolver.servers_text(),
            q.host
        ));
        resolver.query(&q.host, dns::TYPE_TXT, deadline)?
    };
    let records = match txt {
        None => Vec::new(),
        Some(a) => a.txt().map_err(|e| {
            Failure::unavailable(format!("{shown}: bad TXT reply for {}: {e}", q.host))
        })?,
    };
    if records.len() > 1 {
        return Err(Failure::refused(format!(
            "{shown}: {} has {} TXT records: the spec allows one (join the options with '&')",
            q.host,
            records.len()
        )));
    }
    if let Some(record) = records.first() {
        apply_txt(&mut uri, record).map_err(|e| {
            Failure::refused(format!("{shown}: TXT record of {}: {}", q.host, esc(&e)))
        })?;
    }

    if q.max_hosts > 0 && (q.max_hosts as usize) < hosts.len() {
        shuffle(&mut hosts);
        hosts.truncate(q.max_hosts as usize);
    }
    uri.hosts = hosts;
    uri::check_combination(&uri, q.max_hosts)
        .map_err(|e| Failure::usage(format!("{shown}: {e}")))?;
    Ok(uri)
}

/// The spec's `{domainname}`: `{hostname}` less its first label if it has three or more.
pub fn domain_of(host: &str) -> &str {
    match host.split_once('.') {
        Some((_, rest)) if rest.contains('.') => rest,
        _ => host,
    }
}

/// A host from an SRV record must be a usable name ending with `.{domainname}` (so it has one
/// more label than a one- or two-label `{hostname}`, and cannot be it).
pub fn check_host(srv_host: &str, target: &str) -> Result<(), String> {
    if target.is_empty() {
        // RFC 2782: a target of "." means the service is decidedly not available there.
        return Err("target \".\": the service is not available".into());
    }
    sidecar::host::check_name(target).map_err(|e| format!("target {target}: {e}"))?;
    let domain = domain_of(srv_host);
    let ok = target
        .strip_suffix(domain)
        .is_some_and(|head| head.len() > 1 && head.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "host {target} is not in the domain {domain}: drivers refuse it (seedlist spec), so do we"
        ))
    }
}

/// The TXT record's options under the URI's: only authSource, replicaSet, loadBalanced.
fn apply_txt(uri: &mut Uri, record: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(record).map_err(|_| "not UTF-8 text".to_string())?;
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("option {pair:?} has no value (key=value)"))?;
        let value = uri::percent_decode(value).map_err(|e| format!("{key}: {e}"))?;
        match key.to_ascii_lowercase().as_str() {
            "authsource" => {
                if uri.auth_source.is_none() {
                    uri.auth_source = Some(value).filter(|v| !v.is_empty());
                }
            }
            "replicaset" => {
                if uri.replica_set.is_none() {
                    uri.replica_set = Some(value).filter(|v| !v.is_empty());
                }
            }
            "loadbalanced" => {
                let b = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("loadBalanced must be true or false, not {value:?}")),
                };
                uri.load_balanced.get_or_insert(b);
            }
            _ => {
                return Err(format!(
                    "option {key} may not come from DNS: only authSource, replicaSet and loadBalanced may (seedlist spec); put it in the URI"
                ))
            }
        }
    }
    Ok(())
}

/// Fisher-Yates, as the spec recommends, over OS randomness.
fn shuffle<T>(v: &mut [T]) {
    for i in (1..v.len()).rev() {
        let mut b = [0u8; 4];
        let r = match getrandom::getrandom(&mut b) {
            Ok(()) => u32::from_le_bytes(b) as usize,
            Err(_) => i,
        };
        v.swap(i, r % (i + 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdns::{srv, txt, Answer, Server};
    use sidecar::Exit;
    use std::time::Duration;

    #[test]
    fn the_spec_prose_tests_of_host_validation() {
        // 1: fewer than three labels are allowed; then the domain is the whole host name.
        assert_eq!(domain_of("localhost"), "localhost");
        assert_eq!(domain_of("mongo.local"), "mongo.local");
        assert_eq!(
            domain_of("cluster_1.tests.mongodb.co.uk"),
            "tests.mongodb.co.uk"
        );
        for (host, target) in [
            // 2: not ending with the domain.
            ("localhost", "localhost.mongodb"),
            ("mongo.local", "test_1.evil.local"),
            ("blogs.mongodb.com", "blogs.evil.com"),
            // 3: identical to a one- or two-label host.
            ("localhost", "localhost"),
            ("mongo.local", "mongo.local"),
            // 4: the shared part not '.'-separated.
            ("localhost", "test_1.cluster_1localhost"),
            ("mongo.local", "test_1.my_hostmongo.local"),
            ("blogs.mongodb.com", "cluster.testmongodb.com"),
            // The domain itself has one label less than required.
            ("blogs.mongodb.com", "mongodb.com"),
            ("blogs.mongodb.com", "bad name.mongodb.com"),
            ("blogs.mongodb.com", ""),
        ] {
            assert!(check_host(host, target).is_err(), "{host} -> {target}");
        }
        for (host, target) in [
            ("localhost", "db1.localhost"),
            ("mongo.local", "a.b.mongo.local"),
            ("blogs.mongodb.com", "cluster.mongodb.com"),
            // The spec tests' test.build.10gen.cc -> itself: allowed with three labels or more.
            ("test.build.10gen.cc", "test.build.10gen.cc"),
            ("build.10gen.cc", "build.10gen.cc"),
            ("rs.0.0.1", "127.0.0.1"),
        ] {
            assert!(check_host(host, target).is_ok(), "{host} -> {target}");
        }
    }

    fn set_records(name: &str, t: u16) -> Answer {
        match (name, t) {
            ("_mongodb._tcp.rs.example.com", dns::TYPE_SRV) => Answer::Records(vec![
                srv(27017, "a.example.com."),
                srv(27018, "b.example.com"),
                srv(27018, "B.example.com"),
            ]),
            ("_custom._tcp.rs.example.com", dns::TYPE_SRV) => {
                Answer::Records(vec![srv(1, "c.example.com")])
            }
            ("rs.example.com", dns::TYPE_TXT) => {
                Answer::Records(vec![txt(&["replicaSet=rs0&auth", "Source=thisDB"])])
            }
            ("_mongodb._tcp.evil.example.com", dns::TYPE_SRV) => {
                Answer::Records(vec![srv(27017, "a.example.org")])
            }
            ("_mongodb._tcp.two.example.com", dns::TYPE_SRV)
            | ("_mongodb._tcp.opt.example.com", dns::TYPE_SRV)
            | ("_mongodb._tcp.junk.example.com", dns::TYPE_SRV) => {
                Answer::Records(vec![srv(27017, "a.example.com")])
            }
            ("two.example.com", dns::TYPE_TXT) => {
                Answer::Records(vec![txt(&["replicaSet=rs0"]), txt(&["authSource=x"])])
            }
            ("opt.example.com", dns::TYPE_TXT) => Answer::Records(vec![txt(&["ssl=false"])]),
            ("junk.example.com", dns::TYPE_TXT) => Answer::Records(vec![txt(&["authSource"])]),
            ("_mongodb._tcp.empty.example.com", dns::TYPE_SRV) => Answer::Records(vec![]),
            _ => Answer::Rcode(3),
        }
    }

    fn run(s: &Server, uri: &str) -> Result<Uri, Failure> {
        let (u, q) = uri::parse_raw(uri).unwrap();
        resolve_with(
            u,
            &q.unwrap(),
            &s.resolver(),
            Deadline::after(Duration::from_secs(5)),
        )
    }

    #[test]
    fn the_seed_list_and_txt_options_with_the_uri_winning() {
        let s = Server::start(set_records);
        let u = run(&s, "mongodb+srv://u:hunter2@rs.example.com/app").unwrap();
        assert_eq!(u.hosts_text(), "a.example.com:27017,b.example.com:27018");
        assert_eq!(u.replica_set.as_deref(), Some("rs0"));
        assert_eq!(u.auth_db(), "thisDB");
        assert!(u.tls.enabled(), "TLS on for +srv");
        assert_eq!(u.srv_host.as_deref(), Some("rs.example.com"));
        let u = run(
            &s,
            "mongodb+srv://rs.example.com/?authSource=otherDB&tls=false",
        )
        .unwrap();
        assert_eq!(u.auth_db(), "otherDB", "the URI overrides TXT");
        assert!(!u.tls.enabled(), "tls=false in the URI turns it off");
        let u = run(&s, "mongodb+srv://rs.example.com/?srvServiceName=custom").unwrap();
        assert_eq!(u.hosts_text(), "c.example.com:1");
        let q: Vec<_> = s
            .queries
            .lock()
            .unwrap()
            .iter()
            .map(|q| q.0.clone())
            .collect();
        assert!(
            q.contains(&"_custom._tcp.rs.example.com".to_string()),
            "{q:?}"
        );
    }

    #[test]
    fn records_that_can_never_work_are_refused_with_one_line() {
        let s = Server::start(set_records);
        for (uri, want) in [
            (
                "mongodb+srv://u:hunter2@evil.example.com",
                "not in the domain example.com",
            ),
            (
                "mongodb+srv://u:hunter2@two.example.com",
                "has 2 TXT records",
            ),
            (
                "mongodb+srv://u:hunter2@opt.example.com",
                "option ssl may not come from DNS",
            ),
            ("mongodb+srv://u:hunter2@junk.example.com", "has no value"),
            (
                "mongodb+srv://u:hunter2@empty.example.com",
                "has no SRV records",
            ),
            (
                "mongodb+srv://u:hunter2@missing.example.com",
                "no such DNS name _mongodb._tcp.missing.example.com (NXDOMAIN",
            ),
        ] {
            let e = run(&s, uri).unwrap_err();
            assert_eq!(e.exit, Exit::Refused, "{uri}: {e}");
            assert!(e.message.contains(want), "{uri}: {e}");
            assert!(!e.message.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn srv_max_hosts_picks_a_subset_and_conflicts_with_replica_set() {
        let hosts: Vec<_> = (0..5)
            .map(|i| srv(27017, &format!("m{i}.example.com")))
            .collect();
        let s = Server::start(move |_, t| {
            if t == dns::TYPE_SRV {
                Answer::Records(hosts.clone())
            } else {
                Answer::Records(vec![])
            }
        });
        let u = run(&s, "mongodb+srv://mongos.example.com/?srvMaxHosts=2").unwrap();
        assert_eq!(u.hosts.len(), 2);
        assert_ne!(u.hosts[0], u.hosts[1]);
        assert_eq!(
            run(&s, "mongodb+srv://mongos.example.com/?srvMaxHosts=9")
                .unwrap()
                .hosts
                .len(),
            5
        );
        let e = run(
            &s,
            "mongodb+srv://mongos.example.com/?srvMaxHosts=2&replicaSet=rs0",
        )
        .unwrap_err();
        assert_eq!(e.exit, Exit::Usage);
        assert!(
            e.message
                .contains("srvMaxHosts cannot be combined with replicaSet"),
            "{e}"
        );
    }

    #[test]
    fn a_srv_uri_wrong_in_itself_is_refused_before_any_lookup() {
        for (uri, want) in [
            (
                "mongodb+srv://u:hunter2@a.example.com:27017",
                "takes no port",
            ),
            (
                "mongodb+srv://u:hunter2@a.example.com,b.example.com",
                "one host name",
            ),
            ("mongodb+srv://u:hunter2@10.0.0.1", "IP address"),
            ("mongodb+srv://u:hunter2@[::1]", "takes no port"),
            ("mongodb+srv://u:hunter2@", "no host"),
            (
                "mongodb+srv://u:hunter2@a.example.com/?directConnection=true",
                "directConnection",
            ),
            (
                "mongodb+srv://u:hunter2@a.example.com/?srvServiceName=_x",
                "not a service name",
            ),
            (
                "mongodb+srv://u:hunter2@a.example.com/?srvMaxHosts=-1",
                "whole number",
            ),
            (
                "mongodb+srv://u:hunter2@a.example.com/?loadBalanced=yes",
                "true or false",
            ),
            (
                "mongodb://u:hunter2@a.example.com/?srvMaxHosts=1",
                "only apply to mongodb+srv",
            ),
            (
                "mongodb://u:hunter2@a.example.com/?srvServiceName=m",
                "only apply to mongodb+srv",
            ),
            (
                "mongodb://u:hunter2@a,b/?loadBalanced=true",
                "loadBalanced=true cannot be combined with more than one host",
            ),
        ] {
            let e = resolve(uri, Deadline::after(Duration::from_secs(1))).unwrap_err();
            assert_eq!(e.exit, Exit::Usage, "{uri}: {e}");
            assert!(e.message.contains(want), "{uri}: {e}");
            assert!(!e.message.contains("hunter2"), "{e}");
        }
        // Not a lookup for mongodb:// — and a +srv URI through uri::parse says what to call.
        assert_eq!(
            resolve("mongodb://h:1", Deadline::after(Duration::from_secs(1)))
                .unwrap()
                .hosts_text(),
            "h:1"
        );
        assert!(uri::parse("mongodb+srv://a.example.com")
            .unwrap_err()
            .contains("srv::resolve"));
    }
}
