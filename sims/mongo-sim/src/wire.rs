//! MongoDB wire protocol framing: OP_MSG (2013), legacy OP_QUERY (2004) in, OP_MSG / OP_REPLY (1) out.
//! Layouts: https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/

use bson::{Bson, Document};
use std::io::{self, Read, Write};

pub const OP_REPLY: i32 = 1;
pub const OP_QUERY: i32 = 2004;
pub const OP_MSG: i32 = 2013;

/// hello reply `maxMessageSizeBytes` (hello docs); a frame announcing more is treated as a
/// protocol violation and the connection is closed, as mongod's transport layer does.
pub const MAX_MESSAGE_SIZE: usize = 48_000_000;

/// OP_MSG flagBits (wire-protocol docs, "flagBits").
pub const FLAG_CHECKSUM_PRESENT: u32 = 1 << 0;
pub const FLAG_MORE_TO_COME: u32 = 1 << 1;
pub const FLAG_EXHAUST_ALLOWED: u32 = 1 << 16;

/// OP_QUERY flag "SecondaryOk" (bit 2) of the legacy opcode.
pub const QUERY_SECONDARY_OK: i32 = 1 << 2;

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub length: i32,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

/// A decoded client request, reduced to what command dispatch needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub request_id: i32,
    pub op_code: i32,
    /// Command body; OP_MSG kind-1 sequences are folded in as arrays under their identifier,
    /// which is how mongod presents them to commands (e.g. insert `documents`).
    pub body: Document,
    /// Database the command runs against (`$db` for OP_MSG, `<db>.$cmd` for OP_QUERY).
    pub db: String,
    pub flags: u32,
    pub query_flags: i32,
}

impl Request {
    /// The client asked for no reply (moreToCome on a request, e.g. w:0 writes).
    pub fn more_to_come(&self) -> bool {
        self.op_code == OP_MSG && self.flags & FLAG_MORE_TO_COME != 0
    }
}

#[derive(Debug)]
pub enum WireError {
    Io(io::Error),
    /// Frame violates the protocol; mongod ends the connection.
    Malformed(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Io(e) => write!(f, "{e}"),
            WireError::Malformed(m) => write!(f, "{m}"),
        }
    }
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        WireError::Io(e)
    }
}

fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads one whole message (header + payload). Sizes outside [16, MAX_MESSAGE_SIZE] are malformed.
pub fn read_message<R: Read>(r: &mut R) -> Result<(Header, Vec<u8>), WireError> {
    let mut hdr = [0u8; 16];
    r.read_exact(&mut hdr)?;
    let header = Header {
        length: le_i32(&hdr[0..4]),
        request_id: le_i32(&hdr[4..8]),
        response_to: le_i32(&hdr[8..12]),
        op_code: le_i32(&hdr[12..16]),
    };
    if header.length < 16 || header.length as usize > MAX_MESSAGE_SIZE {
        return Err(WireError::Malformed(format!(
            "message length {} outside [16, {MAX_MESSAGE_SIZE}]",
            header.length
        )));
    }
    let mut payload = vec![0u8; header.length as usize - 16];
    r.read_exact(&mut payload)?;
    Ok((header, payload))
}

fn read_cstring(buf: &[u8], pos: &mut usize) -> Result<String, WireError> {
    let rest = buf.get(*pos..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| WireError::Malformed("unterminated cstring".into()))?;
    let s = std::str::from_utf8(&rest[..end])
        .map_err(|_| WireError::Malformed("cstring is not UTF-8".into()))?
        .to_string();
    *pos += end + 1;
    Ok(s)
}

/// Reads one BSON document at `pos`, checking its declared length against the buffer.
fn read_doc(buf: &[u8], pos: &mut usize, limit: usize) -> Result<Document, WireError> {
    if *pos + 4 > limit {
        return Err(WireError::Malformed("truncated BSON document".into()));
    }
    let len = le_i32(&buf[*pos..]) as i64;
    if len < 5 || *pos as i64 + len > limit as i64 {
        return Err(WireError::Malformed(format!(
            "BSON document length {len} out of bounds"
        )));
    }
    let slice = &buf[*pos..*pos + len as usize];
    let doc = Document::from_reader(&mut &slice[..])
        .map_err(|e| WireError::Malformed(format!("invalid BSON: {e}")))?;
    *pos += len as usize;
    Ok(doc)
}

