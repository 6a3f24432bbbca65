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
        apply_txt(&mut uri, record)
            .map_err(|e| Failure::refused(format!("{shown}: TXT record of {}: {}", q.host, esc(&e))))?;
    }

    if q.max_hosts > 0 && (q.max_hosts as usize) < hosts.len() {
        shuffle(&mut hosts);
        hosts.truncate(q.max_hosts as usize);
    }
    uri.hosts = hosts;
    uri::check_combination(&uri, q.max_hosts).map_err(|e| Failure::usage(format!("{shown}: {e}")))?;
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
