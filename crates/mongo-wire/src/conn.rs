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
    /// The TLS handshake failed: a certificate problem or a refusal, final (not retried).
    Tls { host: String, detail: String },
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
            Error::Tls { host, detail } => write!(f, "TLS with {host} failed: {detail}"),
        }
    }
}

impl std::error::Error for Error {}

/// The socket under the (optional) TLS session: every syscall gets the time left (capped) as
/// its timeout, and none starts after the deadline, so a peer trickling handshake or reply
/// bytes is cut off at the deadline.
struct DeadlineIo {
    tcp: TcpStream,
    deadline: Deadline,
    cap: Duration,
}

impl DeadlineIo {
    fn expired(&self) -> std::io::Result<()> {
        if self.deadline.expired() {
            return Err(ErrorKind::TimedOut.into());
        }
        Ok(())
    }
}

impl Read for DeadlineIo {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.expired()?;
        let _ = self
            .tcp
            .set_read_timeout(Some(self.deadline.timeout(self.cap)));
        self.tcp.read(buf)
    }
}

impl Write for DeadlineIo {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.expired()?;
        let _ = self
            .tcp
            .set_write_timeout(Some(self.deadline.timeout(self.cap)));
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tcp.flush()
    }
}

enum Stream {
    Plain(DeadlineIo),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, DeadlineIo>>),
}