/// Decodes a request payload. Only OP_MSG and OP_QUERY on `*.$cmd` are commands;
/// anything else is reported as malformed (the caller closes the connection).
pub fn parse_request(header: &Header, payload: &[u8]) -> Result<Request, WireError> {
    match header.op_code {
        OP_MSG => parse_op_msg(header, payload),
        OP_QUERY => parse_op_query(header, payload),
        other => Err(WireError::Malformed(format!("unsupported opCode {other}"))),
    }
}

fn parse_op_msg(header: &Header, payload: &[u8]) -> Result<Request, WireError> {
    if payload.len() < 5 {
        return Err(WireError::Malformed("OP_MSG too short".into()));
    }
    let flags = le_i32(payload) as u32;
    // Required bits 0-15 other than the two defined ones must be zero (wire-protocol docs:
    // "the server MUST error on unknown required bits"); mongod then closes the connection.
    if flags & 0xFFFF & !(FLAG_CHECKSUM_PRESENT | FLAG_MORE_TO_COME) != 0 {
        return Err(WireError::Malformed(format!(
            "unknown required OP_MSG flag bits {flags:#x}"
        )));
    }
    let mut limit = payload.len();
    if flags & FLAG_CHECKSUM_PRESENT != 0 {
        // The CRC-32C trailer is optional to verify; we only skip it.
        if limit < 9 {
            return Err(WireError::Malformed("OP_MSG checksum missing".into()));
        }
        limit -= 4;
    }
    let mut pos = 4;
    let mut body: Option<Document> = None;
    let mut sequences: Vec<(String, Vec<Document>)> = Vec::new();
    while pos < limit {
        let kind = payload[pos];
        pos += 1;
        match kind {
            0 => {
                if body.is_some() {
                    return Err(WireError::Malformed("OP_MSG has two body sections".into()));
                }
                body = Some(read_doc(payload, &mut pos, limit)?);
            }
            1 => {
                if pos + 4 > limit {
                    return Err(WireError::Malformed("truncated document sequence".into()));
                }
                let size = le_i32(&payload[pos..]);
                let end = pos as i64 + size as i64;
                if size < 4 || end > limit as i64 {
                    return Err(WireError::Malformed(
                        "document sequence size out of bounds".into(),
                    ));
                }
                let end = end as usize;
                let mut p = pos + 4;
                let ident = read_cstring(&payload[..end], &mut p)?;
                let mut docs = Vec::new();
                while p < end {
                    docs.push(read_doc(payload, &mut p, end)?);
                }
                sequences.push((ident, docs));
                pos = end;
            }
            k => {
                return Err(WireError::Malformed(format!(
                    "unknown OP_MSG section kind {k}"
                )))
            }
        }
    }
    let mut body = body.ok_or_else(|| WireError::Malformed("OP_MSG without body".into()))?;
    for (ident, docs) in sequences {
        body.insert(
            ident,
            Bson::Array(docs.into_iter().map(Bson::Document).collect()),
        );
    }
    let db = match body.get("$db") {
        Some(Bson::String(s)) => s.clone(),
        _ => return Err(WireError::Malformed("OP_MSG body without $db".into())),
    };
    Ok(Request {
        request_id: header.request_id,
        op_code: OP_MSG,
        body,
        db,
        flags,
        query_flags: 0,
    })
}

