//! OP_MSG framing (https://github.com/mongodb/specifications/blob/master/source/message/OP_MSG.md
//! and https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/#op_msg).
//!
//! Header: messageLength, requestID, responseTo, opCode (int32 LE each). OP_MSG body: flagBits
//! (uint32), sections (kind 0: one document; kind 1: int32 size, cstring identifier, documents),
//! optional CRC-32C checksum when flag bit 0 is set.

use crate::bson::{decode_doc, Doc, Value, MAX_DOC};

pub const OP_MSG: i32 = 2013;
pub const OP_COMPRESSED: i32 = 2012;
pub const HEADER_LEN: usize = 16;
/// mongod's maxMessageSizeBytes (48 MB): nothing larger is a valid reply. A probe only ever
/// reads small replies, but the cap is what stops a hostile length from allocating gigabytes.
pub const MAX_MESSAGE: usize = 48_000_000;

pub const CHECKSUM_PRESENT: u32 = 1 << 0;
pub const MORE_TO_COME: u32 = 1 << 1;
pub const EXHAUST_ALLOWED: u32 = 1 << 16;
/// Bits 0-15 are "required": a reader must fail on one it does not know (OP_MSG spec).
const KNOWN_REQUIRED: u32 = CHECKSUM_PRESENT | MORE_TO_COME;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub length: usize,
    pub request_id: i32,
    pub response_to: i32,
    pub op_code: i32,
}

/// Parses and checks the 16-byte header; the length is validated before anything is allocated.
pub fn parse_header(b: &[u8; HEADER_LEN]) -> Result<Header, String> {
    let int = |i: usize| i32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let length = int(0);
    if length < HEADER_LEN as i32 + 5 || length as usize > MAX_MESSAGE {
        return Err(format!("message length {length} out of range"));
    }
    Ok(Header {
        length: length as usize,
        request_id: int(4),
        response_to: int(8),
        op_code: int(12),
    })
}

/// Encodes a request: one kind-0 section, no checksum (optional for senders).
pub fn encode_request(request_id: i32, body: &Doc) -> Vec<u8> {
    let doc = body.to_bytes();
    let length = HEADER_LEN + 4 + 1 + doc.len();
    let mut out = Vec::with_capacity(length);
    out.extend_from_slice(&(length as i32).to_le_bytes());
    out.extend_from_slice(&request_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&OP_MSG.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&doc);
    out
}

/// Decodes a reply body (everything after the header). Kind-1 sections are folded into the
/// body as arrays under their identifier, as drivers present them. `moreToCome` is refused: we
/// never ask for exhaust, so a server streaming replies is not talking to us correctly.
pub fn decode_reply(header: &Header, body: &[u8]) -> Result<Doc, String> {
    if header.op_code == OP_COMPRESSED {
        return Err("server sent a compressed reply although we offered no compressor".into());
    }
    if header.op_code != OP_MSG {
        return Err(format!(
            "unexpected opCode {} (want OP_MSG)",
            header.op_code
        ));
    }
    if body.len() < 5 {
        return Err("OP_MSG too short".into());
    }
    let flags = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
    let unknown = flags & 0xFFFF & !KNOWN_REQUIRED;
    if unknown != 0 {
        return Err(format!("unknown required OP_MSG flag bits 0x{unknown:x}"));
    }
    if flags & MORE_TO_COME != 0 {
        return Err("server set moreToCome although we did not request exhaust".into());
    }
    let mut sections = &body[4..];
    if flags & CHECKSUM_PRESENT != 0 {
        if sections.len() < 4 {
            return Err("checksum flag set but no checksum".into());
        }
        let (rest, sum) = sections.split_at(sections.len() - 4);
        let want = u32::from_le_bytes([sum[0], sum[1], sum[2], sum[3]]);
        // The checksum covers the whole message (header included) up to the checksum itself.
        let mut whole = Vec::with_capacity(HEADER_LEN + body.len());
        whole.extend_from_slice(&(header.length as i32).to_le_bytes());
        whole.extend_from_slice(&header.request_id.to_le_bytes());
        whole.extend_from_slice(&header.response_to.to_le_bytes());
        whole.extend_from_slice(&header.op_code.to_le_bytes());
        whole.extend_from_slice(&body[..body.len() - 4]);
        if crc32c(&whole) != want {
            return Err("OP_MSG checksum mismatch".into());
        }
        sections = rest;
    }
    let mut body_doc: Option<Doc> = None;
    let mut sequences: Vec<(String, Vec<Value>)> = Vec::new();
    while !sections.is_empty() {
        let kind = sections[0];
        sections = &sections[1..];
        match kind {
            0 => {
                if body_doc.is_some() {
                    return Err("two kind-0 sections".into());
                }
                let (doc, used) = decode_doc(sections, 0).map_err(|e| e.to_string())?;
                body_doc = Some(doc);
                sections = &sections[used..];
            }
            1 => {
                if sections.len() < 4 {
                    return Err("truncated kind-1 section".into());
                }
                let size = i32::from_le_bytes([sections[0], sections[1], sections[2], sections[3]]);
                if size < 5 || size as usize > sections.len() || size as usize > MAX_MESSAGE {
                    return Err(format!("kind-1 section size {size} out of range"));
                }
                let mut seq = &sections[4..size as usize];
                let nul = seq
                    .iter()
                    .position(|&b| b == 0)
                    .ok_or("kind-1 identifier not terminated")?;
                let id = String::from_utf8(seq[..nul].to_vec())
                    .map_err(|_| "kind-1 identifier not UTF-8")?;
                seq = &seq[nul + 1..];
                let mut docs = Vec::new();
                while !seq.is_empty() {
                    let (doc, used) = decode_doc(seq, 0).map_err(|e| e.to_string())?;
                    if used > MAX_DOC {
                        return Err("document too large".into());
                    }
                    docs.push(Value::Document(doc));
                    seq = &seq[used..];
                }
                sequences.push((id, docs));
                sections = &sections[size as usize..];
            }
            k => return Err(format!("unknown OP_MSG section kind {k}")),
        }
    }
    let mut doc = body_doc.ok_or("OP_MSG reply without a body section")?;
    for (id, docs) in sequences {
        doc.insert(&id, Value::Array(docs));
    }
    Ok(doc)
}