impl Stream {
    fn io(&mut self) -> &mut DeadlineIo {
        match self {
            Stream::Plain(io) => io,
            Stream::Tls(s) => &mut s.sock,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(io) => io.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(io) => io.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(io) => io.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

pub struct Connection {
    stream: Stream,
    host: String,
    deadline: Deadline,
    next_id: i32,
    /// TLS and no reply read yet: an end of the connection now is how mongod refuses a
    /// missing or unverifiable client certificate (it completes the handshake, then
    /// parseAndValidatePeerCertificate fails and the session ends). `Some(true)`: we sent one.
    unproven_tls: Option<bool>,
}

impl Connection {
    /// Resolves and connects to `host`, over TLS when the process installed a TLS config
    /// ([`crate::tls::install`]). `cap` bounds each single step (e.g. connectTimeoutMS); the
    /// deadline bounds them all, the TLS handshake included.
    pub fn connect(host: &HostPort, deadline: Deadline, cap: Duration) -> Result<Self, Error> {
        Self::connect_with(host, deadline, cap, crate::tls::process_config())
    }

    /// [`Self::connect`] with an explicit TLS config (`None`: plain TCP).
    pub fn connect_with(
        host: &HostPort,
        deadline: Deadline,
        cap: Duration,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Result<Self, Error> {
        let name = host.to_string();
        let io = connect_tcp(host, deadline, cap)?;
        let unproven_tls = tls
            .as_ref()
            .map(|c| c.client_auth_cert_resolver.has_certs());
        let stream = match tls {
            None => Stream::Plain(io),
            Some(config) => Stream::Tls(Box::new(handshake(&name, host, config, io)?)),
        };
        Ok(Connection {
            stream,
            host: name,
            deadline,
            next_id: 1,
            unproven_tls,
        })
    }

    /// Changes the bound of each later read/write (an awaitable hello must be allowed to wait
    /// its maxAwaitTimeMS on top of the usual round trip).
    pub fn set_cap(&mut self, cap: Duration) {
        self.stream.io().cap = cap;
    }

    /// Runs `cmd` against `db` and maps `{ok: 0}` to [`Error::Server`].
    pub fn command(&mut self, db: &str, cmd: Doc) -> Result<Doc, Error> {
        let reply = self.round_trip(cmd.with("$db", db))?;
        check_ok(reply)
    }

    /// Sends one OP_MSG and reads its reply, whatever `ok` says.
    pub fn round_trip(&mut self, cmd: Doc) -> Result<Doc, Error> {
        match self.exchange(cmd) {
            Ok(reply) => {
                self.unproven_tls = None;
                Ok(reply)
            }
            // Final, not retried: mongod refuses the same certificate (or none) every time.
            Err(Error::Io { host, .. }) if self.unproven_tls.is_some() => Err(Error::Tls {
                host,
                detail: if self.unproven_tls == Some(true) {
                    "the server closed the connection right after the TLS handshake: it may not accept our client certificate (tlsCertificateKeyFile: is it issued by the server's net.tls.CAFile, for client authentication, and not expired?)"
                } else {
                    "the server closed the connection right after the TLS handshake: it may require a client certificate (tlsCertificateKeyFile)"
                }
                .into(),
            }),
            Err(e) => Err(e),
        }
    }

    fn exchange(&mut self, cmd: Doc) -> Result<Doc, Error> {
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
            match self.stream.write(buf) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => buf = &buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(stream_error(&self.host, e)),
            }
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes; the timeout is re-derived before every syscall so a
    /// trickling peer is still cut off at the deadline.
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<(), Error> {
        while !buf.is_empty() {
            self.check_deadline()?;
            match self.stream.read(buf) {
                Ok(0) => return Err(self.closed()),
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(stream_error(&self.host, e)),
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

/// One TLS handshake, driven to its end here (not lazily on the first command) so that a
/// certificate problem is reported as such; the URI's host name is the SNI and the name
/// verified.
fn handshake(
    name: &str,
    host: &HostPort,
    config: std::sync::Arc<rustls::ClientConfig>,
    mut io: DeadlineIo,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, DeadlineIo>, Error> {
    let server_name =
        rustls::pki_types::ServerName::try_from(host.host.clone()).map_err(|_| Error::Tls {
            host: name.to_string(),
            detail: format!("{:?} is not a valid TLS server name", host.host),
        })?;
    let mut tls = rustls::ClientConnection::new(config, server_name).map_err(|e| Error::Tls {
        host: name.to_string(),
        detail: crate::tls::describe(&e),
    })?;
    while tls.is_handshaking() {
        tls.complete_io(&mut io).map_err(|e| tls_error(name, e))?;
    }
    Ok(rustls::StreamOwned::new(tls, io))
}

fn connect_tcp(host: &HostPort, deadline: Deadline, cap: Duration) -> Result<DeadlineIo, Error> {
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
            Ok(tcp) => {
                let _ = tcp.set_nodelay(true);
                return Ok(DeadlineIo { tcp, deadline, cap });
            }
            Err(e) => last = io_error(&name, e),
        }
    }
    Err(last)
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

/// A handshake failure: rustls's own error (certificate, alert) is final; a socket problem
/// during the handshake (reset, timeout) stays a socket problem.
fn tls_error(host: &str, e: std::io::Error) -> Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => Error::Tls {
            host: host.to_string(),
            detail: crate::tls::describe(t),
        },
        // A mongod without TLS ends the connection on our ClientHello ("SSL handshake
        // received but server is started without SSL support"): closed or reset, it will not
        // change by retrying.
        None if matches!(
            e.kind(),
            ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ) =>
        {
            Error::Tls {
                host: host.to_string(),
                detail: "the server ended the connection during the TLS handshake: is TLS enabled on this port (net.tls.mode)? (drop tls=true if not)".into(),
            }
        }
        None => io_error(host, e),
    }
}

/// After the handshake: a TLS-level error (bad record, alert) is a protocol error of the
/// session, not a reason to retry forever.
fn stream_error(host: &str, e: std::io::Error) -> Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(t) => Error::Tls {
            host: host.to_string(),
            detail: crate::tls::describe(t),
        },
        None => io_error(host, e),
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
    fn a_silent_tls_handshake_cannot_outlive_the_deadline() {
        // Accepts, reads our ClientHello, never answers: the handshake is under the deadline.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut opts = crate::tls::TlsOptions::default();
        opts.set("tls", "true").unwrap();
        let config = opts.client_config().unwrap();
        let deadline = Deadline::after(Duration::from_millis(200));
        let start = Instant::now();
        let err = Connection::connect_with(&local(port), deadline, Duration::from_secs(10), config)
            .err()
            .unwrap();
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
