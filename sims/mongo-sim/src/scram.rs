//! SCRAM-SHA-1 / SCRAM-SHA-256 server side, as mongod runs it
//! (src/mongo/db/auth/sasl_scram_server_conversation.cpp; RFC 5802, RFC 7677;
//! driver view: https://github.com/mongodb/specifications/blob/master/source/auth/auth.md).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mech {
    Sha1,
    Sha256,
}

impl Mech {
    pub fn parse(name: &str) -> Option<Mech> {
        match name {
            "SCRAM-SHA-1" => Some(Mech::Sha1),
            "SCRAM-SHA-256" => Some(Mech::Sha256),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Mech::Sha1 => "SCRAM-SHA-1",
            Mech::Sha256 => "SCRAM-SHA-256",
        }
    }
    /// mongod defaults: scramIterationCount 10000, scramSHA256IterationCount 15000
    /// (src/mongo/db/auth/sasl_options.idl).
    fn iterations(self) -> u32 {
        match self {
            Mech::Sha1 => 10_000,
            Mech::Sha256 => 15_000,
        }
    }
    fn hmac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        match self {
            Mech::Sha1 => {
                let mut m = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("hmac accepts any key");
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            }
            Mech::Sha256 => {
                let mut m =
                    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("hmac accepts any key");
                m.update(msg);
                m.finalize().into_bytes().to_vec()
            }
        }
    }
    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Mech::Sha1 => Sha1::digest(data).to_vec(),
            Mech::Sha256 => Sha256::digest(data).to_vec(),
        }
    }
    fn salted(self, password: &[u8], salt: &[u8], iters: u32) -> Vec<u8> {
        match self {
            Mech::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2::<Hmac<Sha1>>(password, salt, iters, &mut out)
                    .expect("valid pbkdf2 output length");
                out.to_vec()
            }
            Mech::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2::<Hmac<Sha256>>(password, salt, iters, &mut out)
                    .expect("valid pbkdf2 output length");
                out.to_vec()
            }
        }
    }
}

/// What mongod stores per user and mechanism (admin.system.users credentials).
#[derive(Clone)]
pub struct Creds {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Creds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Creds(<redacted>)")
    }
}

/// SCRAM-SHA-1 hashes `user:mongo:password` with MD5 first (MONGODB-CR legacy digest);
/// SCRAM-SHA-256 SASLprep's the password instead (auth spec, "SCRAM-SHA-256").
pub fn client_password(mech: Mech, user: &str, password: &str) -> Vec<u8> {
    match mech {
        Mech::Sha1 => {
            use md5::Md5;
            let d = Md5::digest(format!("{user}:mongo:{password}").as_bytes());
            d.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes()
        }
        Mech::Sha256 => stringprep::saslprep(password)
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| password.to_string())
            .into_bytes(),
    }
}

pub fn make_creds(mech: Mech, user: &str, password: &str, salt: Vec<u8>) -> Creds {
    let iterations = mech.iterations();
    let salted = mech.salted(&client_password(mech, user, password), &salt, iterations);
    let client_key = mech.hmac(&salted, b"Client Key");
    Creds {
        stored_key: mech.hash(&client_key),
        server_key: mech.hmac(&salted, b"Server Key"),
        salt,
        iterations,
    }
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    if getrandom::getrandom(&mut b).is_err() {
        // Fall back to a time-derived value; this is a test emulator, not a vault.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, x) in b.iter_mut().enumerate() {
            *x = (t >> ((i % 16) * 8)) as u8 ^ i as u8;
        }
    }
    b
}

/// Parsed client-first-message.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFirst {
    pub user: String,
    pub nonce: String,
    pub bare: String,
}

/// `n,,n=user,r=nonce` (gs2 header without channel binding; authzid unsupported, as in mongod).
pub fn parse_client_first(payload: &[u8]) -> Result<ClientFirst, String> {
    let s = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_string())?;
    let rest = s
        .strip_prefix("n,,")
        .or_else(|| s.strip_prefix("y,,"))
        .ok_or_else(|| "Incorrect SCRAM client|server first message header".to_string())?;
    let mut user = None;
    let mut nonce = None;
    for part in rest.split(',') {
        if let Some(u) = part.strip_prefix("n=") {
            user = Some(u.replace("=2C", ",").replace("=3D", "="));
        } else if let Some(r) = part.strip_prefix("r=") {
            nonce = Some(r.to_string());
        }
    }
    match (user, nonce) {
        (Some(user), Some(nonce)) if !nonce.is_empty() => Ok(ClientFirst {
            user,
            nonce,
            bare: rest.to_string(),
        }),
        _ => Err("Invalid SCRAM client first message".to_string()),
    }
}

/// Server-side conversation state between saslStart and the final saslContinue.
#[derive(Debug, Clone)]
pub struct Conversation {
    pub mech: Mech,
    pub user: String,
    pub client_first_bare: String,
    pub server_first: String,
    pub nonce: String,
    pub creds: Creds,
    pub step: u8,
    pub skip_empty_exchange: bool,
}

