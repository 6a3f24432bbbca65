//! The public port. Rocket.Chat serves REST and DDP on one port; tiny_http's `upgrade()` hands
//! back a stream that cannot be read and written from two threads, and a DDP server must push
//! (messages, pings) while it waits for the client. So rc-sim owns the listening socket: each
//! connection's request line is peeked (nothing consumed); `GET /websocket` (or Meteor's
//! `/sockjs/<n>/<id>/websocket`) goes to [`super::session`] on the raw TCP stream, anything else
//! is relayed byte for byte to the tiny_http server on a private loopback port.
//!
//! What the relay changes: tiny_http sees the relay's loopback address as the client address
//! (rate-limit keys by IP fall back to 127.0.0.1; `X-Real-IP` still wins as in Rocket.Chat).

use crate::Sim;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes peeked to find the request line; a longer line is not a websocket upgrade we serve.
const PEEK_MAX: usize = 4096;
/// A client that sends no request line within this is relayed as is (tiny_http times it out).
const PEEK_DEADLINE: Duration = Duration::from_secs(10);

pub struct FrontDoor {
    listener: TcpListener,
    backend: SocketAddr,
}

/// Binds the public port and the private tiny_http server behind it.
pub fn listen(bind: &str, port: u16) -> io::Result<(Arc<tiny_http::Server>, u16, FrontDoor)> {
    let listener = TcpListener::bind((bind, port))?;
    let public = listener.local_addr()?.port();
    let server = tiny_http::Server::http(("127.0.0.1", 0)).map_err(io::Error::other)?;
    let backend = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| io::Error::other("tiny_http has no IP address"))?;
    Ok((Arc::new(server), public, FrontDoor { listener, backend }))
}

impl FrontDoor {
    /// Accepts connections forever on a thread of its own.
    pub fn start(self, sim: Arc<Sim>) {
        std::thread::spawn(move || {
            for conn in self.listener.incoming() {
                let Ok(stream) = conn else { continue };
                let sim = sim.clone();
                let backend = self.backend;
                std::thread::spawn(move || route(stream, backend, &sim));
            }
        });
    }
}

fn route(stream: TcpStream, backend: SocketAddr, sim: &Sim) {
    let _ = stream.set_nodelay(true);
    if is_websocket(&stream) {
        super::session::serve(stream, sim);
    } else {
        relay(stream, backend);
    }
}

/// Peeks until the request line is complete; true for `GET <websocket path>`.
fn is_websocket(stream: &TcpStream) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; PEEK_MAX];
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let verdict = loop {
        match stream.peek(&mut buf) {
            Ok(0) => break false,
            Ok(n) => {
                if let Some(end) = buf[..n].iter().position(|b| *b == b'\n') {
                    break is_websocket_line(&String::from_utf8_lossy(&buf[..end]));
                }
                if n == PEEK_MAX {
                    break false;
                }
                // Partial line: wait for more bytes without spinning.
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break false,
        }
        if start.elapsed() > PEEK_DEADLINE {
            break false;
        }
    };
    let _ = stream.set_read_timeout(None);
    verdict
}

/// `GET /websocket HTTP/1.1` or `GET /sockjs/123/abcdefgh/websocket HTTP/1.1` (query ignored).
pub fn is_websocket_line(line: &str) -> bool {
    let mut parts = line.split_whitespace();
    let (Some("GET"), Some(target)) = (parts.next(), parts.next()) else {
        return false;
    };
    let path = target.split('?').next().unwrap_or("");
    let path = path.trim_end_matches('/');
    if path == "/websocket" {
        return true;
    }
    let segs: Vec<&str> = path.split('/').collect();
    matches!(segs.as_slice(), ["", "sockjs", _, _, "websocket"])
}

/// Copies both directions between the client and tiny_http until either side closes.
fn relay(client: TcpStream, backend: SocketAddr) {
    let Ok(server) = TcpStream::connect(backend) else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    let _ = copy(&mut s_read, &mut c_write);
    let _ = c_write.shutdown(Shutdown::Both);
    let _ = s_read.shutdown(Shutdown::Both);
    let _ = up.join();
}

/// io::copy with a flush per chunk (responses must not wait in a buffer).
fn copy(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
        to.flush()?;
    }
}
