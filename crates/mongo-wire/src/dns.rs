//! A small stub DNS client for `mongodb+srv://`: SRV and TXT queries over UDP to the nameservers
//! of resolv.conf, TCP when the reply is truncated (RFC 1035 §4.2, RFC 7766), every wait bound to
//! the run's [`Deadline`]. Hand-written rather than a resolver crate: the well-kept one
//! (hickory-resolver) brings an async runtime and more size than the binaries may grow (README,
//! "Dependencies and why").
//!
//! Which resolv.conf: `MONGO_RESOLV_CONF` (default `/etc/resolv.conf`). It reads `nameserver`
//! (at most 3, as glibc), `options timeout:N attempts:N` (glibc's defaults 5 s and 2), and accepts
//! OpenBSD's `nameserver [address]:port` for a server on another port (glibc ignores such lines).
//! No nameserver, or no default file: 127.0.0.1:53, as glibc. Names are queried as absolute
//! names (no `search` list), as drivers do.

use sidecar::{duration, Deadline, Failure};
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const TYPE_TXT: u16 = 16;
pub const TYPE_SRV: u16 = 33;
const CLASS_IN: u16 = 1;
/// A UDP reply without EDNS0 is at most 512 bytes (RFC 1035 §2.3.4); bigger ones come over TCP.
const UDP_MAX: usize = 512;
/// glibc's MAXNS.
const MAX_SERVERS: usize = 3;
/// resolv.conf is a small text file; a bigger one is a mistake, not something to read whole.
const CONF_MAX: u64 = 64 * 1024;

/// Where to send queries, and how patiently.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolver {
    pub servers: Vec<SocketAddr>,
    /// One attempt's wait for a reply (resolv.conf `timeout:`), always under the deadline.
    pub timeout: Duration,
    /// Rounds over all servers (resolv.conf `attempts:`).
    pub attempts: u32,
    /// The file read, for messages.
    pub source: PathBuf,
}

impl Resolver {
    /// From `MONGO_RESOLV_CONF` or `/etc/resolv.conf`. `Err`: a usage message (exit 2).
    pub fn from_env() -> Result<Resolver, String> {
        match std::env::var_os("MONGO_RESOLV_CONF") {
            Some(p) if !p.is_empty() => Self::from_file(Path::new(&p), true),
            _ => Self::from_file(Path::new("/etc/resolv.conf"), false),
        }
    }

    fn from_file(path: &Path, required: bool) -> Result<Resolver, String> {
        let text = match std::fs::File::open(path) {
            Ok(f) => {
                let mut s = String::new();
                f.take(CONF_MAX)
                    .read_to_string(&mut s)
                    .map_err(|e| format!("MONGO_RESOLV_CONF {}: {e}", path.display()))?;
                s
            }
            Err(e) if required => {
                return Err(format!(
                    "MONGO_RESOLV_CONF {}: {e}: name a resolv.conf file with nameserver lines",
                    path.display()
                ))
            }
            Err(_) => String::new(),
        };
        Ok(Self::from_conf(&text, path))
    }

