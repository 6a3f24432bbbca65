//! Our own small BSON codec (https://bsonspec.org/spec.html): only the types a replica-set sidecar
//! meets in hello / replSetGetStatus / SCRAM replies. Decoding never panics and never trusts a
//! length it has not checked against the bytes it actually holds: a hostile or broken server gets
//! an [`DecodeError`], not a crash or a huge allocation.

use std::fmt;

/// Largest document we accept (mongod's maxBsonObjectSize, 16 MiB, plus its 16 KiB of headroom
/// for command wrappers; https://www.mongodb.com/docs/manual/reference/limits/).
pub const MAX_DOC: usize = 16 * 1024 * 1024 + 16 * 1024;
/// Nesting deeper than this is refused rather than recursed into (stack safety). mongod itself
/// limits nesting to 100 levels (BSONDepth::kDefaultMaxAllowableDepth).
pub const MAX_DEPTH: usize = 100;

/// An ordered document: BSON key order is significant (the command name must come first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Doc(pub Vec<(String, Value)>);

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Double(f64),
    String(String),
    Document(Doc),
    Array(Vec<Value>),
    Binary {
        subtype: u8,
        bytes: Vec<u8>,
    },
    ObjectId([u8; 12]),
    Bool(bool),
    DateTime(i64),
    Null,
    Int32(i32),
    Timestamp {
        time: u32,
        increment: u32,
    },
    Int64(i64),
    /// Kept as raw bytes: we never compute with decimals, we only must not choke on one.
    Decimal128([u8; 16]),
    /// MinKey, MaxKey, undefined, regex, JavaScript…: skipped safely, type tag kept for messages.
    Other(u8),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed BSON: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

impl Doc {
    pub fn new() -> Self {
        Doc(Vec::new())
    }

    /// Builder style: `Doc::new().with("hello", 1).with("$db", "admin")`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Replaces an existing key in place (keeping its position) or appends.
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Any numeric type as i64: servers send `ok: 1.0`, `code: int32`, counters as int64.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key)?.as_i64()
    }

    pub fn get_doc(&self, key: &str) -> Option<&Doc> {
        match self.get(key)? {
            Value::Document(d) => Some(d),
            _ => None,
        }
    }

    pub fn get_array(&self, key: &str) -> Option<&[Value]> {
        match self.get(key)? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn get_binary(&self, key: &str) -> Option<&[u8]> {
        match self.get(key)? {
            Value::Binary { bytes, .. } => Some(bytes),
            _ => None,
        }
    }

    /// Strings of an array field, skipping non-strings (e.g. `hosts` in a hello reply).
    pub fn get_strings(&self, key: &str) -> Vec<String> {
        self.get_array(key)
            .unwrap_or_default()
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_doc(self, &mut out);
        out
    }

    /// Decodes exactly one document filling all of `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Doc, DecodeError> {
        let (doc, used) = decode_doc(bytes, 0)?;
        if used != bytes.len() {
            return Err(DecodeError(format!(
                "{} trailing byte(s) after the document",
                bytes.len() - used
            )));
        }
        Ok(doc)
    }
}

