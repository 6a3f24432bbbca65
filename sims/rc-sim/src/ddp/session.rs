//! One websocket connection: the RFC 6455 handshake, then DDP messages (tungstenite does the
//! framing) on a single thread that alternates between reading with a short timeout and pushing
//! what is due: stream events for new messages, heartbeat pings, the close of a session whose
//! login token was removed.

use super::methods::Conn;
use crate::{now_ms, Sim};
use base64::Engine;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

/// Largest handshake head and DDP message accepted (Meteor's own limit is far higher; the
/// adapters send a few hundred bytes).
const MAX_HEAD: usize = 16 * 1024;
const MAX_MESSAGE: usize = 1024 * 1024;
/// How often the loop wakes up to push events and check heartbeats and tokens: what is due is
/// pushed within 10 ms (a real server pushes as its change stream delivers).
const TICK: Duration = Duration::from_millis(10);

pub fn serve(mut stream: TcpStream, sim: &Sim) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let key = match read_handshake(&mut stream) {
        Ok(k) => k,
        Err(reason) => {
            let body = format!("{reason}\n");
            let _ = write!(
                stream,
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            return;
        }
    };
    let accept = accept_key(&key);
    if write!(
        stream,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )
    .is_err()
    {
        return;
    }
    eprintln!(
        "{}",
        json!({"msg": "request", "method": "GET", "path": "/websocket", "status": 101, "ts_ms": now_ms()})
    );
    let _ = stream.set_read_timeout(Some(TICK));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, Some(config));
    let n = sim.ddp.open();
    let mut conn = Conn::new(n, sim);
    // No `{"server_id":"0"}` welcome: Meteor dropped it in 2.3 (b5b7306bed, stream_server.js).
    let why = run(&mut ws, &mut conn, sim);
    sim.ddp.close(n, now_ms());
    let _ = ws.close(None);
    let _ = ws.flush();
    eprintln!(
        "{}",
        json!({"msg": "ddp session closed", "session": n, "user": conn.user_id(), "why": why})
    );
}

fn run(ws: &mut WebSocket<TcpStream>, conn: &mut Conn, sim: &Sim) -> &'static str {
    let beat = super::heartbeat(sim);
    let opened = Instant::now();
    // ddp-common heartbeat.js: a `setInterval(interval)` from the session's start; a tick that
    // saw no packet since the previous one sends a ping, and `timeout` later with still no
    // packet the session is closed (15-30 s of silence, then 15 s, with Meteor's 15 s / 15 s).
    let mut next_tick: Option<Instant> = None;
    let mut seen_packet = false;
    let mut ping_sent: Option<Instant> = None;
    loop {
        for out in conn.due(sim) {
            if ws.send(Message::text(out.to_string())).is_err() {
                return "write failed";
            }
        }
        if conn.token_revoked(sim) {
            // accounts_server.js _setLoginToken: the observer on the user's tokens closes the
            // connection when this connection's token is removed.
            return "login token removed";
        }
        match ws.read() {
            Ok(Message::Text(t)) => {
                seen_packet = true;
                ping_sent = None;
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    // ddp-server: messages that are not JSON are discarded.
                    continue;
                };
                for out in conn.handle(sim, &v) {
                    if ws.send(Message::text(out.to_string())).is_err() {
                        return "write failed";
                    }
                }
                if conn.closing {
                    return "refused";
                }
            }
            Ok(Message::Close(_)) => return "closed by the client",
            Ok(_) => {
                seen_packet = true;
                ping_sent = None;
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return "connection lost",
        }
        // livedata_server.js: the heartbeat starts with the session (on `connect`); any
        // message counts as a pong.
        let now = Instant::now();
        if !conn.connected() {
            if now.duration_since(opened) >= beat * 2 {
                // A socket that never sends `connect` must not hold a thread forever.
                return "no connect message";
            }
            continue;
        }
        let tick = *next_tick.get_or_insert(now + beat);
        if let Some(t) = ping_sent {
            if now.duration_since(t) >= beat {
                return "missed heartbeats";
            }
        }
        if now >= tick {
            next_tick = Some(tick + beat);
            if !seen_packet && ping_sent.is_none() {
                if ws
                    .send(Message::text(json!({"msg": "ping"}).to_string()))
                    .is_err()
                {
                    return "write failed";
                }
                ping_sent = Some(now);
            }
            seen_packet = false;
        }
    }
}

/// Reads the HTTP head byte by byte (so no websocket byte is consumed) and returns the
/// `Sec-WebSocket-Key`.
fn read_handshake(stream: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err("request head too large".into());
        }
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return Err("incomplete request head".into()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut key = None;
    let mut upgrade = false;
    for line in text.split("\r\n").skip(1) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim().to_ascii_lowercase().as_str() {
            "sec-websocket-key" => key = Some(v.trim().to_string()),
            "upgrade" => upgrade = v.trim().eq_ignore_ascii_case("websocket"),
            _ => {}
        }
    }
    match (upgrade, key) {
        (true, Some(k)) if !k.is_empty() => Ok(k),
        _ => Err("this endpoint speaks DDP over a websocket: send Upgrade: websocket with a Sec-WebSocket-Key".into()),
    }
}

/// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}