    /// Parses resolv.conf text; unknown or malformed lines are ignored, as glibc does.
    pub fn from_conf(text: &str, source: &Path) -> Resolver {
        let mut r = Resolver {
            servers: Vec::new(),
            timeout: Duration::from_secs(5),
            attempts: 2,
            source: source.to_path_buf(),
        };
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(nameserver) {
                        if r.servers.len() < MAX_SERVERS {
                            r.servers.push(addr);
                        }
                    }
                }
                Some("options") => {
                    for opt in words {
                        let num = |p: &str| opt.strip_prefix(p).and_then(|n| n.parse::<u32>().ok());
                        if let Some(n) = num("timeout:") {
                            r.timeout = Duration::from_secs(n.clamp(1, 30).into());
                        } else if let Some(n) = num("attempts:") {
                            r.attempts = n.clamp(1, 5);
                        }
                    }
                }
                _ => {}
            }
        }
        if r.servers.is_empty() {
            r.servers.push(SocketAddr::from(([127, 0, 0, 1], 53)));
        }
        r
    }

    /// The servers as `a, b`, for messages.
    pub fn servers_text(&self) -> String {
        let v: Vec<String> = self.servers.iter().map(|s| s.to_string()).collect();
        v.join(", ")
    }

    /// Asks for `qtype` records of `name` until a server answers or the deadline passes.
    /// `Ok(None)`: the name does not exist (NXDOMAIN).
    pub fn query(
        &self,
        name: &str,
        qtype: u16,
        deadline: Deadline,
    ) -> Result<Option<Answer>, Failure> {
        let kind = if qtype == TYPE_SRV { "SRV" } else { "TXT" };
        let question = encode_name(name).map_err(|e| Failure::usage(format!("{name}: {e}")))?;
        let mut last = String::from("no reply");
        for _ in 0..self.attempts {
            for &server in &self.servers {
                if deadline.expired() {
                    return Err(self.timed_out(kind, name, deadline));
                }
                match self.ask(server, &question, qtype, deadline) {
                    Ok((Reply::Records(records), msg)) => return Ok(Some(Answer { msg, records })),
                    Ok((Reply::NxDomain, _)) => return Ok(None),
                    Ok((Reply::Failed(why), _)) | Err(why) => last = format!("{server}: {why}"),
                }
            }
        }
        if deadline.expired() {
            return Err(self.timed_out(kind, name, deadline));
        }
        Err(Failure::unavailable(format!(
            "no DNS server answered the {kind} query for {name} ({last}; servers from {})",
            self.source.display()
        )))
    }

    fn timed_out(&self, kind: &str, name: &str, deadline: Deadline) -> Failure {
        Failure::unavailable(format!(
            "timed out after {} waiting for DNS server {} to answer the {kind} query for {name} (servers from {}; raise --timeout if the server is just slow)",
            duration::display(deadline.budget()),
            self.servers_text(),
            self.source.display()
        ))
    }

    /// One exchange with one server: UDP, then TCP if the reply is truncated.
    fn ask(
        &self,
        server: SocketAddr,
        question: &[u8],
        qtype: u16,
        deadline: Deadline,
    ) -> Result<(Reply, Vec<u8>), String> {
        let id = random_id();
        let query = encode_query(id, question, qtype);
        let local: SocketAddr = match server.ip() {
            IpAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            IpAddr::V6(_) => ([0u16; 8], 0).into(),
        };
        let sock = UdpSocket::bind(local).map_err(|e| format!("UDP socket: {e}"))?;
        // connect(): the kernel drops datagrams from anyone else, and ICMP errors surface.
        sock.connect(server).map_err(|e| e.to_string())?;
        sock.send(&query).map_err(|e| e.to_string())?;
        let until = Deadline::after(deadline.timeout(self.timeout));
        let mut buf = [0u8; UDP_MAX];
        loop {
            if until.expired() {
                return Err("no reply".into());
            }
            sock.set_read_timeout(Some(until.timeout(self.timeout)))
                .map_err(|e| e.to_string())?;
            let n = match sock.recv(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err("no reply".into())
                }
                Err(e) => return Err(e.to_string()),
            };
            match parse_reply(&buf[..n], id, question, qtype) {
                // A stray or spoofed datagram: keep waiting for ours.
                Err(Mismatch::NotOurs) => continue,
                Err(Mismatch::Bad(why)) => return Err(why),
                Ok(Parsed::Truncated) => {
                    return self.ask_tcp(server, &query, question, qtype, deadline)
                }
                Ok(Parsed::Reply(r)) => return Ok((r, buf[..n].to_vec())),
            }
        }
    }

    fn ask_tcp(
        &self,
        server: SocketAddr,
        query: &[u8],
        question: &[u8],
        qtype: u16,
        deadline: Deadline,
    ) -> Result<(Reply, Vec<u8>), String> {
        let until = Deadline::after(deadline.timeout(self.timeout));
        let tcp_err = |e: std::io::Error| format!("over TCP: {e}");
        let mut s =
            TcpStream::connect_timeout(&server, until.timeout(self.timeout)).map_err(tcp_err)?;
        s.set_write_timeout(Some(until.timeout(self.timeout)))
            .map_err(tcp_err)?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        s.write_all(&framed).map_err(tcp_err)?;
        let mut read = |buf: &mut [u8]| -> Result<(), String> {
            let mut got = 0;
            while got < buf.len() {
                if until.expired() {
                    return Err("over TCP: no complete reply".into());
                }
                s.set_read_timeout(Some(until.timeout(self.timeout)))
                    .map_err(tcp_err)?;
                match s.read(&mut buf[got..]) {
                    Ok(0) => return Err("over TCP: connection closed mid-reply".into()),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(tcp_err(e)),
                }
            }
            Ok(())
        };
        let mut len = [0u8; 2];
        read(&mut len)?;
        // At most 64 KiB by the framing itself: memory stays bounded.
        let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
        read(&mut msg)?;
        match parse_reply(
            &msg,
            u16::from_be_bytes([query[0], query[1]]),
            question,
            qtype,
        ) {
            Ok(Parsed::Reply(r)) => Ok((r, msg)),
            Ok(Parsed::Truncated) => Err("over TCP: truncated reply".into()),
            Err(Mismatch::NotOurs) => Err("over TCP: a reply to another query".into()),
            Err(Mismatch::Bad(why)) => Err(format!("over TCP: {why}")),
        }
    }
}

