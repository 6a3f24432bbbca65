//! The fuzz targets: each takes bytes, must never panic, checks its properties with asserts,
//! and returns a signature of the outcome (which error, roughly) for the engine's pool.

use mongo_wire::bson::Doc;
use mongo_wire::{msg, scram, uri};
use sidecar::report::{Report, Reporter};
use sidecar::{Failure, Secret};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]) -> u64,
    pub seeds: fn() -> Vec<Vec<u8>>,
    pub dict: &'static [&'static [u8]],
}

pub fn all() -> Vec<Target> {
    vec![
        Target {
            name: "bson",
            run: bson,
            seeds: bson_seeds,
            dict: &[
                b"\x00",
                b"\x02",
                b"\x03",
                b"\x04",
                b"\x05",
                b"\x10",
                b"\x12",
                b"\xff\xff\xff\x7f",
            ],
        },
        Target {
            name: "opmsg",
            run: opmsg,
            seeds: opmsg_seeds,
            dict: &[
                b"\xdd\x07\x00\x00",
                b"\x01\x00\x00\x00",
                b"\x02\x00\x00\x00",
                b"\x01",
                b"\x00",
            ],
        },
        Target {
            name: "uri",
            run: uri_parse,
            seeds: uri_seeds,
            dict: &[
                b"mongodb://",
                b"@",
                b":",
                b"/",
                b"?",
                b"#",
                b"%",
                b"%3A",
                b"%40",
                b",",
                b"[",
                b"]",
                b"replicaSet=",
                b"&",
                b"=",
            ],
        },
        Target {
            name: "uri_secrets",
            run: uri_secrets,
            seeds: secret_seeds,
            dict: &[],
        },
        Target {
            name: "scram",
            run: scram_msgs,
            seeds: scram_seeds,
            dict: &[
                b"r=",
                b"s=",
                b"i=",
                b"v=",
                b"e=",
                b",",
                b"=",
                b"4096",
                b"fyko+d2lbbFgONRv9qkxdawL",
            ],
        },
        Target {
            name: "duration",
            run: duration,
            seeds: duration_seeds,
            dict: &[
                b"ms",
                b"s",
                b"m",
                b"h",
                b".",
                b"9999999999",
                b"87600h",
                b"e300",
                b"-",
            ],
        },
        Target {
            name: "rc_error",
            run: rc_error,
            seeds: rc_error_seeds,
            dict: &[
                b"\"error\"",
                b"\"errorType\"",
                b"\"message\"",
                b"\"details\"",
                b"[",
                b"]",
                b"{",
                b"}",
                b"\\u001b",
                b"\\n",
                b" [",
                b"error-",
            ],
        },
    ]
}

