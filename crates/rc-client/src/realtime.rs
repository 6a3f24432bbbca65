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

/// Plain TCP or rustls over TCP, every read and write bounded by `until`: before each call the
/// socket's timeouts are set to what is left, and once it has passed the call fails with
/// `TimedOut`. So a silent TLS handshake (rustls reads inside `write`) or a server trickling
/// bytes cannot outlast the caller's deadline.
struct Stream {
    io: Io,
    until: Instant,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn arm(&self) -> io::Result<()> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "out of time"));
        }
        let tcp = match &self.io {
            Io::Plain(s) => s,
            Io::Tls(s) => s.get_ref(),
        };
        tcp.set_read_timeout(Some(left))?;
        tcp.set_write_timeout(Some(left))
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.arm()?;
        match &mut self.io {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.arm()?;
        match &mut self.io {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        self.arm()?;
        match &mut self.io {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Server text in a message of ours: one line, at most 80 characters.
fn clip(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(80)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(80).is_some() {
        out.push('…');
    }
    out
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
        Some(p) => p.parse().map_err(|_| format!("bad port {:?}", clip(p)))?,
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

/// Why no watch could be opened: a few words, and whether it was only a lack of time (worth
/// another try with a longer budget) or an answer (no websocket, a refused subscription: final).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenError {
    pub timed_out: bool,
    pub message: String,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl SettingsWatch {
    /// Connects to `<base>/websocket`, speaks DDP and subscribes to `public-settings-changed`;
    /// everything must be done by `until`. The error says why there is no push (a proxy that
    /// does not pass websockets, a refused subscription, …) in a few words.
    pub fn open(base: &str, until: Instant) -> Result<SettingsWatch, OpenError> {
        Self::open_by(base, until).map_err(|message| OpenError {
            // Every step's own timeout message ends its reason with "in time".
            timed_out: message.contains("in time") || Instant::now() >= until,
            message,
        })
    }

    fn open_by(base: &str, until: Instant) -> Result<SettingsWatch, String> {
        let t = target(base)?;
        let mut stream = connect(&t, until)?;
        let leftover = upgrade(&mut stream, &t)?;
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
                Some("failed") => {
                    return Err(format!(
                        "DDP connect refused (the server speaks version {})",
                        clip(&m["version"].to_string())
                    ))
                }
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
                    return Err(format!(
                        "subscription to {PUBLIC_SETTINGS} refused: {}",
                        clip(why)
                    ));
                }
                _ => {}
            }
        }
    }

    /// Blocks until the public setting `id` is reported updated to a string value other than
    /// `from`, and returns that value (clipped for display); None once `until` passes.
    /// Err: the session is gone (closed by the server, broken, over-long message).
    pub fn wait_for_change(
        &mut self,
        id: &str,
        from: &str,
        until: Instant,
    ) -> Result<Option<String>, String> {
        while let Some(m) = self.recv(until)? {
            if m["msg"] != "changed"
                || m["collection"] != NOTIFY_ALL
                || m["fields"]["eventName"] != PUBLIC_SETTINGS
            {
                continue;
            }
            // args: [clientAction, {_id, value, …}] (listeners.module.ts watch.settings).
            let args = &m["fields"]["args"];
            let value = args[1]["value"].as_str();
            if args[0] == "updated" && args[1]["_id"] == id {
                if let Some(v) = value.filter(|v| *v != from) {
                    return Ok(Some(clip(v)));
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
        self.ws.get_mut().until = until;
        loop {
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
                // A timeout that came a little early (the socket's rounding) is read again.
                Err(tungstenite::Error::Io(e)) if timed_out(&e) => {
                    if Instant::now() >= until {
                        return Ok(None);
                    }
                }
                Err(e) => return Err(format!("websocket: {}", clip(&e.to_string()))),
            }
        }
    }
}

impl Drop for SettingsWatch {
    /// A polite close: the server ends the DDP session at once instead of at its heartbeat.
    fn drop(&mut self) {
        self.ws.get_mut().until = Instant::now() + Duration::from_millis(100);
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

fn connect(t: &Target, until: Instant) -> Result<Stream, String> {
    let out_of_time = || format!("no connection to {}:{} in time", t.host, t.port);
    // Name resolution is the one step no timeout reaches (std's resolver); the process
    // watchdog still bounds the run.
    let addrs = (t.host, t.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {}: {e}", t.host))?;
    let mut last = format!("{} has no address", t.host);
    let mut tcp = None;
    for a in addrs {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(out_of_time());
        }
        match TcpStream::connect_timeout(&a, left) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = format!("cannot connect to {a}: {e}"),
        }
    }
    let tcp = tcp.ok_or(last)?;
    let _ = tcp.set_nodelay(true);
    let io = if t.tls {
        let config = crate::tls::client_config()?;
        let name = rustls::pki_types::ServerName::try_from(t.host.to_string())
            .map_err(|e| format!("TLS server name {:?}: {e}", t.host))?;
        let conn = rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        Io::Tls(Box::new(rustls::StreamOwned::new(conn, tcp)))
    } else {
        Io::Plain(tcp)
    };
    Ok(Stream { io, until })
}

/// RFC 6455 client handshake (§4.1: status 101, `Upgrade: websocket`, `Connection: upgrade`,
/// the accept key); returns the bytes read past the response head.
fn upgrade(stream: &mut Stream, t: &Target) -> Result<Vec<u8>, String> {
    let failed = |e: io::Error| {
        if timed_out(&e) {
            "no answer to the websocket upgrade or TLS handshake in time".to_string()
        } else {
            format!("websocket upgrade: {e}")
        }
    };
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
        .map_err(failed)?;
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err("websocket upgrade: response head over 16 KiB".into());
        }
        let mut chunk = [0u8; 2048];
        match stream.read(&mut chunk) {
            Ok(0) => return Err("websocket upgrade: connection closed".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(failed(e)),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let status = head.lines().next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("101") {
        // A proxy that does not pass the upgrade, or a server without the realtime API.
        return Err(format!(
            "no websocket at {}/websocket (answer: {})",
            t.prefix,
            clip(status)
        ));
    }
    let header = |wanted: &str| {
        head.lines().skip(1).find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case(wanted)
                .then(|| value.trim().to_string())
        })
    };
    let has_token = |name: &str, token: &str| {
        header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") || !has_token("connection", "upgrade") {
        return Err(
            "websocket upgrade: 101 without `Upgrade: websocket, Connection: upgrade`".into(),
        );
    }
    let expected = base64::engine::general_purpose::STANDARD
        .encode(Sha1::digest(format!("{key}{WS_GUID}").as_bytes()));
    if header("sec-websocket-accept").as_deref() != Some(expected.as_str()) {
        return Err("websocket upgrade: wrong Sec-WebSocket-Accept".into());
    }
    Ok(buf[head_end..].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

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
    fn server_text_is_clipped_to_one_short_line() {
        assert_eq!(clip("a\nb\tc"), "a b c");
        let long = "x".repeat(500);
        assert_eq!(clip(&long).chars().count(), 81);
    }

    /// A one-connection server: reads the upgrade request, answers `head` (with the right accept
    /// key unless `bad_accept`) followed by the `frames` in the same write, then hands the socket,
    /// as a server-side websocket, to `then`.
    fn server(
        head: &'static str,
        bad_accept: bool,
        frames: Vec<&'static str>,
        then: impl FnOnce(WebSocket<TcpStream>) + Send + 'static,
    ) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 1];
            while !req.ends_with(b"\r\n\r\n") && s.read(&mut b).unwrap() == 1 {
                req.push(b[0]);
            }
            let req = String::from_utf8(req).unwrap();
            let key = req
                .lines()
                .find_map(|l| l.strip_prefix("Sec-WebSocket-Key: "))
                .unwrap();
            let accept = if bad_accept {
                "bm9wZQ==".to_string()
            } else {
                base64::engine::general_purpose::STANDARD
                    .encode(Sha1::digest(format!("{key}{WS_GUID}").as_bytes()))
            };
            let mut out = format!("{head}Sec-WebSocket-Accept: {accept}\r\n\r\n").into_bytes();
            for f in frames {
                // An unmasked server text frame (payloads here are < 126 bytes).
                out.extend_from_slice(&[0x81, f.len() as u8]);
                out.extend_from_slice(f.as_bytes());
            }
            s.write_all(&out).unwrap();
            then(WebSocket::from_raw_socket(s, Role::Server, None));
        });
        format!("http://127.0.0.1:{port}")
    }

    /// A server whose `connected` arrives in the same TCP write as the 101 head.
    fn ddp_server(then: impl FnOnce(WebSocket<TcpStream>) + Send + 'static) -> String {
        server(
            UPGRADED,
            false,
            vec![r#"{"msg":"connected","session":"s"}"#],
            then,
        )
    }

    const UPGRADED: &str =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n";

    fn text(ws: &mut WebSocket<TcpStream>) -> Value {
        loop {
            if let Message::Text(t) = ws.read().unwrap() {
                return serde_json::from_str(t.as_str()).unwrap();
            }
        }
    }

    #[test]
    fn frames_sent_with_the_101_are_read_pings_answered_and_the_change_found() {
        // `connected` arrives in the same TCP write as the 101 head (the leftover bytes).
        let url = ddp_server(|mut ws| {
            assert_eq!(text(&mut ws)["msg"], "connect");
            let sub = text(&mut ws);
            assert_eq!(sub["name"], "stream-notify-all");
            assert_eq!(sub["params"], json!(["public-settings-changed", false]));
            ws.send(Message::text(r#"{"msg":"ready","subs":["settings"]}"#))
                .unwrap();
            ws.send(Message::text(r#"{"msg":"ping","id":"p1"}"#))
                .unwrap();
            assert_eq!(text(&mut ws), json!({"msg": "pong", "id": "p1"}));
            let event = |args: Value| {
                Message::text(
                    json!({"msg": "changed", "collection": "stream-notify-all", "id": "id",
                        "fields": {"eventName": "public-settings-changed", "args": args}})
                    .to_string(),
                )
            };
            // Not ours, a removal, no value, still pending: all skipped.
            ws.send(event(
                json!(["updated", {"_id": "Site_Name", "value": "x"}]),
            ))
            .unwrap();
            ws.send(event(json!(["removed", {"_id": "Show_Setup_Wizard"}])))
                .unwrap();
            ws.send(event(json!(["updated", {"_id": "Show_Setup_Wizard"}])))
                .unwrap();
            ws.send(event(
                json!(["updated", {"_id": "Show_Setup_Wizard", "value": "pending"}]),
            ))
            .unwrap();
            ws.send(event(
                json!(["updated", {"_id": "Show_Setup_Wizard", "value": "in_progress"}]),
            ))
            .unwrap();
            // Keep the socket open until the client is done.
            let _ = ws.read();
        });
        let until = Instant::now() + Duration::from_secs(10);
        let mut w = SettingsWatch::open(&url, until).expect("open");
        let v = w
            .wait_for_change("Show_Setup_Wizard", "pending", until)
            .unwrap();
        assert_eq!(v.as_deref(), Some("in_progress"));
        // Nothing more comes: the wait ends at its deadline with None.
        let short = Instant::now() + Duration::from_millis(200);
        assert_eq!(
            w.wait_for_change("Show_Setup_Wizard", "pending", short)
                .unwrap(),
            None
        );
        assert!(Instant::now() >= short);
    }

    #[test]
    fn a_wrong_accept_key_or_a_missing_upgrade_header_is_refused() {
        let url = server(UPGRADED, true, vec![], |_| {});
        let e = SettingsWatch::open(&url, Instant::now() + Duration::from_secs(5))
            .err()
            .expect("bad accept");
        assert!(
            e.message.contains("wrong Sec-WebSocket-Accept") && !e.timed_out,
            "{e}"
        );
        let url = server(
            "HTTP/1.1 101 Switching Protocols\r\n",
            false,
            vec![],
            |_| {},
        );
        let e = SettingsWatch::open(&url, Instant::now() + Duration::from_secs(5))
            .err()
            .expect("no upgrade headers");
        assert!(e.message.contains("without `Upgrade: websocket"), "{e}");
    }

    #[test]
    fn a_refused_subscription_is_named() {
        let url = ddp_server(|mut ws| {
            let _ = text(&mut ws);
            let _ = text(&mut ws);
            ws.send(Message::text(
                r#"{"msg":"nosub","id":"settings","error":{"error":"not-allowed","message":"not-allowed"}}"#,
            ))
            .unwrap();
            let _ = ws.read();
        });
        let e = SettingsWatch::open(&url, Instant::now() + Duration::from_secs(5))
            .err()
            .expect("nosub");
        assert_eq!(
            e.message,
            "subscription to public-settings-changed refused: not-allowed"
        );
        assert!(!e.timed_out);
    }

    #[test]
    fn a_server_without_websocket_is_named() {
        // A plain HTTP server answering 404 to the upgrade: the error says so, fast.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
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
            e.message.contains("no websocket at /websocket") && e.message.contains("404"),
            "{e}"
        );
        assert!(!e.timed_out, "an answer, not a lack of time");
    }

    /// A server that accepts and never says a word, over http and over https (rustls reads
    /// the handshake inside its first write): both are given up at the deadline.
    #[test]
    fn a_silent_server_is_given_up_at_the_deadline() {
        for scheme in ["http", "https"] {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = l.local_addr().unwrap().port();
            let hold = std::thread::spawn(move || l.accept().map(|(s, _)| s));
            let started = Instant::now();
            let e = SettingsWatch::open(
                &format!("{scheme}://127.0.0.1:{port}"),
                started + Duration::from_millis(300),
            )
            .err()
            .expect("silent server");
            assert!(
                e.message
                    .contains("no answer to the websocket upgrade or TLS handshake in time"),
                "{scheme}: {e}"
            );
            assert!(e.timed_out, "{scheme}: {e}");
            // Bounded by the deadline (generous margin for a loaded machine), not hanging.
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
            drop(hold);
        }
    }
}