/// `1.2.3.4`, `::1`, or OpenBSD's `[1.2.3.4]:5353` / `[::1]:5353`.
fn nameserver(word: &str) -> Option<SocketAddr> {
    if let Some(rest) = word.strip_prefix('[') {
        let (ip, port) = rest.split_once("]:")?;
        return Some(SocketAddr::new(ip.parse().ok()?, port.parse().ok()?));
    }
    // A zone id (`fe80::1%eth0`) is not supported by std's parser: such a line is skipped.
    Some(SocketAddr::new(word.parse().ok()?, 53))
}

fn random_id() -> u16 {
    let mut b = [0u8; 2];
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        b = (t as u16).to_be_bytes();
    }
    u16::from_be_bytes(b)
}

/// A name in wire form (labels, then the root). `Err`: why it cannot be a DNS name.
pub fn encode_name(name: &str) -> Result<Vec<u8>, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err("a DNS name has 1 to 253 characters".into());
    }
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("DNS label {label:?} must have 1 to 63 characters"));
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(out)
}

fn encode_query(id: u16, question: &[u8], qtype: u16) -> Vec<u8> {
    let mut q = Vec::with_capacity(12 + question.len() + 4);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00]); // RD: the server recurses for us
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // 1 question
    q.extend_from_slice(question);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    q
}

/// A NOERROR reply: the message and where each answer record of the asked type has its rdata
/// (names inside rdata may point elsewhere in the message, so the message is kept whole).
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub msg: Vec<u8>,
    pub records: Vec<Range<usize>>,
}

impl Answer {
    /// Port and target of each SRV record (RFC 2782).
    pub fn srv(&self) -> Result<Vec<(u16, String)>, String> {
        self.records
            .iter()
            .map(|r| srv_of(&self.msg, r.clone()))
            .collect()
    }

    /// Each TXT record's strings, concatenated.
    pub fn txt(&self) -> Result<Vec<Vec<u8>>, String> {
        self.records
            .iter()
            .map(|r| txt_of(&self.msg[r.clone()]))
            .collect()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// Where the rdata of each answer record of the asked type is (NOERROR; maybe none).
    Records(Vec<Range<usize>>),
    NxDomain,
    /// SERVFAIL, REFUSED, …: another server may do better.
    Failed(String),
}

#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Reply(Reply),
    Truncated,
}

