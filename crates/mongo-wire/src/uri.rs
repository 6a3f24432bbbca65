//! `mongodb://` connection strings, the subset a sidecar needs
//! (https://github.com/mongodb/specifications/blob/master/source/connection-string/connection-string-spec.md,
//! https://www.mongodb.com/docs/manual/reference/connection-string/). Errors are one line for a
//! usage error (exit 2); the password never appears in them. `mongodb+srv://` is parsed here
//! (one host, no port, srvServiceName/srvMaxHosts) and resolved by [`crate::srv::resolve`].

use sidecar::Secret;
use std::fmt;
use std::time::Duration;

pub const DEFAULT_PORT: u16 = 27017;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl HostPort {
    /// `host`, `host:port`, `[v6]`, `[v6]:port`. The message says what is wrong with which host.
    pub fn parse(text: &str) -> Result<HostPort, String> {
        let bad =
            |why: &str| format!("invalid host {text:?}: {why} (want host:port, e.g. mongo1:27017)");
        if text.is_empty() {
            return Err(bad("empty"));
        }
        if text.ends_with(".sock") || text.contains('/') {
            return Err(bad("Unix domain sockets are not supported"));
        }
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let end = rest.find(']').ok_or_else(|| bad("unclosed '['"))?;
            let after = &rest[end + 1..];
            let port = match after {
                "" => None,
                p if p.starts_with(':') => Some(&p[1..]),
                _ => return Err(bad("junk after ']'")),
            };
            (&rest[..end], port)
        } else {
            match text.rsplit_once(':') {
                Some((h, _)) if h.contains(':') => {
                    return Err(bad("IPv6 addresses must be in brackets"))
                }
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        sidecar::host::check_name(host).map_err(|why| bad(&why))?;
        let port = match port {
            None => DEFAULT_PORT,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(bad("port must be 1-65535")),
            },
        };
        Ok(HostPort {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    ScramSha256,
    ScramSha1,
    X509,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::X509 => "MONGODB-X509",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    pub hosts: Vec<HostPort>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub default_db: Option<String>,
    pub replica_set: Option<String>,
    pub auth_source: Option<String>,
    pub auth_mechanism: Option<Mechanism>,
    pub direct_connection: Option<bool>,
    pub connect_timeout: Option<Duration>,
    pub load_balanced: Option<bool>,
    pub tls: crate::tls::TlsOptions,
    /// For a `mongodb+srv://` URI, the host whose SRV records gave `hosts`.
    pub srv_host: Option<String>,
}

/// What a `mongodb+srv://` URI asks DNS for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SrvQuery {
    pub host: String,
    /// `srvServiceName`, default `mongodb`.
    pub service: String,
    /// `srvMaxHosts`, 0: all.
    pub max_hosts: u32,
}

impl Uri {
    /// Where credentials are checked: authSource, else the URI's database, else admin (spec).
    pub fn auth_db(&self) -> &str {
        self.auth_source
            .as_deref()
            .or(self.default_db.as_deref())
            .unwrap_or("admin")
    }

    /// The hosts as `a:27017,b:27017`, for messages.
    pub fn hosts_text(&self) -> String {
        self.hosts
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Parses a `mongodb://` connection string. `Err` is a one-line usage message. A
/// `mongodb+srv://` URI needs DNS: [`crate::srv::resolve`] takes both.
pub fn parse(text: &str) -> Result<Uri, String> {
    match parse_raw(text)? {
        (uri, None) => Ok(uri),
        (_, Some(q)) => Err(format!(
            "mongodb+srv://{}: a seed list from DNS needs a lookup (mongo_wire::srv::resolve)",
            q.host
        )),
    }
}

/// Parses either scheme; for `mongodb+srv://` also what to ask DNS (`hosts` is then empty).
pub fn parse_raw(text: &str) -> Result<(Uri, Option<SrvQuery>), String> {
    // The URI and option values are echoed in messages: no control characters in them.
    parse_unescaped(text).map_err(|e| sidecar::text::escape_controls(&e))
}

fn parse_unescaped(text: &str) -> Result<(Uri, Option<SrvQuery>), String> {
    // What messages show of the URI: no password (of the user, or of the TLS key).
    let shown = crate::tls::redact_key_password(&sidecar::secret::redact_userinfo(text));
    let (is_srv, rest) = match text.strip_prefix("mongodb+srv://") {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix("mongodb://").ok_or_else(|| {
            format!(
                "{shown}: not a MongoDB URI: it must start with mongodb:// (or mongodb+srv://), e.g. mongodb://mongo:27017"
            )
        })?),
    };
    // Split at the first '/' or '?' that follows the host list (userinfo may not contain them
    // unescaped, per the spec, so the first one ends the authority).
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(auth_end);
    let (userinfo, hostlist) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if tail.contains('@') {
        // `user:pa/ss@host` (or `us@r:pa/ss@host`): the '/' ended the host list early, so part
        // of the password would be read as a host and echoed in later messages. Refuse before
        // anything shows it.
        return Err(format!(
            "{shown}: '@' after the host list: percent-encode '/' and '?' in the user name or password (%2F, %3F) and '@' in options (%40)"
        ));
    }
    let mut uri = Uri {
        hosts: Vec::new(),
        username: None,
        password: None,
        default_db: None,
        replica_set: None,
        auth_source: None,
        auth_mechanism: None,
        direct_connection: None,
        connect_timeout: None,
        load_balanced: None,
        tls: Default::default(),
        srv_host: None,
    };
    let mut srv_service: Option<String> = None;
    let mut srv_max_hosts: Option<u32> = None;
    if let Some(info) = userinfo {
        if info.contains('@') {
            return Err(format!(
                "{shown}: '@' in the user name or password must be percent-encoded as %40"
            ));
        }
        let (user, pass) = match info.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (info, None),
        };
        // Registered before any message is formatted: from here on no output shows it.
        if let Some(p) = pass {
            sidecar::redact::register(p);
            if let Ok(decoded) = percent_decode(p) {
                sidecar::redact::register(&decoded);
            }
        }
        if pass.is_some_and(|p| p.contains(':')) {
            return Err(format!(
                "{shown}: ':' in the password must be percent-encoded as %3A"
            ));
        }
        let user = percent_decode(user).map_err(|e| format!("{shown}: user name: {e}"))?;
        if user.is_empty() {
            return Err(format!("{shown}: the user name is empty"));
        }
        uri.username = Some(user);
        if let Some(p) = pass {
            // Never echo the password, not even in the decoding error.
            uri.password =
                Some(Secret::new(percent_decode(p).map_err(|_| {
                    format!("{shown}: the password has a bad %-escape")
                })?));
        }
    }
    if hostlist.is_empty() {
        return Err(format!("{shown}: no host: e.g. mongodb://mongo:27017"));
    }
    let mut srv_host = None;
    if is_srv {
        // Seedlist discovery spec, "Validation Before Querying DNS": one host, no port.
        let host = percent_decode(hostlist).map_err(|e| format!("{shown}: host: {e}"))?;
        if host.contains(',') {
            return Err(format!(
                "{shown}: mongodb+srv:// takes one host name (the one with the SRV records), not a list"
            ));
        }
        if host.contains([':', '[']) {
            return Err(format!(
                "{shown}: mongodb+srv:// takes no port (the SRV records give the ports): drop ':port', or use mongodb://host:port"
            ));
        }
        if host.parse::<std::net::Ipv4Addr>().is_ok() {
            return Err(format!(
                "{shown}: an IP address has no SRV records: use mongodb://{host}:27017"
            ));
        }
        let h = HostPort::parse(&host).map_err(|e| format!("{shown}: host: {e}"))?;
        let name = h.host.strip_suffix('.').unwrap_or(&h.host).to_string();
        crate::dns::encode_name(&name).map_err(|e| format!("{shown}: host: {e}"))?;
        srv_host = Some(name);
    } else {
        for h in hostlist.split(',') {
            uri.hosts.push(
                percent_decode(h)
                    .and_then(|h| HostPort::parse(&h))
                    .map_err(|e| format!("{shown}: host: {e}"))?,
            );
        }
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let db = path.strip_prefix('/').unwrap_or(path);
    if !db.is_empty() {
        let db = percent_decode(db).map_err(|e| format!("{shown}: database: {e}"))?;
        if db.contains(['/', '\\', ' ', '"', '$']) {
            return Err(format!("{shown}: invalid database name {db:?}"));
        }
        uri.default_db = Some(db);
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{shown}: option {pair:?} has no value (key=value)"))?;
        let value = percent_decode(value).map_err(|e| format!("{shown}: {key}: {e}"))?;
        let boolean = |v: &str| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{shown}: {key} must be true or false, not {v:?}")),
        };
        match key.to_ascii_lowercase().as_str() {
            "replicaset" => uri.replica_set = Some(value).filter(|v| !v.is_empty()),
            "authsource" => uri.auth_source = Some(value).filter(|v| !v.is_empty()),
            "authmechanism" => {
                uri.auth_mechanism = Some(match value.as_str() {
                    "SCRAM-SHA-256" => Mechanism::ScramSha256,
                    "SCRAM-SHA-1" => Mechanism::ScramSha1,
                    "MONGODB-X509" => Mechanism::X509,
                    other => {
                        return Err(format!(
                            "{shown}: authMechanism {other} is not supported: use SCRAM-SHA-256, SCRAM-SHA-1 or MONGODB-X509"
                        ))
                    }
                })
            }
            "directconnection" => uri.direct_connection = Some(boolean(&value)?),
            "loadbalanced" => uri.load_balanced = Some(boolean(&value)?),
            "srvservicename" => srv_service = Some(service_name(&value).map_err(|e| format!("{shown}: {e}"))?),
            "srvmaxhosts" => {
                srv_max_hosts = Some(value.parse().map_err(|_| {
                    format!("{shown}: srvMaxHosts must be a whole number (0: no limit)")
                })?)
            }
            "connecttimeoutms" => {
                let ms: u64 = value.parse().map_err(|_| {
                    format!("{shown}: connectTimeoutMS must be a number of milliseconds")
                })?;
                // 0 means "no timeout" in the spec; our deadline still bounds every wait.
                uri.connect_timeout = (ms > 0).then(|| Duration::from_millis(ms));
            }
            k if uri.tls.set(k, &value).map_err(|e| format!("{shown}: {e}"))? => {}
            // Other options (retryWrites, w, readPreference, …) concern the application's
            // driver, which reads the same MONGO_URL; they do not change what we do.
            _ => {}
        }
    }
    if !is_srv && (srv_service.is_some() || srv_max_hosts.is_some()) {
        return Err(format!(
            "{shown}: srvServiceName and srvMaxHosts only apply to mongodb+srv:// URIs"
        ));
    }
    if is_srv && uri.direct_connection == Some(true) {
        return Err(format!(
            "{shown}: directConnection=true cannot be used with mongodb+srv:// (its seed list can have many hosts)"
        ));
    }
    if uri.direct_connection == Some(true) && uri.hosts.len() > 1 {
        return Err(format!(
            "{shown}: directConnection=true needs exactly one host"
        ));
    }
    if uri.password.is_some() && uri.username.is_none() {
        return Err(format!("{shown}: a password without a user name"));
    }
    uri.tls.check().map_err(|e| format!("{shown}: {e}"))?;
    let srv = srv_host.map(|host| {
        uri.tls.on_by_default = true;
        uri.srv_host = Some(host.clone());
        SrvQuery {
            host,
            service: srv_service.unwrap_or_else(|| "mongodb".into()),
            max_hosts: srv_max_hosts.unwrap_or(0),
        }
    });
    if srv.is_none() {
        check_combination(&uri, 0).map_err(|e| format!("{shown}: {e}"))?;
    }
    Ok((uri, srv))
}

/// The URI options spec's conflicts of loadBalanced and srvMaxHosts, checked once the options
/// are final (for `mongodb+srv://`, after the TXT record: seedlist spec, "URI Validation").
pub fn check_combination(uri: &Uri, srv_max_hosts: u32) -> Result<(), String> {
    if srv_max_hosts > 0 && uri.replica_set.is_some() {
        return Err("srvMaxHosts cannot be combined with replicaSet (the spec forbids it: a subset of the SRV hosts is for mongos, not for a replica set)".into());
    }
    if uri.load_balanced == Some(true) {
        let why = if srv_max_hosts > 0 {
            Some("srvMaxHosts")
        } else if uri.replica_set.is_some() {
            Some("replicaSet")
        } else if uri.hosts.len() > 1 {
            Some("more than one host")
        } else if uri.direct_connection == Some(true) {
            Some("directConnection=true")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(format!("loadBalanced=true cannot be combined with {why}"));
        }
    }
    Ok(())
}

/// `srvServiceName`: an RFC 6335 service name (letters, digits, '-'), which may exceed 15
/// characters while `_name` fits a DNS label (seedlist spec).
fn service_name(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 62
        && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !v.starts_with('-')
        && !v.ends_with('-')
        && !v.contains("--")
        && v.chars().any(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!("srvServiceName {v:?} is not a service name (letters, digits and single '-', at most 62 characters, e.g. mongodb)"))
    }
}

/// `%XX` decoding; the result must be UTF-8.
pub fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad %-escape (want %XX)")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "%-escapes do not form UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_uri() {
        let u = parse("mongodb://ro%40t:p%3Ass%25@Mongo1:27018,mongo2,[::1]:27019/app?replicaSet=rs0&authSource=admin&authMechanism=SCRAM-SHA-256&directConnection=false&connectTimeoutMS=1500&retryWrites=true").unwrap();
        assert_eq!(u.username.as_deref(), Some("ro@t"));
        assert_eq!(u.password.as_ref().unwrap().expose(), "p:ss%");
        assert_eq!(u.hosts_text(), "mongo1:27018,mongo2:27017,[::1]:27019");
        assert_eq!(u.default_db.as_deref(), Some("app"));
        assert_eq!(u.replica_set.as_deref(), Some("rs0"));
        assert_eq!(u.auth_db(), "admin");
        assert_eq!(u.auth_mechanism, Some(Mechanism::ScramSha256));
        assert_eq!(u.direct_connection, Some(false));
        assert_eq!(u.connect_timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn auth_db_falls_back_to_path_then_admin() {
        assert_eq!(parse("mongodb://u:p@h/app").unwrap().auth_db(), "app");
        assert_eq!(parse("mongodb://u:p@h").unwrap().auth_db(), "admin");
        assert_eq!(parse("mongodb://h/?").unwrap().hosts[0].port, 27017);
    }

    #[test]
    fn clear_errors_never_showing_the_password() {
        for (uri, want) in [
            ("mongodb+srv://u:hunter2@x", "mongodb+srv"),
            ("http://h", "must start with mongodb://"),
            ("mongodb://u:hunter2@h/?tls=true&ssl=false", "disagree"),
            ("mongodb://u:hunter2@h/?tls=1", "true or false"),
            (
                "mongodb://u:hunter2@h/?authMechanism=PLAIN",
                "not supported",
            ),
            ("mongodb://u:hunter2@h:0", "port"),
            ("mongodb://u:hunter2@h:99999", "port"),
            ("mongodb://u:hunter2@", "no host"),
            (
                "mongodb://u:hunter2@a,b/?directConnection=true",
                "exactly one host",
            ),
            ("mongodb://u:hun:ter2@h", "%3A"),
            ("mongodb://u@x:hunter2@h", "%40"),
            ("mongodb://h/?replicaSet", "no value"),
            ("mongodb://h/?directConnection=yes", "true or false"),
            (
                "mongodb://u:hunter2@h/?connectTimeoutMS=abc",
                "milliseconds",
            ),
            ("mongodb://u:hunter2@::1", "brackets"),
            ("mongodb://u:hunter2@h%zz", "escape"),
            ("mongodb://u:hunt/er2@h", "%2F"),
            ("mongodb://u:hunt?er2@h", "%3F"),
            ("mongodb://u:12/hunter2@h", "%2F"),
            ("mongodb://us@r:hunt/er2@h", "%2F"),
            ("mongodb://u?x:hunter2@h", "%3F"),
            ("mongodb:/u:hunter2@h", "must start with mongodb://"),
            ("mongodb//u:hunter2@h", "must start with mongodb://"),
            ("u:hunter2@h", "must start with mongodb://"),
            ("mongodb://u:hunter2@a b", "host"),
            ("mongodb://u:hunter2@a%23b", "host"),
        ] {
            let err = parse(uri).unwrap_err();
            assert!(err.contains(want), "{uri}: {err}");
            assert!(!err.contains("hunter2"), "{uri}: {err}");
            assert!(!err.contains('\n'));
        }
        assert!(parse("mongodb://h/?tls=false").is_ok());
        let u = parse("mongodb://h/?tls=true&tlsCAFile=%2Fca.pem&tlsAllowInvalidHostnames=true&authMechanism=MONGODB-X509").unwrap();
        assert!(u.tls.enabled());
        assert_eq!(
            u.tls.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert_eq!(u.tls.allow_invalid_hostnames, Some(true));
        assert_eq!(u.auth_mechanism, Some(Mechanism::X509));
    }
}
