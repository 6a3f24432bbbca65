//! Rocket.Chat's realtime API, just enough to be TOLD of a change instead of polling for it:
//! an anonymous DDP session over the raw websocket at `<root>/websocket`, one subscription to
//! `stream-notify-all` / `public-settings-changed`, and a wait for one setting to change.
//!
//! Why this exists: on Rocket.Chat 6.x (Meteor 2) the server answers before its initialData
//! startup hook has created the ADMIN_* admin, and a login is the only other way to find out —
//! each refused one counting toward the brute-force block. initialData moves the public setting
//! `Show_Setup_Wizard` from `pending` to `in_progress` right after the admin, its password and
//! its role exist; the settings watcher pushes that change to every session subscribed to
//! `public-settings-changed`, which `stream-notify-all` lets anyone read (allowRead('all')).
//! Sources and their second reading: the rc-sim ledger (docs/emulators) and
//! docs/reviews/second-reading-ddp-settings.md.
//!
//! Bounded everywhere: the handshake head (16 KiB) and each message (1 MiB) are capped, every
//! read has a timeout taken from the caller's deadline, and nothing here retries.

use base64::Engine;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

const MAX_HEAD: usize = 16 * 1024;
const MAX_MESSAGE: usize = 1024 * 1024;
/// RFC 6455 §1.3.
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// Meteor ddp-common `SUPPORTED_DDP_VERSIONS`.
const DDP_CONNECT: &str = r#"{"msg":"connect","version":"1","support":["1","pre2","pre1"]}"#;
const NOTIFY_ALL: &str = "stream-notify-all";
const PUBLIC_SETTINGS: &str = "public-settings-changed";

/// Plain TCP or rustls over TCP; the read timeout is set on the socket under either.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One anonymous DDP session subscribed to the public settings' changes.
pub struct SettingsWatch {
    ws: WebSocket<Stream>,
}

/// Scheme, `host[:port]` as written, host alone, port, and path prefix of a base URL that
/// [`crate::normalize_base_url`] accepted.
struct Target<'a> {
    tls: bool,
    authority: &'a str,
    host: &'a str,
    port: u16,
    prefix: &'a str,
}

fn target(base: &str) -> Result<Target<'_>, String> {
    let (tls, rest) = match base.split_once("://") {
        Some(("https", r)) => (true, r),
        Some(("http", r)) => (false, r),
        _ => return Err("the URL is neither http:// nor https://".into()),
    };
    let (authority, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // `[::1]:3000`, `[::1]`, `host:3000`, `host`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (h, Some(p)),
        _ => (authority, None),
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
        None if tls => 443,
        None => 80,
    };
    Ok(Target {
        tls,
        authority,
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
        prefix: prefix.trim_end_matches('/'),
    })
}

fn remaining(until: Instant) -> Result<Duration, String> {
    let left = until.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err("no time left".into());
    }
    Ok(left)
}

impl SettingsWatch {
    /// Connects to `<base>/websocket`, speaks DDP and subscribes to `public-settings-changed`;
    /// everything must be done by `until`. The error says why there is no push (a proxy that
    /// does not pass websockets, a refused subscription, …) in a few words.
    pub fn open(base: &str, until: Instant) -> Result<SettingsWatch, String> {
        let t = target(base)?;
        let mut stream = connect(&t, until)?;
        let leftover = upgrade(&mut stream, &t, until)?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_MESSAGE))
            .max_frame_size(Some(MAX_MESSAGE));
        let ws = WebSocket::from_partially_read(stream, leftover, Role::Client, Some(config));
        let mut w = SettingsWatch { ws };
        w.send(DDP_CONNECT)?;
        loop {
            let m = w.recv(until)?.ok_or("no DDP `connected` in time")?;
            match m["msg"].as_str() {
                Some("connected") => break,
                Some("failed") => return Err(format!("DDP connect refused: {m}")),
                _ => {}
            }
        }
        let sub = json!({"msg": "sub", "id": "settings", "name": NOTIFY_ALL,
            "params": [PUBLIC_SETTINGS, false]});
        w.send(&sub.to_string())?;
        loop {
            let m = w.recv(until)?.ok_or("no subscription `ready` in time")?;
            match m["msg"].as_str() {
                Some("ready") => return Ok(w),
                Some("nosub") => {
                    // Streamer refusals carry `error` ("not-allowed") and no `reason`.
                    let e = &m["error"];
                    let why = e["reason"]
                        .as_str()
                        .or(e["error"].as_str())
                        .unwrap_or("no reason given");
                    return Err(format!("subscription to {PUBLIC_SETTINGS} refused: {why}"));
                }
                _ => {}
            }
        }
    }

    /// Blocks until the public setting `id` is reported changed to something else than
    /// `pending` (its new value), or `until`
    /// passes (None). Err: the session is gone (closed, garbage, over-long message).
    pub fn wait_for_change(&mut self, id: &str, until: Instant) -> Result<Option<Value>, String> {
        while Instant::now() < until {
            let Some(m) = self.recv(until)? else {
                return Ok(None);
            };
            if m["msg"] == "changed"
                && m["collection"] == NOTIFY_ALL
                && m["fields"]["eventName"] == PUBLIC_SETTINGS
            {
                // args: [clientAction, {_id, value, …}] (listeners.module.ts watch.settings).
                let setting = &m["fields"]["args"][1];
                if setting["_id"] == id && setting["value"] != "pending" {
                    return Ok(Some(setting["value"].clone()));
                }
            }
        }
        Ok(None)
    }

    fn send(&mut self, text: &str) -> Result<(), String> {
        self.ws
            .send(Message::text(text))
            .map_err(|e| format!("websocket write: {e}"))
    }

    /// The next DDP message, answering heartbeats on the way; None when `until` passes first.
    fn recv(&mut self, until: Instant) -> Result<Option<Value>, String> {
        loop {
            let Ok(left) = remaining(until) else {
                return Ok(None);
            };
            let _ = self.ws.get_ref().tcp().set_read_timeout(Some(left));
            match self.ws.read() {
                Ok(Message::Text(t)) => {
                    // ddp-server ignores messages that are not JSON; so does this client.
                    let Ok(m) = serde_json::from_str::<Value>(t.as_str()) else {
                        continue;
                    };
                    if m["msg"] == "ping" {
                        // ddp-common heartbeat: a ping unanswered for 15 s closes the session.
                        let mut pong = json!({"msg": "pong"});
                        if let Some(id) = m.get("id") {
                            pong["id"] = id.clone();
                        }
                        self.send(&pong.to_string())?;
                        continue;
                    }
                    return Ok(Some(m));
                }
                Ok(Message::Close(_)) => return Err("the server closed the session".into()),
                // Websocket pings are answered by tungstenite itself; binary frames are no DDP.
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(format!("websocket: {e}")),
            }
        }
    }
}

