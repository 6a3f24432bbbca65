//! Hostile counterparts for tests/e2e/tests/hostile.rs: a mongod that answers every command with
//! a chosen document (control characters in setName / errmsg), an HTTP server that reflects the
//! request path and body (as some 404 pages and error bodies do), a TLS server whose certificate
//! no public CA signed, and hostile files (a FIFO with a writer that never writes).
//! Everything listens on 127.0.0.1 and lives until the test process ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A BSON value, enough for a hello or error reply.
pub enum B {
    Str(String),
    F64(f64),
    I32(i32),
    Bool(bool),
}

/// Encodes a flat BSON document (bsonspec.org: int32 length, elements, 0x00).
pub fn bson(fields: &[(&str, B)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in fields {
        let (tag, bytes) = match value {
            B::Str(s) => {
                let mut b = ((s.len() + 1) as i32).to_le_bytes().to_vec();
                b.extend_from_slice(s.as_bytes());
                b.push(0);
                (0x02, b)
            }
            B::F64(f) => (0x01, f.to_le_bytes().to_vec()),
            B::I32(i) => (0x10, i.to_le_bytes().to_vec()),
            B::Bool(v) => (0x08, vec![*v as u8]),
        };
        body.push(tag);
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(&bytes);
    }
    let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    doc.extend_from_slice(&body);
    doc.push(0);
    doc
}

/// A "mongod" answering every OP_MSG with `reply` (one section of kind 0). Returns its port.
pub fn fake_mongod(reply: Vec<u8>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            let reply = reply.clone();
            std::thread::spawn(move || serve_mongo(conn, &reply));
        }
    });
    port
}

fn serve_mongo(mut conn: TcpStream, reply: &[u8]) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    loop {
        let mut header = [0u8; 16];
        if conn.read_exact(&mut header).is_err() {
            return;
        }
        let len = i32::from_le_bytes(header[0..4].try_into().unwrap()) as usize;
        let request_id = i32::from_le_bytes(header[4..8].try_into().unwrap());
        let mut body = vec![0u8; len.saturating_sub(16).min(1 << 20)];
        if conn.read_exact(&mut body).is_err() {
            return;
        }
        let total = 16 + 4 + 1 + reply.len();
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as i32).to_le_bytes());
        out.extend_from_slice(&1i32.to_le_bytes());
        out.extend_from_slice(&request_id.to_le_bytes());
        out.extend_from_slice(&2013i32.to_le_bytes()); // OP_MSG
        out.extend_from_slice(&0u32.to_le_bytes());
        out.push(0);
        out.extend_from_slice(reply);
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

/// An HTTP server that reflects requests: `GET /api/info` answers like Rocket.Chat; a login
/// answers 401 with the request body in its JSON `message`; anything else 404 with
/// `Cannot GET <path>` (Express's page) and the body. Returns its base URL.
pub fn reflecting_http() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || serve_reflect(conn));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn serve_reflect(conn: TcpStream) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            headers.push_str(&line);
        }
        let mut body = vec![0u8; length.min(1 << 20)];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body);
        let mut parts = request_line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (status, ctype, text) = if path == "/api/info" {
            (
                200,
                "application/json",
                r#"{"version":"7.0.0","success":true}"#.to_string(),
            )
        } else if path.ends_with("/login") {
            let echo = format!("cannot parse {body} sent with {headers}");
            (
                401,
                "application/json",
                serde_json::json!({"status": "error", "success": false, "error": 403, "message": echo})
                    .to_string(),
            )
        } else {
            (404, "text/html", format!("Cannot {method} {path} {body}"))
        };
        let reply = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// `openssl s_server` with a fresh self-signed certificate (no public CA signed it).
/// Returns the server process (killed on drop by the caller) and its port; None without openssl.
pub struct TlsServer {
    pub child: Child,
    pub port: u16,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tls_server(dir: &Path) -> TlsServer {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (the TLS test needs the openssl command)");
    assert!(made.success(), "openssl req failed");
    let port = crate::free_port();
    let child = Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl s_server");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "s_server not listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsServer { child, port }
}

/// Makes a FIFO at `path` and holds it open for reading and writing (Linux allows O_RDWR on a
/// FIFO without blocking): a reader then blocks forever, as on a stuck mount. Keep the returned
/// file alive for as long as the FIFO must stay stuck.
pub fn stuck_fifo(path: &Path) -> std::fs::File {
    let made = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(made.success());
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .expect("open the FIFO read-write")
}

/// Forwards every connection to `url` (http://127.0.0.1:PORT) after holding it for `delay`: runs
/// started together stay in flight together, so their races really happen. Returns its URL.
pub fn slow_forwarder(url: &str, delay: Duration) -> String {
    let target: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    return;
                };
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 8192];
                        while let Ok(n) = from.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            });
        }
    });
    format!("http://127.0.0.1:{port}")
}