fn sig(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// The kind of an error message: its first words, digits dropped (positions, lengths).
fn kind(message: &str) -> String {
    message
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(32)
        .collect()
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// What the operator would see: the text line and the JSON object.
fn rendered(report: &Report) -> [String; 2] {
    [false, true].map(|json| {
        Reporter {
            prog: "fuzz",
            json,
            quiet: true,
        }
        .render(report, Duration::ZERO)
    })
}

// --- BSON: decode never panics; what decodes re-encodes to bytes that decode the same.
fn bson(data: &[u8]) -> u64 {
    match Doc::from_bytes(data) {
        Ok(doc) => {
            let bytes = doc.to_bytes();
            let again = Doc::from_bytes(&bytes).expect("our own encoding decodes");
            assert_eq!(again.to_bytes(), bytes, "encode(decode(x)) is stable");
            sig(("ok", doc.0.len()))
        }
        Err(e) => sig(kind(&e.0)),
    }
}

fn bson_seeds() -> Vec<Vec<u8>> {
    let nested = Doc::new().with("a", 1).with("s", "x");
    vec![
        Doc::new()
            .with("ok", 1.0)
            .with("setName", "rs0")
            .with("isWritablePrimary", true)
            .to_bytes(),
        Doc::new()
            .with("ok", 0.0)
            .with("errmsg", "no replset config has been received")
            .with("code", 94)
            .to_bytes(),
        Doc::new()
            .with(
                "members",
                mongo_wire::Value::Array(vec![nested.clone().into(), nested.clone().into()]),
            )
            .with("d", nested)
            .to_bytes(),
        vec![5, 0, 0, 0, 0],
    ]
}

// --- OP_MSG framing: header then body, as read from a socket.
fn opmsg(data: &[u8]) -> u64 {
    if data.len() < msg::HEADER_LEN {
        return 0;
    }
    let header: [u8; msg::HEADER_LEN] = data[..msg::HEADER_LEN].try_into().unwrap();
    match msg::parse_header(&header) {
        Err(e) => sig(("header", kind(&e))),
        Ok(h) => match msg::decode_reply(&h, &data[msg::HEADER_LEN..]) {
            Ok(doc) => sig(("ok", doc.0.len())),
            Err(e) => sig(("body", kind(&e))),
        },
    }
}

fn opmsg_seeds() -> Vec<Vec<u8>> {
    let hello = Doc::new()
        .with("ok", 1.0)
        .with("isWritablePrimary", true)
        .with("setName", "rs0");
    let mut with_seq = msg::encode_request(7, &Doc::new().with("insert", "c"));
    // A kind-1 section: size, identifier, one document.
    let doc = Doc::new().with("_id", 1).to_bytes();
    with_seq.push(1);
    with_seq.extend_from_slice(&((4 + 10 + doc.len()) as i32).to_le_bytes());
    with_seq.extend_from_slice(b"documents\0");
    with_seq.extend_from_slice(&doc);
    let len = with_seq.len() as i32;
    with_seq[..4].copy_from_slice(&len.to_le_bytes());
    vec![msg::encode_request(1, &hello), with_seq]
}

// --- mongodb:// URIs: parse never panics; a parsed URI is usable.
fn uri_parse(data: &[u8]) -> u64 {
    sidecar::redact::forget_all();
    match uri::parse(&text(data)) {
        Ok(u) => {
            assert!(!u.hosts.is_empty(), "a URI without hosts parsed");
            assert!(u.hosts.iter().all(|h| h.port > 0 && !h.host.is_empty()));
            sig((
                "ok",
                u.hosts.len(),
                u.username.is_some(),
                u.replica_set.is_some(),
            ))
        }
        Err(e) => {
            assert!(!e.contains('\n'), "multi-line error: {e:?}");
            sig(kind(e.split(": ").nth(1).unwrap_or("")))
        }
    }
}

fn uri_seeds() -> Vec<Vec<u8>> {
    [
        "mongodb://mongo:27017",
        "mongodb://ro%40t:p%3Ass%25@Mongo1:27018,mongo2,[::1]:27019/app?replicaSet=rs0&authSource=admin&authMechanism=SCRAM-SHA-256&directConnection=false&connectTimeoutMS=1500",
        "mongodb://u:p@h/?tls=false&retryWrites=true",
        "mongodb+srv://u:p@x",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec()
}

// --- No known secret in any output: the bytes choose a URI shape around a known password;
// whatever the parsers and clap print about it (error or the parsed parts), through the
// reporter, must not contain either end of the password.
const HEAD: &str = "Zq7";
const TAIL: &str = "Wk9";

fn uri_secrets(data: &[u8]) -> u64 {
    sidecar::redact::forget_all();
    let mut at = 0usize;
    let mut pick = |options: &[&'static str]| {
        let b = data.get(at).copied().unwrap_or(0) as usize;
        at += 1;
        options[b % options.len()]
    };
    let scheme = pick(&[
        "mongodb://",
        "mongodb:/",
        "mongodb//",
        "",
        "mongodb+srv://",
        "mongodb:///",
        "http://",
        "http:/",
        "MONGODB://",
    ]);
    let user = pick(&[
        "u", "us@r", "u?x", "u#x", "u%3Ax", "u/x", "r%40t", "", "u%zz", "u x",
    ]);
    let middle: String = (0..3)
        .map(|_| {
            pick(&[
                "", "/", "?", "#", "@", "%", "%3A", "%2F", "x", " ", ",", "[", "]", "'",
            ])
        })
        .collect();
    let host = pick(&[
        "h",
        "h:27017",
        "a,b",
        "[::1]",
        "h:0",
        "h:99999",
        "a b",
        "",
        "h/db",
        "h/?replicaSet=rs0",
        "h/?tls=true",
        "h/?authMechanism=PLAIN",
        "h:x",
        "h?x",
    ]);
    let tail = text(data.get(at..).unwrap_or(&[]));
    let password = format!("{HEAD}{middle}{TAIL}");
    let uri_text = format!("{scheme}{user}:{password}@{host}{tail}");
    let mut shown: Vec<String> = Vec::new();
    let mut outcome = String::new();
    if scheme.starts_with("http") {
        match rc_client::normalize_base_url(&uri_text) {
            Ok(u) => shown.push(u),
            Err(f) => {
                outcome = kind(&f.message);
                shown.extend(rendered(&f.into()));
            }
        }
    }
    match uri::parse(&uri_text) {
        Ok(u) => {
            outcome.push_str("ok");
            let parts = format!(
                "{} {} {:?} {:?} {:?}",
                u.hosts_text(),
                u.username.clone().unwrap_or_default(),
                u.default_db,
                u.replica_set,
                u.auth_source
            );
            shown.extend(rendered(&Report::ok(parts)));
        }
        Err(e) => {
            outcome.push_str(&kind(e.split(": ").last().unwrap_or("")));
            shown.extend(rendered(&Failure::usage(e).into()));
        }
    }
    for argv in [
        vec!["mongo-rs-probe".to_string(), uri_text.clone()],
        vec![
            "mongo-rs-probe".into(),
            "--uri".into(),
            uri_text.clone(),
            "--bogus".into(),
        ],
        vec![
            "mongo-rs-probe".into(),
            format!("--uri={uri_text}"),
            "--timeout".into(),
            uri_text.clone(),
        ],
    ] {
        let argv = argv.into_iter().map(std::ffi::OsString::from);
        if let Err((_, text)) =
            sidecar::cli::try_parse::<mongo_rs_probe::Args>("mongo-rs-probe", argv)
        {
            shown.push(text);
        }
    }
    for line in &shown {
        assert!(
            !line.contains(HEAD) && !line.contains(TAIL),
            "the password {password:?} of {uri_text:?} shows in {line:?}"
        );
    }
    sig(outcome)
}

fn secret_seeds() -> Vec<Vec<u8>> {
    (0u8..16)
        .map(|i| vec![i, i / 2, i / 3, i, i % 5, i % 7, i % 11])
        .collect()
}

// --- SCRAM: a hostile server-first / server-final never panics the client side.
fn scram_msgs(data: &[u8]) -> u64 {
    let t = text(data);
    let (first, last) = t.split_once('\n').unwrap_or((&t, ""));
    let mut s = scram::Scram::new(
        "user",
        &Secret::new("pencil"),
        "rOprNGfwEbeRWgbNEkqO".into(),
    )
    .expect("a valid user and password");
    match s.client_final(first) {
        Err(e) => sig(("first", kind(&e.to_string()))),
        Ok(reply) => {
            assert!(reply.starts_with("c=biws,r="), "{reply}");
            sig(("final", s.verify(last).is_ok()))
        }
    }
}

fn scram_seeds() -> Vec<Vec<u8>> {
    vec![
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096\nv=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec(),
        b"r=rOprNGfwEbeRWgbNEkqOxyz,s=AAAA,i=4096\ne=invalid-proof".to_vec(),
    ]
}

// --- Durations: never panic, never above the cap, what parses displays to something that parses.
fn duration(data: &[u8]) -> u64 {
    let t = text(data);
    match sidecar::duration::parse(&t) {
        Ok(d) => {
            assert!(d <= Duration::from_secs(315_360_000), "{t:?} gave {d:?}");
            let shown = sidecar::duration::display(d);
            assert!(
                sidecar::duration::parse(&shown).is_ok(),
                "{shown:?} does not parse back"
            );
            sig(("ok", d.as_secs() > 0))
        }
        Err(e) => sig(kind(e.split(':').nth(1).unwrap_or(""))),
    }
}

fn duration_seeds() -> Vec<Vec<u8>> {
    [
        "500ms", "2s", "1.5s", "1m30s", "1h", "5", "87600h", "0.001s",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec()
}

// --- Rocket.Chat error bodies: never panic; the message is bounded and control-free, and the
// line printed from it is one line.
fn rc_error(data: &[u8]) -> u64 {
    let status = match data.first() {
        Some(b) => [400, 401, 403, 404, 429, 500, 502][*b as usize % 7],
        None => 400,
    };
    let body = text(data.get(1..).unwrap_or(&[]));
    let e = rc_client::RcError::from_body("POST /api/v1/login", status, &body);
    assert!(
        e.message.chars().count() <= sidecar::text::SERVER_TEXT_MAX + 8,
        "{} chars",
        e.message.len()
    );
    assert!(!e.message.chars().any(char::is_control), "{:?}", e.message);
    let _ = (
        e.is_not_found(),
        e.is_totp_required(),
        e.password_policy_rules(),
    );
    let f = e.failure("logging in");
    for line in rendered(&f.clone().into()) {
        assert!(
            !line.contains('\n') && !line.chars().any(char::is_control),
            "{line:?}"
        );
    }
    sig((status, f.exit.code(), e.error.is_empty(), kind(&e.message)))
}

fn rc_error_seeds() -> Vec<Vec<u8>> {
    [
        "\x00{\"success\":false,\"error\":\"The required \\\"roomId\\\" param provided does not match any channel [error-room-not-found]\",\"errorType\":\"error-room-not-found\"}",
        "\x01{\"status\":\"error\",\"success\":false,\"error\":\"totp-required\",\"message\":\"TOTP Required\",\"details\":{\"method\":\"email\"}}",
        "\x01{\"status\":\"error\",\"success\":false,\"error\":403,\"message\":\"Incorrect password\"}",
        "\x00{\"success\":false,\"error\":\"x [error-password-policy-not-met]\",\"errorType\":\"error-password-policy-not-met\",\"details\":[{\"error\":\"error-password-policy-not-met-minLength\"}]}",
        "\x04{\"success\":false,\"error\":\"Error, too many requests. [error-too-many-requests]\",\"errorType\":\"error-too-many-requests\"}",
        "\x06<html><body>502 Bad Gateway</body></html>",
        "\x03Cannot GET /hooks/info/x/y",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec()
}