impl Value {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int32(i) => Some(*i as i64),
            Value::Int64(i) => Some(*i),
            Value::Double(d) if d.is_finite() && d.fract() == 0.0 => Some(*d as i64),
            _ => None,
        }
    }

    fn tag(&self) -> u8 {
        match self {
            Value::Double(_) => 0x01,
            Value::String(_) => 0x02,
            Value::Document(_) => 0x03,
            Value::Array(_) => 0x04,
            Value::Binary { .. } => 0x05,
            Value::ObjectId(_) => 0x07,
            Value::Bool(_) => 0x08,
            Value::DateTime(_) => 0x09,
            Value::Null | Value::Other(_) => 0x0A,
            Value::Int32(_) => 0x10,
            Value::Timestamp { .. } => 0x11,
            Value::Int64(_) => 0x12,
            Value::Decimal128(_) => 0x13,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::Int32(i)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int64(i)
    }
}
impl From<f64> for Value {
    fn from(d: f64) -> Self {
        Value::Double(d)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<Doc> for Value {
    fn from(d: Doc) -> Self {
        Value::Document(d)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Self {
        Value::Array(a)
    }
}

// ---- encoding ----

fn encode_doc(doc: &Doc, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for (key, value) in &doc.0 {
        encode_element(key, value, out);
    }
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn encode_cstring(s: &str, out: &mut Vec<u8>) {
    // A NUL inside a key would end it early and corrupt the document: drop it instead.
    out.extend(s.bytes().filter(|&b| b != 0));
    out.push(0);
}

fn encode_element(key: &str, value: &Value, out: &mut Vec<u8>) {
    out.push(value.tag());
    encode_cstring(key, out);
    match value {
        Value::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        Value::String(s) => {
            out.extend_from_slice(&(s.len() as i32 + 1).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Document(d) => encode_doc(d, out),
        Value::Array(items) => {
            let as_doc = Doc(items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect());
            encode_doc(&as_doc, out);
        }
        Value::Binary { subtype, bytes } => {
            out.extend_from_slice(&(bytes.len() as i32).to_le_bytes());
            out.push(*subtype);
            out.extend_from_slice(bytes);
        }
        Value::ObjectId(id) => out.extend_from_slice(id),
        Value::Bool(b) => out.push(*b as u8),
        Value::DateTime(ms) => out.extend_from_slice(&ms.to_le_bytes()),
        // `Other` only comes from decoding; re-encoding it as null keeps the output valid.
        Value::Null | Value::Other(_) => {}
        Value::Int32(i) => out.extend_from_slice(&i.to_le_bytes()),
        Value::Timestamp { time, increment } => {
            out.extend_from_slice(&increment.to_le_bytes());
            out.extend_from_slice(&time.to_le_bytes());
        }
        Value::Int64(i) => out.extend_from_slice(&i.to_le_bytes()),
        Value::Decimal128(b) => out.extend_from_slice(b),
    }
}

// ---- decoding ----

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| DecodeError(format!("truncated at byte {}", self.pos)))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn len(&mut self, what: &str) -> Result<usize, DecodeError> {
        let n = self.i32()?;
        if n < 0 || n as usize > MAX_DOC {
            return Err(DecodeError(format!("{what} length {n} out of range")));
        }
        Ok(n as usize)
    }
    fn cstring(&mut self) -> Result<String, DecodeError> {
        let rest = &self.bytes[self.pos..];
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| DecodeError("unterminated key or cstring".into()))?;
        let s = std::str::from_utf8(&rest[..nul])
            .map_err(|_| DecodeError("key is not UTF-8".into()))?
            .to_string();
        self.pos += nul + 1;
        Ok(s)
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.len("string")?;
        if n == 0 {
            return Err(DecodeError("string length 0 (must include the NUL)".into()));
        }
        let bytes = self.take(n)?;
        if bytes[n - 1] != 0 {
            return Err(DecodeError("string not NUL-terminated".into()));
        }
        String::from_utf8(bytes[..n - 1].to_vec())
            .map_err(|_| DecodeError("string is not UTF-8".into()))
    }
}

/// Decodes the document starting at `bytes[0]`; returns it and its length.
pub fn decode_doc(bytes: &[u8], depth: usize) -> Result<(Doc, usize), DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError(format!(
            "nested deeper than {MAX_DEPTH} levels"
        )));
    }
    let mut head = Reader { bytes, pos: 0 };
    let len = head.len("document")?;
    if len < 5 || len > bytes.len() {
        return Err(DecodeError(format!(
            "document length {len} does not fit the {} byte(s) available",
            bytes.len()
        )));
    }
    if bytes[len - 1] != 0 {
        return Err(DecodeError("document does not end with NUL".into()));
    }
    // Read only inside the declared length: a nested element cannot run past its parent.
    let mut r = Reader {
        bytes: &bytes[..len - 1],
        pos: 4,
    };
    let mut doc = Doc::new();
    while r.pos < r.bytes.len() {
        let tag = r.u8()?;
        let key = r.cstring()?;
        let value = decode_value(tag, &mut r, depth)?;
        doc.0.push((key, value));
    }
    Ok((doc, len))
}