impl Conversation {
    pub fn start(mech: Mech, first: &ClientFirst, creds: Creds, skip_empty: bool) -> Self {
        // mongod appends 24 random bytes, base64-encoded, to the client nonce.
        let nonce = format!("{}{}", first.nonce, B64.encode(random_bytes(24)));
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&creds.salt),
            creds.iterations
        );
        Conversation {
            mech,
            user: first.user.clone(),
            client_first_bare: first.bare.clone(),
            server_first,
            nonce,
            creds,
            step: 1,
            skip_empty_exchange: skip_empty,
        }
    }

    /// Verifies `c=biws,r=<nonce>,p=<proof>`; returns the `v=<server signature>` message.
    pub fn finish(&mut self, payload: &[u8]) -> Result<String, String> {
        let s = std::str::from_utf8(payload).map_err(|_| "payload is not UTF-8".to_string())?;
        let (without_proof, proof) = s
            .rsplit_once(",p=")
            .ok_or_else(|| "Invalid SCRAM client final message".to_string())?;
        let mut nonce = None;
        let mut cbind = None;
        for part in without_proof.split(',') {
            if let Some(r) = part.strip_prefix("r=") {
                nonce = Some(r);
            } else if let Some(c) = part.strip_prefix("c=") {
                cbind = Some(c);
            }
        }
        if cbind != Some("biws") && cbind != Some("eSws") {
            return Err("Unexpected SCRAM channel binding".into());
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err("Unmatched SCRAM nonce received from client in second step".into());
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| "Invalid SCRAM proof".to_string())?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_sig = self
            .mech
            .hmac(&self.creds.stored_key, auth_message.as_bytes());
        if proof.len() != client_sig.len() {
            return Err("Authentication failed.".into());
        }
        let client_key: Vec<u8> = proof.iter().zip(&client_sig).map(|(a, b)| a ^ b).collect();
        if self.mech.hash(&client_key) != self.creds.stored_key {
            return Err("Authentication failed.".into());
        }
        let server_sig = self
            .mech
            .hmac(&self.creds.server_key, auth_message.as_bytes());
        self.step = 2;
        Ok(format!("v={}", B64.encode(server_sig)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Client side of RFC 5802, written independently of the server path above.
    fn client_final(
        mech: Mech,
        user: &str,
        pw: &str,
        cfirst_bare: &str,
        sfirst: &str,
    ) -> (String, Vec<u8>) {
        let mut salt = None;
        let mut iters = 0;
        let mut nonce = "";
        for p in sfirst.split(',') {
            if let Some(v) = p.strip_prefix("s=") {
                salt = Some(B64.decode(v).unwrap());
            } else if let Some(v) = p.strip_prefix("i=") {
                iters = v.parse().unwrap();
            } else if let Some(v) = p.strip_prefix("r=") {
                nonce = v;
            }
        }
        let salted = mech.salted(&client_password(mech, user, pw), &salt.unwrap(), iters);
        let ck = mech.hmac(&salted, b"Client Key");
        let sk = mech.hash(&ck);
        let without = format!("c=biws,r={nonce}");
        let am = format!("{cfirst_bare},{sfirst},{without}");
        let sig = mech.hmac(&sk, am.as_bytes());
        let proof: Vec<u8> = ck.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let server_key = mech.hmac(&salted, b"Server Key");
        (
            format!("{without},p={}", B64.encode(proof)),
            mech.hmac(&server_key, am.as_bytes()),
        )
    }

    #[test]
    fn full_exchange_both_mechanisms() {
        for mech in [Mech::Sha1, Mech::Sha256] {
            let creds = make_creds(mech, "admin", "s3cret", random_bytes(16));
            let first = parse_client_first(b"n,,n=admin,r=abcdef").unwrap();
            let mut conv = Conversation::start(mech, &first, creds.clone(), true);
            let (fin, expected_sig) =
                client_final(mech, "admin", "s3cret", &first.bare, &conv.server_first);
            let v = conv.finish(fin.as_bytes()).unwrap();
            assert_eq!(v, format!("v={}", B64.encode(expected_sig)));

            let mut conv = Conversation::start(mech, &first, creds, true);
            let (fin, _) = client_final(mech, "admin", "wrong", &first.bare, &conv.server_first);
            assert_eq!(
                conv.finish(fin.as_bytes()).unwrap_err(),
                "Authentication failed."
            );
        }
    }

    #[test]
    fn client_first_parsing() {
        let f = parse_client_first(b"n,,n=a=2Cb=3Dc,r=xyz").unwrap();
        assert_eq!(f.user, "a,b=c");
        assert_eq!(f.bare, "n=a=2Cb=3Dc,r=xyz");
        assert!(parse_client_first(b"p=tls,,n=a,r=x").is_err());
        assert!(parse_client_first(b"n,,n=a").is_err());
        assert!(parse_client_first(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn sha1_password_digest_is_md5_hex() {
        // md5("user:mongo:pencil") as used by the MongoDB SCRAM-SHA-1 test vector in the auth spec.
        let p = client_password(Mech::Sha1, "user", "pencil");
        assert_eq!(p, b"1c33006ec1ffd90f9cadcbcc0e118200".to_vec());
    }
}