#[derive(Debug, PartialEq, Eq)]
enum Mismatch {
    /// Not a reply to this query (other id or question): ignore it.
    NotOurs,
    Bad(String),
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, Mismatch> {
    b.get(at..at + 2)
        .map(|x| u16::from_be_bytes([x[0], x[1]]))
        .ok_or_else(|| Mismatch::Bad("reply cut short".into()))
}

fn parse_reply(b: &[u8], id: u16, question: &[u8], qtype: u16) -> Result<Parsed, Mismatch> {
    if b.len() < 12 || u16_at(b, 0)? != id || b[2] & 0x80 == 0 {
        return Err(Mismatch::NotOurs);
    }
    // The question must come back as asked (case-insensitively, RFC 4343).
    let qend = 12 + question.len();
    if u16_at(b, 4)? != 1
        || b.len() < qend + 4
        || !b[12..qend].eq_ignore_ascii_case(question)
        || u16_at(b, qend)? != qtype
        || u16_at(b, qend + 2)? != CLASS_IN
    {
        return Err(Mismatch::NotOurs);
    }
    if b[2] & 0x02 != 0 {
        return Ok(Parsed::Truncated);
    }
    let reply = match b[3] & 0x0f {
        0 => {
            let count = u16_at(b, 6)?;
            let mut at = qend + 4;
            let mut records = Vec::new();
            for _ in 0..count {
                at = skip_name(b, at)?;
                let (rtype, class, len) = (u16_at(b, at)?, u16_at(b, at + 2)?, u16_at(b, at + 8)?);
                let start = at + 10;
                let end = start + len as usize;
                if end > b.len() {
                    return Err(Mismatch::Bad("record cut short".into()));
                }
                // CNAMEs and other types a recursive server adds are not ours (the spec
                // does not support CNAME): only records of the asked type count.
                if rtype == qtype && class == CLASS_IN {
                    records.push(start..end);
                }
                at = start + len as usize;
            }
            Reply::Records(records)
        }
        3 => Reply::NxDomain,
        2 => Reply::Failed("SERVFAIL (the server could not resolve it now)".into()),
        5 => Reply::Failed("REFUSED (the server does not answer us)".into()),
        n => Reply::Failed(format!("error code {n}")),
    };
    Ok(Parsed::Reply(reply))
}

/// Where the name at `at` ends (a pointer ends it after two bytes).
fn skip_name(b: &[u8], mut at: usize) -> Result<usize, Mismatch> {
    loop {
        let len = *b
            .get(at)
            .ok_or_else(|| Mismatch::Bad("name cut short".into()))?;
        match len {
            0 => return Ok(at + 1),
            l if l & 0xc0 == 0xc0 => return Ok(at + 2),
            l if l & 0xc0 != 0 => return Err(Mismatch::Bad("bad label type".into())),
            l => at += 1 + l as usize,
        }
    }
}

/// Reads the (maybe compressed) name at `at` in message `msg`, lowercased, without the final dot.
pub fn read_name(msg: &[u8], mut at: usize) -> Result<String, String> {
    let mut out = String::new();
    // Every pointer must go backwards, so a loop is impossible; the count is a second bound.
    let mut jumps = 0;
    let mut floor = at;
    loop {
        let len = *msg.get(at).ok_or("name cut short")? as usize;
        if len == 0 {
            return Ok(out);
        }
        if len & 0xc0 == 0xc0 {
            let ptr = ((len & 0x3f) << 8) | *msg.get(at + 1).ok_or("name cut short")? as usize;
            jumps += 1;
            if ptr >= floor || jumps > 64 {
                return Err("bad name compression pointer".into());
            }
            floor = ptr;
            at = ptr;
            continue;
        }
        if len & 0xc0 != 0 {
            return Err("bad label type".into());
        }
        let label = msg.get(at + 1..at + 1 + len).ok_or("name cut short")?;
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(label.iter().map(|&c| c.to_ascii_lowercase() as char));
        if out.len() > 253 {
            return Err("name longer than 253 characters".into());
        }
        at += 1 + len;
    }
}

/// An SRV record's port and target from its rdata (RFC 2782). The target may be compressed
/// against the whole message, so the rdata is read where it lies in it.
fn srv_of(msg: &[u8], rdata: Range<usize>) -> Result<(u16, String), String> {
    if rdata.len() < 7 {
        return Err("SRV record cut short".into());
    }
    let b = &msg[rdata.start..rdata.start + 6];
    let port = u16::from_be_bytes([b[4], b[5]]);
    Ok((port, read_name(msg, rdata.start + 6)?))
}

/// The character-strings of a TXT record's rdata, concatenated (the seedlist spec).
fn txt_of(rdata: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < rdata.len() {
        let len = rdata[at] as usize;
        out.extend_from_slice(
            rdata
                .get(at + 1..at + 1 + len)
                .ok_or("TXT string cut short")?,
        );
        at += 1 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdns::{reply, srv, txt, Answer, Server};
    use std::time::Instant;

    fn conf(text: &str) -> Resolver {
        Resolver::from_conf(text, Path::new("r.conf"))
    }

    #[test]
    fn resolv_conf_as_glibc_reads_it_plus_openbsd_ports() {
        let r = conf("# c\nsearch x\nnameserver 10.0.0.1\nnameserver [127.0.0.1]:5353\nnameserver ::1\nnameserver 10.0.0.4\nnameserver junk\noptions ndots:2 timeout:3 attempts:4\n");
        assert_eq!(
            r.servers_text(),
            "10.0.0.1:53, 127.0.0.1:5353, [::1]:53",
            "at most 3, as MAXNS"
        );
        assert_eq!(r.timeout, Duration::from_secs(3));
        assert_eq!(r.attempts, 4);
        let d = conf("");
        assert_eq!(d.servers_text(), "127.0.0.1:53");
        assert_eq!((d.timeout, d.attempts), (Duration::from_secs(5), 2));
        assert_eq!(conf("options timeout:0 attempts:99").attempts, 5);
    }

    #[test]
    fn an_explicit_resolv_conf_must_exist() {
        let e = Resolver::from_file(Path::new("/nonexistent/r.conf"), true).unwrap_err();
        assert!(e.contains("MONGO_RESOLV_CONF /nonexistent/r.conf"), "{e}");
        let r = Resolver::from_file(Path::new("/nonexistent/r.conf"), false).unwrap();
        assert_eq!(r.servers_text(), "127.0.0.1:53");
    }

    #[test]
    fn names_encode_and_bad_ones_are_refused() {
        assert_eq!(encode_name("a.bc.").unwrap(), b"\x01a\x02bc\x00");
        assert!(encode_name("a..b").is_err());
        assert!(encode_name(&"x".repeat(64)).is_err());
        assert!(encode_name("").is_err());
    }

    #[test]
    fn compressed_names_are_read_and_loops_refused() {
        // "a.b" at 0, then "c" + pointer to 0 at 5.
        let msg = b"\x01a\x01b\x00\x01C\xc0\x00";
        assert_eq!(read_name(msg, 5).unwrap(), "c.a.b");
        assert!(read_name(b"\xc0\x00", 0).is_err(), "self pointer");
        assert!(read_name(b"\x01a\xc0\x02", 0).is_err(), "forward pointer");
        assert!(read_name(b"\x05ab", 0).is_err(), "cut short");
        assert!(read_name(b"\x80", 0).is_err());
    }

    #[test]
    fn replies_are_matched_to_their_query() {
        let q = encode_name("h.example").unwrap();
        let query = encode_query(7, &q, TYPE_TXT);
        let ok = reply(&query, &[txt(&["a=1", "&b=2"])], 0, false);
        let Ok(Parsed::Reply(Reply::Records(r))) = parse_reply(&ok, 7, &q, TYPE_TXT) else {
            panic!()
        };
        assert_eq!(txt_of(&ok[r[0].clone()]).unwrap(), b"a=1&b=2");
        assert_eq!(parse_reply(&ok, 8, &q, TYPE_TXT), Err(Mismatch::NotOurs));
        assert_eq!(parse_reply(&ok, 7, &q, TYPE_SRV), Err(Mismatch::NotOurs));
        let other = encode_name("i.example").unwrap();
        assert_eq!(
            parse_reply(&ok, 7, &other, TYPE_TXT),
            Err(Mismatch::NotOurs)
        );
        assert_eq!(
            parse_reply(&query, 7, &q, TYPE_TXT),
            Err(Mismatch::NotOurs),
            "not a reply"
        );
        // Case-insensitive question (RFC 4343), NXDOMAIN, SERVFAIL, truncation, a cut record.
        let upper = encode_query(7, &encode_name("H.EXAMPLE").unwrap(), TYPE_TXT);
        assert!(matches!(
            parse_reply(&reply(&upper, &[], 3, false), 7, &q, TYPE_TXT),
            Ok(Parsed::Reply(Reply::NxDomain))
        ));
        assert!(matches!(
            parse_reply(&reply(&query, &[], 2, false), 7, &q, TYPE_TXT),
            Ok(Parsed::Reply(Reply::Failed(_)))
        ));
        assert_eq!(
            parse_reply(&reply(&query, &[], 0, true), 7, &q, TYPE_TXT),
            Ok(Parsed::Truncated)
        );
        let cut = &ok[..ok.len() - 1];
        assert!(matches!(
            parse_reply(cut, 7, &q, TYPE_TXT),
            Err(Mismatch::Bad(_))
        ));
    }

    #[test]
    fn srv_and_txt_over_udp_other_types_ignored() {
        let s = Server::start(|name, t| match (name, t) {
            ("_mongodb._tcp.c.example", TYPE_SRV) => Answer::Records(vec![
                (5, b"\x01x\x00".to_vec()), // a CNAME: not ours
                srv(27017, "A.c.example"),
                srv(27018, "b.c.example"),
            ]),
            ("c.example", TYPE_TXT) => Answer::StrayThen(vec![txt(&["replicaS", "et=rs0"])]),
            _ => Answer::Rcode(3),
        });
        let r = s.resolver();
        let d = Deadline::after(Duration::from_secs(5));
        let a = r
            .query("_mongodb._tcp.c.example", TYPE_SRV, d)
            .unwrap()
            .unwrap();
        assert_eq!(
            a.srv().unwrap(),
            vec![(27017, "a.c.example".into()), (27018, "b.c.example".into())]
        );
        let t = r.query("c.example", TYPE_TXT, d).unwrap().unwrap();
        assert_eq!(
            t.txt().unwrap(),
            vec![b"replicaSet=rs0".to_vec()],
            "stray reply skipped"
        );
        assert_eq!(r.query("nope.example", TYPE_SRV, d).unwrap(), None);
    }

    #[test]
    fn a_truncated_reply_is_asked_again_over_tcp() {
        let many: Vec<_> = (0..40)
            .map(|i| srv(27000 + i, &format!("member-{i}.c.example")))
            .collect();
        let s = Server::start(move |_, _| Answer::Truncated(many.clone()));
        let a = s
            .resolver()
            .query(
                "_mongodb._tcp.c.example",
                TYPE_SRV,
                Deadline::after(Duration::from_secs(5)),
            )
            .unwrap()
            .unwrap();
        assert_eq!(a.srv().unwrap().len(), 40);
        let q = s.queries.lock().unwrap();
        assert_eq!(q.iter().map(|x| x.2).collect::<Vec<_>>(), ["udp", "tcp"]);
    }

    #[test]
    fn a_closed_port_is_tried_then_the_next_server_answers() {
        // Nothing listens on the first port: the kernel's ICMP error ends that attempt at once.
        let closed = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let s = Server::start(|_, _| Answer::Records(vec![txt(&["authSource=a"])]));
        let mut r = s.resolver();
        r.servers.insert(0, closed);
        let d = Deadline::after(Duration::from_secs(5));
        let start = Instant::now();
        assert_eq!(
            r.query("h.example", TYPE_TXT, d)
                .unwrap()
                .unwrap()
                .records
                .len(),
            1
        );
        assert!(
            start.elapsed() < Duration::from_millis(900),
            "not the 1 s timeout"
        );
        r.servers.truncate(1);
        let e = r.query("h.example", TYPE_TXT, d).unwrap_err();
        assert_eq!(e.exit, sidecar::Exit::Unavailable);
        assert!(
            e.message
                .contains("no DNS server answered the TXT query for h.example"),
            "{e}"
        );
        assert!(e.message.contains("refused"), "{e}");
    }

    #[test]
    fn a_silent_server_times_out_at_the_deadline_retryable() {
        let s = Server::start(|_, _| Answer::Silent);
        let mut r = s.resolver();
        r.timeout = Duration::from_secs(30);
        let start = Instant::now();
        let e = r
            .query(
                "_mongodb._tcp.c.example",
                TYPE_SRV,
                Deadline::after(Duration::from_millis(300)),
            )
            .unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "bounded by the deadline"
        );
        assert_eq!(e.exit, sidecar::Exit::Unavailable);
        assert!(
            e.message
                .contains("timed out after 300ms waiting for DNS server 127.0.0.1:"),
            "{e}"
        );
        // SERVFAIL on every attempt: retryable too, with the reason.
        let s = Server::start(|_, _| Answer::Rcode(2));
        let e = s
            .resolver()
            .query(
                "x.example",
                TYPE_TXT,
                Deadline::after(Duration::from_secs(5)),
            )
            .unwrap_err();
        assert_eq!(e.exit, sidecar::Exit::Unavailable);
        assert!(e.message.contains("SERVFAIL"), "{e}");
    }
}