fn decode_value(tag: u8, r: &mut Reader, depth: usize) -> Result<Value, DecodeError> {
    Ok(match tag {
        0x01 => Value::Double(f64::from_le_bytes(r.array()?)),
        0x02 => Value::String(r.string()?),
        0x03 | 0x04 => {
            let (doc, used) = decode_doc(&r.bytes[r.pos..], depth + 1)?;
            r.pos += used;
            if tag == 0x03 {
                Value::Document(doc)
            } else {
                Value::Array(doc.0.into_iter().map(|(_, v)| v).collect())
            }
        }
        0x05 => {
            let n = r.len("binary")?;
            let subtype = r.u8()?;
            Value::Binary {
                subtype,
                bytes: r.take(n)?.to_vec(),
            }
        }
        0x06 | 0x7F | 0xFF => Value::Other(tag), // undefined, MaxKey, MinKey: no payload
        0x07 => Value::ObjectId(r.array()?),
        0x08 => match r.u8()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(DecodeError(format!("boolean byte {b}"))),
        },
        0x09 => Value::DateTime(i64::from_le_bytes(r.array()?)),
        0x0A => Value::Null,
        0x0B => {
            r.cstring()?; // regex pattern
            r.cstring()?; // options
            Value::Other(tag)
        }
        0x0C => {
            r.string()?; // DBPointer: namespace + ObjectId
            r.take(12)?;
            Value::Other(tag)
        }
        0x0D | 0x0E => {
            r.string()?; // JavaScript code, symbol
            Value::Other(tag)
        }
        0x0F => {
            // Code with scope: an int32 total length covering everything after the tag/key.
            let n = r.len("code with scope")?;
            if n < 4 {
                return Err(DecodeError("code with scope too short".into()));
            }
            r.take(n - 4)?;
            Value::Other(tag)
        }
        0x10 => Value::Int32(r.i32()?),
        0x11 => {
            let increment = u32::from_le_bytes(r.array()?);
            let time = u32::from_le_bytes(r.array()?);
            Value::Timestamp { time, increment }
        }
        0x12 => Value::Int64(i64::from_le_bytes(r.array()?)),
        0x13 => Value::Decimal128(r.array()?),
        _ => return Err(DecodeError(format!("unknown element type 0x{tag:02x}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Doc {
        Doc::new()
            .with("hello", 1)
            .with("d", 1.5)
            .with("s", "é")
            .with(
                "sub",
                Doc::new().with("a", Value::Array(vec![1.into(), "x".into()])),
            )
            .with(
                "bin",
                Value::Binary {
                    subtype: 0,
                    bytes: vec![1, 2, 3],
                },
            )
            .with("oid", Value::ObjectId([7; 12]))
            .with("t", true)
            .with("dt", Value::DateTime(1_700_000_000_000))
            .with("n", Value::Null)
            .with(
                "ts",
                Value::Timestamp {
                    time: 5,
                    increment: 9,
                },
            )
            .with("l", i64::MAX)
            .with("dec", Value::Decimal128([3; 16]))
    }

    #[test]
    fn round_trips_every_type() {
        let doc = sample();
        assert_eq!(Doc::from_bytes(&doc.to_bytes()).unwrap(), doc);
    }

    #[test]
    fn encodes_exactly_like_the_bson_crate() {
        let ours = sample().to_bytes();
        let theirs = bson::doc! {
            "hello": 1i32,
            "d": 1.5f64,
            "s": "é",
            "sub": { "a": [1i32, "x"] },
            "bin": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2, 3] },
            "oid": bson::oid::ObjectId::from_bytes([7; 12]),
            "t": true,
            "dt": bson::DateTime::from_millis(1_700_000_000_000),
            "n": bson::Bson::Null,
            "ts": bson::Timestamp { time: 5, increment: 9 },
            "l": i64::MAX,
            "dec": bson::Decimal128::from_bytes([3; 16]),
        };
        let mut theirs_bytes = Vec::new();
        theirs.to_writer(&mut theirs_bytes).unwrap();
        assert_eq!(ours, theirs_bytes);
    }

    #[test]
    fn decodes_what_the_bson_crate_writes_including_exotic_types() {
        let theirs = bson::doc! {
            "re": bson::Regex { pattern: "a.*".into(), options: "i".into() },
            "js": bson::Bson::JavaScriptCode("x()".into()),
            "min": bson::Bson::MinKey,
            "max": bson::Bson::MaxKey,
            "undef": bson::Bson::Undefined,
            "scope": bson::Bson::JavaScriptCodeWithScope(bson::JavaScriptCodeWithScope {
                code: "f".into(), scope: bson::doc! {"a": 1i32}
            }),
            "after": "still read",
        };
        let mut bytes = Vec::new();
        theirs.to_writer(&mut bytes).unwrap();
        let ours = Doc::from_bytes(&bytes).unwrap();
        assert_eq!(ours.get("re"), Some(&Value::Other(0x0B)));
        assert_eq!(ours.get("min"), Some(&Value::Other(0xFF)));
        assert_eq!(ours.get("scope"), Some(&Value::Other(0x0F)));
        assert_eq!(ours.get_str("after"), Some("still read"));
    }

    #[test]
    fn typed_getters_coerce_numbers() {
        let d = Doc::new().with("a", 1.0).with("b", 2).with("c", 3i64);
        assert_eq!(d.get_i64("a"), Some(1));
        assert_eq!(d.get_i64("b"), Some(2));
        assert_eq!(d.get_i64("c"), Some(3));
        assert_eq!(Doc::new().with("x", 1.5).get_i64("x"), None);
    }

    #[test]
    fn rejects_hostile_lengths_and_nesting() {
        // Declared length far larger than the bytes.
        let mut b = sample().to_bytes();
        b[0..4].copy_from_slice(&i32::MAX.to_le_bytes());
        assert!(Doc::from_bytes(&b).is_err());
        // Negative string length.
        let mut s = Doc::new().with("s", "abc").to_bytes();
        s[7..11].copy_from_slice(&(-5i32).to_le_bytes());
        assert!(Doc::from_bytes(&s).is_err());
        // 200 levels of nesting.
        let mut deep = Doc::new().with("x", 1);
        for _ in 0..200 {
            deep = Doc::new().with("x", deep);
        }
        let err = Doc::from_bytes(&deep.to_bytes()).unwrap_err();
        assert!(err.0.contains("nested"), "{err}");
    }

    #[test]
    fn truncated_and_random_bytes_never_panic() {
        let good = sample().to_bytes();
        for cut in 0..good.len() {
            assert!(Doc::from_bytes(&good[..cut]).is_err());
        }
        // Every single-byte corruption of a valid document: error or a document, never a panic.
        for i in 0..good.len() {
            for v in [0u8, 1, 0x7F, 0x80, 0xFF] {
                let mut b = good.clone();
                b[i] = v;
                let _ = Doc::from_bytes(&b);
            }
        }
        // Pseudo-random buffers with a plausible length prefix.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 5 + (x % 60) as usize;
            let mut b: Vec<u8> = (0..n)
                .map(|i| (x.rotate_left(i as u32 * 7) & 0xFF) as u8)
                .collect();
            b[0..4].copy_from_slice(&(n as i32).to_le_bytes());
            let _ = Doc::from_bytes(&b);
        }
    }
}