fn parse_op_query(header: &Header, payload: &[u8]) -> Result<Request, WireError> {
    if payload.len() < 4 {
        return Err(WireError::Malformed("OP_QUERY too short".into()));
    }
    let query_flags = le_i32(payload);
    let mut pos = 4;
    let ns = read_cstring(payload, &mut pos)?;
    pos += 8; // numberToSkip, numberToReturn: meaningless for commands.
    let mut query = read_doc(payload, &mut pos, payload.len())?;
    let (db, coll) = ns.split_once('.').unwrap_or((ns.as_str(), ""));
    if coll != "$cmd" {
        // Legacy OP_QUERY finds were removed in 5.1; only commands are accepted
        // (https://www.mongodb.com/docs/manual/legacy-opcodes/).
        return Err(WireError::Malformed(format!(
            "OP_QUERY on non-command namespace {ns}"
        )));
    }
    // Drivers may wrap the command as {$query: {...}, $readPreference: ...}.
    if let Some(Bson::Document(inner)) = query.get("$query") {
        let mut inner = inner.clone();
        if let Some(rp) = query.get("$readPreference") {
            inner.insert("$readPreference", rp.clone());
        }
        query = inner;
    }
    Ok(Request {
        request_id: header.request_id,
        op_code: OP_QUERY,
        body: query,
        db: db.to_string(),
        flags: 0,
        query_flags,
    })
}

fn frame(request_id: i32, response_to: i32, op_code: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&((16 + payload.len()) as i32).to_le_bytes());
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&response_to.to_le_bytes());
    out.extend_from_slice(&op_code.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn doc_bytes(doc: &Document) -> Vec<u8> {
    let mut v = Vec::new();
    // Writing a Document into a Vec cannot fail for documents we built ourselves.
    doc.to_writer(&mut v).unwrap_or_default();
    v
}

/// OP_MSG reply with flagBits 0 and a single kind-0 section.
pub fn encode_op_msg(request_id: i32, response_to: i32, body: &Document) -> Vec<u8> {
    let mut payload = vec![0, 0, 0, 0, 0];
    payload.extend_from_slice(&doc_bytes(body));
    frame(request_id, response_to, OP_MSG, &payload)
}

/// OP_REPLY carrying one document (what mongod answers to an OP_QUERY command).
pub fn encode_op_reply(request_id: i32, response_to: i32, body: &Document) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&0i32.to_le_bytes()); // responseFlags
    payload.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    payload.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    payload.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    payload.extend_from_slice(&doc_bytes(body));
    frame(request_id, response_to, OP_REPLY, &payload)
}

/// Client-side helpers (used by tests): build an OP_MSG request.
pub fn encode_op_msg_request(request_id: i32, flags: u32, body: &Document) -> Vec<u8> {
    let mut payload = flags.to_le_bytes().to_vec();
    payload.push(0);
    payload.extend_from_slice(&doc_bytes(body));
    frame(request_id, 0, OP_MSG, &payload)
}

/// Client-side helper: legacy OP_QUERY command against `<db>.$cmd`.
pub fn encode_op_query_request(request_id: i32, db: &str, body: &Document) -> Vec<u8> {
    let mut payload = 0i32.to_le_bytes().to_vec();
    payload.extend_from_slice(format!("{db}.$cmd").as_bytes());
    payload.push(0);
    payload.extend_from_slice(&0i32.to_le_bytes());
    payload.extend_from_slice(&(-1i32).to_le_bytes());
    payload.extend_from_slice(&doc_bytes(body));
    frame(request_id, 0, OP_QUERY, &payload)
}

/// Client-side helper: decode a reply (OP_MSG or OP_REPLY) into its body document.
pub fn decode_reply(header: &Header, payload: &[u8]) -> Result<Document, WireError> {
    match header.op_code {
        OP_MSG => {
            let mut pos = 5;
            if payload.len() < 5 || payload[4] != 0 {
                return Err(WireError::Malformed("reply without kind-0 section".into()));
            }
            read_doc(payload, &mut pos, payload.len())
        }
        OP_REPLY => {
            let mut pos = 20;
            read_doc(payload, &mut pos, payload.len())
        }
        other => Err(WireError::Malformed(format!(
            "unexpected reply opCode {other}"
        ))),
    }
}