impl Drop for SettingsWatch {
    /// A polite close: the server ends the DDP session at once instead of at its heartbeat.
    fn drop(&mut self) {
        let _ = self
            .ws
            .get_ref()
            .tcp()
            .set_write_timeout(Some(Duration::from_millis(100)));
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

fn connect(t: &Target, until: Instant) -> Result<Stream, String> {
    let addrs = (t.host, t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?;
    let mut last = format!("{} has no address", t.host);
    let mut tcp = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, remaining(until)?) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_write_timeout(Some(remaining(until)?));
    if !t.tls {
        return Ok(Stream::Plain(tcp));
    }
    let config = crate::tls::client_config()?;
    let name = rustls::pki_types::ServerName::try_from(t.host.to_string())
        .map_err(|e| format!("TLS server name {:?}: {e}", t.host))?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
    Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))))
}

/// RFC 6455 client handshake; returns the bytes read past the response head.
fn upgrade(stream: &mut Stream, t: &Target, until: Instant) -> Result<Vec<u8>, String> {
    let mut nonce = [0u8; 16];
    getrandom::getrandom(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
    let key = base64::engine::general_purpose::STANDARD.encode(nonce);
    let request = format!(
        "GET {}/websocket HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: coquelicot-rc-client/{}\r\n\r\n",
        t.prefix,
        t.authority,
        env!("CARGO_PKG_VERSION")
    );
    stream
        .write_all(request.as_bytes())
        .and_then(|_| stream.flush())
        .map_err(|e| format!("websocket handshake: {e}"))?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err("websocket handshake: response head over 16 KiB".into());
        }
        let _ = stream.tcp().set_read_timeout(Some(remaining(until)?));
        let mut chunk = [0u8; 2048];
        match stream.read(&mut chunk) {
            Ok(0) => return Err("websocket handshake: connection closed".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("websocket handshake: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("101") {
        // A proxy that does not pass the upgrade, or a server without the realtime API.
        return Err(format!(
            "no websocket at {}/websocket (answer: {})",
            t.prefix,
            status.chars().take(80).collect::<String>()
        ));
    }
    let expected = base64::engine::general_purpose::STANDARD
        .encode(Sha1::digest(format!("{key}{WS_GUID}").as_bytes()));
    let accept = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim().to_string())
    });
    if accept.as_deref() != Some(expected.as_str()) {
        return Err("websocket handshake: wrong Sec-WebSocket-Accept".into());
    }
    Ok(buf[head_end..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_of_base_urls() {
        let t = target("http://rocketchat:3000").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.prefix),
            (false, "rocketchat", 3000, "")
        );
        let t = target("https://chat.example/rc").unwrap();
        assert_eq!(
            (t.tls, t.host, t.port, t.prefix),
            (true, "chat.example", 443, "/rc")
        );
        assert_eq!(t.authority, "chat.example");
        let t = target("http://[::1]:3000/x/").unwrap();
        assert_eq!((t.host, t.port, t.prefix), ("::1", 3000, "/x"));
        assert_eq!(t.authority, "[::1]:3000");
        assert_eq!(target("http://[::1]").unwrap().port, 80);
        assert!(target("ftp://x").is_err());
        assert!(target("http://x:notaport").is_err());
    }

    #[test]
    fn a_server_without_websocket_is_named() {
        // A plain HTTP server answering 404 to the upgrade: the error says so, fast.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 1024];
            let _ = s.read(&mut b);
            let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        });
        let until = Instant::now() + Duration::from_secs(5);
        let e = SettingsWatch::open(&format!("http://127.0.0.1:{port}"), until)
            .err()
            .expect("no websocket");
        assert!(
            e.contains("no websocket at /websocket") && e.contains("404"),
            "{e}"
        );
    }

    #[test]
    fn a_silent_server_is_given_up_at_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || l.accept().map(|(s, _)| s));
        let started = Instant::now();
        let e = SettingsWatch::open(
            &format!("http://127.0.0.1:{port}"),
            started + Duration::from_millis(300),
        )
        .err()
        .expect("silent server");
        assert!(e.contains("websocket handshake"), "{e}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        drop(hold);
    }
}
