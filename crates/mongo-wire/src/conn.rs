//! One connection = one blocking `TcpStream`. Every blocking step (name resolution, connect,
//! each read and write syscall) gets `deadline.timeout(cap)`, so a server that accepts and
//! never answers, answers slowly or trickles bytes cannot hold us past the run's deadline.

use crate::bson::{Doc, Value};
use crate::msg::{self, HEADER_LEN};
use crate::uri::HostPort;
use sidecar::Deadline;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Duration;

/// A command that came back `{ok: 0, code, codeName, errmsg}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerError {
    pub code: i32,
    pub code_name: String,
    pub errmsg: String,
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code_name, self.code, self.errmsg)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The host name does not resolve (yet): wrong name, or the container is not up.
    Resolve { host: String, detail: String },
    /// Nothing listens there (yet).
    Refused { host: String },
    /// No answer within the time left.
    TimedOut { host: String },
    /// Reset, closed mid-message, or another socket error.
    Io { host: String, detail: String },
    /// The bytes were not a valid reply (bad framing, BSON, flags).
    Protocol { host: String, detail: String },
    /// The server answered with an error.
    Server(ServerError),
    /// SCRAM went wrong on our side of the conversation (e.g. bad server signature).
    Auth(String),
}

impl Error {
    pub fn server_code(&self) -> Option<i32> {
        match self {
            Error::Server(e) => Some(e.code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Resolve { host, detail } => write!(f, "cannot resolve {host}: {detail}"),
            Error::Refused { host } => write!(f, "connection to {host} refused"),
            Error::TimedOut { host } => write!(f, "no answer from {host} in time"),
            Error::Io { host, detail } => write!(f, "connection to {host} failed: {detail}"),
            Error::Protocol { host, detail } => {
                write!(f, "{host} sent an invalid reply: {detail}")
            }
            Error::Server(e) => write!(f, "{e}"),
            Error::Auth(m) => write!(f, "authentication failed: {m}"),
        }
    }
}

impl std::error::Error for Error {}

pub struct Connection {
    stream: TcpStream,
    host: String,
    deadline: Deadline,
    cap: Duration,
    next_id: i32,
}

impl Connection {
    /// Resolves and connects to `host`. `cap` bounds each single step (e.g. connectTimeoutMS);
    /// the deadline bounds them all.
    pub fn connect(host: &HostPort, deadline: Deadline, cap: Duration) -> Result<Self, Error> {
        let name = host.to_string();
        let addrs = resolve(host, &deadline, cap)?;
        let mut last = Error::Resolve {
            host: name.clone(),
            detail: "no addresses".into(),
        };
        for addr in addrs {
            if deadline.expired() {
                return Err(Error::TimedOut { host: name });
            }
            match TcpStream::connect_timeout(&addr, deadline.timeout(cap)) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(Connection {
                        stream,
                        host: name,
                        deadline,
                        cap,
                        next_id: 1,
                    });
                }
                Err(e) => last = io_error(&name, e),
            }
        }
        Err(last)
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Changes the bound of each later read/write (an awaitable hello must be allowed to wait
    /// its maxAwaitTimeMS on top of the usual round trip).
    pub fn set_cap(&mut self, cap: Duration) {
        self.cap = cap;
    }

    /// Runs `cmd` against `db` and maps `{ok: 0}` to [`Error::Server`].
    pub fn command(&mut self, db: &str, cmd: Doc) -> Result<Doc, Error> {
        let reply = self.round_trip(cmd.with("$db", db))?;
        check_ok(reply)
    }

    /// Sends one OP_MSG and reads its reply, whatever `ok` says.
    pub fn round_trip(&mut self, cmd: Doc) -> Result<Doc, Error> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.write_all(&msg::encode_request(id, &cmd))?;
        let mut head = [0u8; HEADER_LEN];
        self.read_exact(&mut head)?;
        let header = msg::parse_header(&head).map_err(|d| self.protocol(d))?;
        if header.response_to != id {
            return Err(self.protocol(format!(
                "reply to request {} while waiting for {id}",
                header.response_to
            )));
        }
        let mut body = vec![0u8; header.length - HEADER_LEN];
        self.read_exact(&mut body)?;
        msg::decode_reply(&header, &body).map_err(|d| self.protocol(d))
    }

    fn protocol(&self, detail: String) -> Error {
        Error::Protocol {
            host: self.host.clone(),
            detail,
        }
    }

    fn write_all(&mut self, mut buf: &[u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            self.check_deadline()?;
            let _ = self
                .stream
                .set_write_timeout(Some(self.deadline.timeout(self.cap)));
            match self.stream.write(buf) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&self.host, e)),
            }
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes; the timeout is re-derived before every syscall so a
    /// trickling peer is still cut off at the deadline.
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            self.check_deadline()?;
            let _ = self
                .stream
                .set_read_timeout(Some(self.deadline.timeout(self.cap)));
            match self.stream.read(buf) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(&self.host, e)),
            }
        }
        Ok(())
    }

    fn check_deadline(&self) -> Result<(), Error> {
        if self.deadline.expired() {
            return Err(Error::TimedOut {
                host: self.host.clone(),
            });
        }
        Ok(())
    }

    fn closed(&self) -> Error {
        Error::Io {
            host: self.host.clone(),
            detail: "connection closed by the server".into(),
        }
    }
}