pub fn write_all<W: Write>(w: &mut W, bytes: &[u8]) -> io::Result<()> {
    w.write_all(bytes)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn roundtrip(bytes: &[u8]) -> Result<Request, WireError> {
        let (h, p) = read_message(&mut &bytes[..])?;
        parse_request(&h, &p)
    }

    #[test]
    fn op_msg_body_and_sequence() {
        let body = doc! {"insert": "c", "$db": "test"};
        let mut payload = 0u32.to_le_bytes().to_vec();
        payload.push(0);
        payload.extend(doc_bytes(&body));
        let d1 = doc_bytes(&doc! {"a": 1});
        let d2 = doc_bytes(&doc! {"a": 2});
        let mut seq = b"documents\0".to_vec();
        seq.extend(&d1);
        seq.extend(&d2);
        payload.push(1);
        payload.extend(((seq.len() + 4) as i32).to_le_bytes());
        payload.extend(seq);
        let msg = frame(7, 0, OP_MSG, &payload);
        let req = roundtrip(&msg).unwrap();
        assert_eq!(req.db, "test");
        assert_eq!(req.request_id, 7);
        let docs = req.body.get_array("documents").unwrap();
        assert_eq!(docs.len(), 2);
    }

    #[test]
    fn op_msg_checksum_trailer_is_skipped() {
        let mut payload = FLAG_CHECKSUM_PRESENT.to_le_bytes().to_vec();
        payload.push(0);
        payload.extend(doc_bytes(&doc! {"ping": 1, "$db": "admin"}));
        payload.extend([1, 2, 3, 4]);
        let req = roundtrip(&frame(1, 0, OP_MSG, &payload)).unwrap();
        assert_eq!(req.body.get_i32("ping").unwrap(), 1);
    }

    #[test]
    fn op_query_is_master_with_query_wrapper() {
        let body = doc! {"$query": {"isMaster": 1, "helloOk": true}, "$readPreference": {"mode": "primaryPreferred"}};
        let req = roundtrip(&encode_op_query_request(3, "admin", &body)).unwrap();
        assert_eq!(req.db, "admin");
        assert!(req.body.contains_key("isMaster"));
        assert!(req.body.contains_key("$readPreference"));
    }

    #[test]
    fn oversized_and_undersized_frames_are_rejected() {
        let mut big = Vec::new();
        big.extend(((MAX_MESSAGE_SIZE + 1) as i32).to_le_bytes());
        big.extend([0u8; 12]);
        assert!(matches!(
            read_message(&mut &big[..]),
            Err(WireError::Malformed(_))
        ));
        let mut small = Vec::new();
        small.extend(8i32.to_le_bytes());
        small.extend([0u8; 12]);
        assert!(matches!(
            read_message(&mut &small[..]),
            Err(WireError::Malformed(_))
        ));
    }

    #[test]
    fn garbage_sections_are_malformed_not_panics() {
        for payload in [
            vec![0, 0, 0, 0],
            vec![0, 0, 0, 0, 0, 200, 0, 0, 0],
            vec![0, 0, 0, 0, 7],
            vec![0, 0, 0, 0, 1, 255, 255, 255, 127],
            vec![4, 0, 0, 0, 0],
        ] {
            let msg = frame(1, 0, OP_MSG, &payload);
            assert!(roundtrip(&msg).is_err(), "{payload:?}");
        }
        let msg = frame(1, 0, 2010, &[0; 8]);
        assert!(roundtrip(&msg).is_err());
    }

    #[test]
    fn replies_decode() {
        let d = doc! {"ok": 1.0};
        let r = encode_op_reply(1, 9, &d);
        let (h, p) = read_message(&mut &r[..]).unwrap();
        assert_eq!(h.response_to, 9);
        assert_eq!(decode_reply(&h, &p).unwrap(), d);
        let m = encode_op_msg(2, 9, &d);
        let (h, p) = read_message(&mut &m[..]).unwrap();
        assert_eq!(decode_reply(&h, &p).unwrap(), d);
    }
}