/// CRC-32C (Castagnoli), bitwise: checksums are rare in replies, so speed does not matter.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_bytes(flags: u32, sections: &[u8], checksum: bool) -> (Header, Vec<u8>) {
        let mut body = flags.to_le_bytes().to_vec();
        body.extend_from_slice(sections);
        let length = HEADER_LEN + body.len() + if checksum { 4 } else { 0 };
        let header = Header {
            length,
            request_id: 9,
            response_to: 1,
            op_code: OP_MSG,
        };
        if checksum {
            let mut whole = Vec::new();
            whole.extend_from_slice(&(length as i32).to_le_bytes());
            whole.extend_from_slice(&9i32.to_le_bytes());
            whole.extend_from_slice(&1i32.to_le_bytes());
            whole.extend_from_slice(&OP_MSG.to_le_bytes());
            whole.extend_from_slice(&body);
            body.extend_from_slice(&crc32c(&whole).to_le_bytes());
        }
        (header, body)
    }

    #[test]
    fn crc32c_known_vector() {
        // RFC 3720 B.4 / the usual check value for "123456789".
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn request_layout() {
        let b = encode_request(7, &Doc::new().with("hello", 1));
        let h = parse_header(b[..16].try_into().unwrap()).unwrap();
        assert_eq!(h.length, b.len());
        assert_eq!(h.request_id, 7);
        assert_eq!(h.op_code, OP_MSG);
        assert_eq!(&b[16..21], &[0, 0, 0, 0, 0]);
    }

    #[test]
    fn decodes_kind0_kind1_and_checksum() {
        let mut sections = vec![0u8];
        sections.extend(Doc::new().with("ok", 1.0).to_bytes());
        let d1 = Doc::new().with("a", 1).to_bytes();
        let d2 = Doc::new().with("a", 2).to_bytes();
        let size = 4 + 5 + d1.len() + d2.len();
        sections.push(1);
        sections.extend((size as i32).to_le_bytes());
        sections.extend(b"docs\0");
        sections.extend(&d1);
        sections.extend(&d2);
        for checksum in [false, true] {
            let flags = if checksum { CHECKSUM_PRESENT } else { 0 };
            let (h, body) = reply_bytes(flags, &sections, checksum);
            let doc = decode_reply(&h, &body).unwrap();
            assert_eq!(doc.get_i64("ok"), Some(1));
            assert_eq!(doc.get_array("docs").unwrap().len(), 2);
        }
        let (h, mut body) = reply_bytes(CHECKSUM_PRESENT, &sections, true);
        let last = body.len() - 1;
        body[last] ^= 1;
        assert!(decode_reply(&h, &body).unwrap_err().contains("checksum"));
    }

    #[test]
    fn refuses_more_to_come_unknown_flags_and_other_opcodes() {
        let mut sections = vec![0u8];
        sections.extend(Doc::new().with("ok", 1.0).to_bytes());
        let (h, body) = reply_bytes(MORE_TO_COME, &sections, false);
        assert!(decode_reply(&h, &body).unwrap_err().contains("moreToCome"));
        let (h, body) = reply_bytes(1 << 5, &sections, false);
        assert!(decode_reply(&h, &body).unwrap_err().contains("flag"));
        let (h, body) = reply_bytes(EXHAUST_ALLOWED, &sections, false);
        assert!(decode_reply(&h, &body).is_ok(), "optional bits are ignored");
        let (mut h, body) = reply_bytes(0, &sections, false);
        h.op_code = 1;
        assert!(decode_reply(&h, &body).is_err());
    }

    #[test]
    fn header_lengths_are_bounded() {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&(-1i32).to_le_bytes());
        assert!(parse_header(&b).is_err());
        b[0..4].copy_from_slice(&(MAX_MESSAGE as i32 + 1).to_le_bytes());
        assert!(parse_header(&b).is_err());
        b[0..4].copy_from_slice(&3i32.to_le_bytes());
        assert!(parse_header(&b).is_err());
    }

    #[test]
    fn random_bodies_never_panic() {
        let mut x: u64 = 0x1234_5678_9ABC_DEF1;
        let h = Header {
            length: 100,
            request_id: 1,
            response_to: 1,
            op_code: OP_MSG,
        };
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = (x % 80) as usize;
            let mut b: Vec<u8> = (0..n)
                .map(|i| (x.rotate_left(i as u32 * 5) & 0xFF) as u8)
                .collect();
            if n > 4 {
                b[0..4].copy_from_slice(&((x >> 60) as u32 & 1).to_le_bytes());
                b[4] = (x >> 40) as u8 % 3;
            }
            let _ = decode_reply(&h, &b);
        }
    }
}