/// `{ok: 1}` passes; anything else becomes a typed server error.
pub fn check_ok(reply: Doc) -> Result<Doc, Error> {
    let ok = match reply.get("ok") {
        Some(Value::Bool(b)) => *b,
        Some(v) => v.as_i64() == Some(1),
        None => false,
    };
    if ok {
        return Ok(reply);
    }
    let code = reply.get_i64("code").unwrap_or(0) as i32;
    Err(Error::Server(ServerError {
        code,
        code_name: reply.get_str("codeName").unwrap_or("UnknownError").into(),
        errmsg: reply.get_str("errmsg").unwrap_or("no error message").into(),
    }))
}

/// getaddrinfo has no timeout of its own: run it on a helper thread and stop waiting at the
/// deadline (the thread finishes or dies with the process; it holds nothing).
fn resolve(host: &HostPort, deadline: &Deadline, cap: Duration) -> Result<Vec<SocketAddr>, Error> {
    let name = host.to_string();
    if let Ok(ip) = host.host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, host.port)]);
    }
    let (tx, rx) = mpsc::channel();
    let target = (host.host.clone(), host.port);
    std::thread::spawn(move || {
        let _ = tx.send(target.to_socket_addrs().map(|a| a.collect::<Vec<_>>()));
    });
    match rx.recv_timeout(deadline.timeout(cap)) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(Error::Resolve {
            host: name,
            detail: "no addresses".into(),
        }),
        Ok(Err(e)) => Err(Error::Resolve {
            host: name,
            detail: e.to_string(),
        }),
        Err(_) => Err(Error::TimedOut { host: name }),
    }
}

fn io_error(host: &str, e: std::io::Error) -> Error {
    let host = host.to_string();
    match e.kind() {
        ErrorKind::ConnectionRefused => Error::Refused { host },
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Error::TimedOut { host },
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            Error::Io {
                host,
                detail: "connection reset by the server".into(),
            }
        }
        _ => Error::Io {
            host,
            detail: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Instant;

    fn local(port: u16) -> HostPort {
        HostPort {
            host: "127.0.0.1".into(),
            port,
        }
    }

    #[test]
    fn maps_ok_zero_to_a_typed_error() {
        let reply = Doc::new()
            .with("ok", 0.0)
            .with("errmsg", "no replset config has been received")
            .with("code", 94)
            .with("codeName", "NotYetInitialized");
        let err = check_ok(reply).unwrap_err();
        assert_eq!(err.server_code(), Some(94));
        assert!(err.to_string().contains("NotYetInitialized (94)"));
        assert!(check_ok(Doc::new().with("ok", 1)).is_ok());
        assert!(check_ok(Doc::new()).is_err());
    }

    #[test]
    fn refused_is_classified() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let deadline = Deadline::after(Duration::from_secs(2));
        let err = Connection::connect(&local(port), deadline, Duration::from_secs(1))
            .err()
            .unwrap();
        assert!(matches!(err, Error::Refused { .. }), "{err:?}");
    }

    #[test]
    fn a_silent_server_cannot_outlive_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let deadline = Deadline::after(Duration::from_millis(200));
        let start = Instant::now();
        let mut c = Connection::connect(&local(port), deadline, Duration::from_secs(10)).unwrap();
        let err = c.command("admin", Doc::new().with("hello", 1)).unwrap_err();
        assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(2));
        drop(listener);
    }

    #[test]
    fn a_trickling_server_is_cut_off_at_the_deadline() {
        // One byte every 20ms: each read succeeds well within its timeout, so only the
        // per-syscall re-derivation from the deadline stops us.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = [0u8; 16];
            let _ = s.read_exact(&mut head);
            // A well-formed header answering our request, so that only the deadline (not a
            // header check) can end the read, however the scheduler spaces the bytes.
            let mut frame = (1000i32).to_le_bytes().to_vec();
            frame.extend_from_slice(&7i32.to_le_bytes());
            frame.extend_from_slice(&head[4..8]);
            frame.extend_from_slice(&2013i32.to_le_bytes());
            frame.extend_from_slice(&[0; 984]);
            for b in frame {
                if s.write_all(&[b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let deadline = Deadline::after(Duration::from_millis(300));
        let start = Instant::now();
        let mut c = Connection::connect(&local(port), deadline, Duration::from_secs(10)).unwrap();
        let err = c.command("admin", Doc::new().with("hello", 1)).unwrap_err();
        assert!(matches!(err, Error::TimedOut { .. }), "{err:?}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn round_trip_against_a_scripted_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut head = [0u8; 16];
            s.read_exact(&mut head).unwrap();
            let h = msg::parse_header(&head).unwrap();
            let mut body = vec![0; h.length - 16];
            s.read_exact(&mut body).unwrap();
            let req = Doc::from_bytes(&body[5..]).unwrap();
            assert_eq!(req.get_str("$db"), Some("admin"));
            let reply = Doc::new().with("isWritablePrimary", true).with("ok", 1.0);
            let mut out = msg::encode_request(77, &reply);
            out[8..12].copy_from_slice(&h.request_id.to_le_bytes());
            s.write_all(&out).unwrap();
        });
        let deadline = Deadline::after(Duration::from_secs(5));
        let mut c = Connection::connect(&local(port), deadline, Duration::from_secs(5)).unwrap();
        let reply = c.command("admin", Doc::new().with("hello", 1)).unwrap();
        assert_eq!(reply.get_bool("isWritablePrimary"), Some(true));
        server.join().unwrap();
    }
}
