//! Test-only: a DNS responder on loopback (UDP, and TCP on the same port) built from RFC 1035's
//! message layout, to drive [`crate::dns`] through its wire paths in unit tests. The e2e tests
//! use a real DNS server (dnsmasq) instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One answer record: type and rdata, owned by the question's name.
pub type Record = (u16, Vec<u8>);

/// What the responder does with a query (given its question name, lower case, and type).
pub type Handler = dyn Fn(&str, u16) -> Answer + Send + Sync;

pub enum Answer {
    Records(Vec<Record>),
    Rcode(u8),
    /// Over UDP: an empty reply with TC set; over TCP: these records.
    Truncated(Vec<Record>),
    /// A reply with another id first, then the records (a stray datagram).
    StrayThen(Vec<Record>),
    Silent,
}

/// Each query seen: name, type, "udp" or "tcp".
pub type Log = Arc<Mutex<Vec<(String, u16, &'static str)>>>;

pub struct Server {
    pub addr: SocketAddr,
    pub queries: Log,
}

impl Server {
    pub fn start(handler: impl Fn(&str, u16) -> Answer + Send + Sync + 'static) -> Server {
        // The UDP port the kernel picks may be taken for TCP by another test: pick again.
        let (udp, tcp) = (0..50)
            .find_map(|_| {
                let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
                let tcp = TcpListener::bind(udp.local_addr().ok()?).ok()?;
                Some((udp, tcp))
            })
            .expect("a loopback port free for both UDP and TCP");
        let addr = udp.local_addr().unwrap();
        let handler: Arc<Handler> = Arc::new(handler);
        let queries: Log = Arc::new(Mutex::new(Vec::new()));
        let (h, q) = (handler.clone(), queries.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let Some((name, qtype, qend)) = question(&buf[..n]) else {
                    continue;
                };
                q.lock().unwrap().push((name.clone(), qtype, "udp"));
                let query = &buf[..qend];
                match h(&name, qtype) {
                    Answer::Silent => {}
                    Answer::Records(r) => drop(udp.send_to(&reply(query, &r, 0, false), from)),
                    Answer::Rcode(c) => drop(udp.send_to(&reply(query, &[], c, false), from)),
                    Answer::Truncated(_) => drop(udp.send_to(&reply(query, &[], 0, true), from)),
                    Answer::StrayThen(r) => {
                        let mut stray = reply(query, &[], 3, false);
                        stray[0] ^= 0xff;
                        let _ = udp.send_to(&stray, from);
                        let _ = udp.send_to(&reply(query, &r, 0, false), from);
                    }
                }
            }
        });
        let q = queries.clone();
        std::thread::spawn(move || {
            for mut s in tcp.incoming().flatten() {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut msg).is_err() {
                    continue;
                }
                let Some((name, qtype, qend)) = question(&msg) else {
                    continue;
                };
                q.lock().unwrap().push((name.clone(), qtype, "tcp"));
                let r = match handler(&name, qtype) {
                    Answer::Truncated(r) | Answer::Records(r) | Answer::StrayThen(r) => r,
                    _ => continue,
                };
                let out = reply(&msg[..qend], &r, 0, false);
                let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&out);
                let _ = s.write_all(&framed);
            }
        });
        Server { addr, queries }
    }

    pub fn resolver(&self) -> crate::dns::Resolver {
        let conf = format!(
            "nameserver [{}]:{}\noptions timeout:1 attempts:1\n",
            self.addr.ip(),
            self.addr.port()
        );
        crate::dns::Resolver::from_conf(&conf, Path::new("test.conf"))
    }
}

/// The question's name, type, and where the question ends.
fn question(msg: &[u8]) -> Option<(String, u16, usize)> {
    let mut at = 12;
    let mut name = Vec::new();
    loop {
        let len = *msg.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        name.push(String::from_utf8_lossy(msg.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]);
    Some((name.join("."), qtype, at + 4))
}

/// A reply to `query` (header + question) with `records` owned by a pointer to the question.
pub fn reply(query: &[u8], records: &[Record], rcode: u8, tc: bool) -> Vec<u8> {
    let mut m = query.to_vec();
    m[2] = 0x81 | if tc { 0x02 } else { 0 };
    m[3] = 0x80 | rcode;
    m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
    for (rtype, rdata) in records {
        m.extend_from_slice(&[0xc0, 12]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }
    m
}

pub fn srv(port: u16, target: &str) -> Record {
    let mut r = vec![0, 1, 0, 5];
    r.extend_from_slice(&port.to_be_bytes());
    r.extend_from_slice(&crate::dns::encode_name(target).unwrap());
    (crate::dns::TYPE_SRV, r)
}

pub fn txt(strings: &[&str]) -> Record {
    let mut r = Vec::new();
    for s in strings {
        r.push(s.len() as u8);
        r.extend_from_slice(s.as_bytes());
    }
    (crate::dns::TYPE_TXT, r)
}
