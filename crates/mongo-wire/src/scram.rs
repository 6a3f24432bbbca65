//! SCRAM-SHA-256 / SCRAM-SHA-1 client (RFC 5802, RFC 7677) as MongoDB runs it over
//! saslStart/saslContinue, and MONGODB-X509
//! (https://github.com/mongodb/specifications/blob/master/source/auth/auth.md). Without an
//! authMechanism the mechanism is negotiated as the spec says: hello with `saslSupportedMechs`,
//! SCRAM-SHA-256 when listed, else SCRAM-SHA-1. SCRAM-SHA-256 SASLprep's the password (RFC
//! 4013); SCRAM-SHA-1 uses MongoDB's `md5(user:mongo:password)` digest instead, unprepped. The
//! user name only gets SCRAM's `=2C`/`=3D` escaping. The server's signature is verified: a
//! server that does not know the password cannot pretend we authenticated.

use crate::bson::{Doc, Value};
use crate::conn::{Connection, Error};
use crate::uri::Mechanism;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use sidecar::Secret;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// The auth spec: drivers MUST refuse an iteration count below 4096 (a downgrade attack).
const MIN_ITERATIONS: u32 = 4096;
/// And we refuse absurd ones, which would pin a CPU for minutes inside PBKDF2.
const MAX_ITERATIONS: u32 = 10_000_000;

#[derive(Clone, Debug)]
pub struct Credential {
    pub username: String,
    pub password: Secret,
    pub source: String,
    /// The URI's authMechanism; `None`: negotiate (SCRAM-SHA-256 or SCRAM-SHA-1).
    pub mechanism: Option<Mechanism>,
}

/// The client side of one conversation; split from the socket so it can be unit-tested.
pub struct Scram {
    sha1: bool,
    username: String,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    server_signature: Vec<u8>,
}

impl Scram {
    pub fn new(username: &str, password: &Secret, client_nonce: String) -> Result<Self, Error> {
        let password = stringprep::saslprep(password.expose())
            .map_err(|_| Error::Auth("the password contains characters SASLprep prohibits".into()))?
            .into_owned();
        Ok(Self::build(false, username, password, client_nonce))
    }

    /// SCRAM-SHA-1: the "password" is MongoDB's legacy digest hex(md5("user:mongo:password")).
    pub fn new_sha1(username: &str, password: &Secret, client_nonce: String) -> Self {
        let digest = Md5::digest(format!("{username}:mongo:{}", password.expose()).as_bytes());
        let hex = digest.iter().map(|b| format!("{b:02x}")).collect();
        Self::build(true, username, hex, client_nonce)
    }

    fn build(sha1: bool, username: &str, password: String, client_nonce: String) -> Self {
        let escaped = username.replace('=', "=3D").replace(',', "=2C");
        Scram {
            sha1,
            username: escaped.clone(),
            password,
            client_first_bare: format!("n={escaped},r={client_nonce}"),
            client_nonce,
            server_signature: Vec::new(),
        }
    }

    pub fn random_nonce() -> String {
        let mut bytes = [0u8; 24];
        // getrandom only fails without any OS entropy source; a time-based fallback still
        // gives a unique (if guessable) nonce, which SCRAM tolerates: secrecy is not required.
        if getrandom::getrandom(&mut bytes).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos();
            bytes[..16].copy_from_slice(&t.to_le_bytes());
        }
        B64.encode(bytes)
    }

    pub fn client_first(&self) -> String {
        format!("n,,{}", self.client_first_bare)
    }

    /// Takes server-first (`r=…,s=…,i=…`), returns client-final with the proof.
    pub fn client_final(&mut self, server_first: &str) -> Result<String, Error> {
        let bad = |why: &str| Error::Auth(format!("invalid server-first message: {why}"));
        let attr = |key: &str| {
            server_first
                .split(',')
                .find_map(|kv| kv.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        };
        if server_first.starts_with("m=") {
            return Err(bad("mandatory extension not supported"));
        }
        let nonce = attr("r").ok_or_else(|| bad("no nonce"))?;
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err(bad("the server nonce does not extend ours"));
        }
        let salt = B64
            .decode(attr("s").ok_or_else(|| bad("no salt"))?)
            .map_err(|_| bad("salt is not base64"))?;
        let iterations: u32 = attr("i")
            .and_then(|i| i.parse().ok())
            .ok_or_else(|| bad("no iteration count"))?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(bad(&format!("iteration count {iterations} out of range")));
        }
        let sha1 = self.sha1;
        let salted = if sha1 {
            let mut out = vec![0u8; 20];
            pbkdf2::pbkdf2::<HmacSha1>(self.password.as_bytes(), &salt, iterations, &mut out)
                .map(|_| out)
        } else {
            let mut out = vec![0u8; 32];
            pbkdf2::pbkdf2::<HmacSha256>(self.password.as_bytes(), &salt, iterations, &mut out)
                .map(|_| out)
        }
        .map_err(|_| bad("PBKDF2 failed"))?;
        let client_key = hmac(sha1, &salted, b"Client Key");
        let stored_key = if sha1 {
            Sha1::digest(&client_key).to_vec()
        } else {
            Sha256::digest(&client_key).to_vec()
        };
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{},{server_first},{without_proof}", self.client_first_bare);
        let client_signature = hmac(sha1, &stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let server_key = hmac(sha1, &salted, b"Server Key");
        self.server_signature = hmac(sha1, &server_key, auth_message.as_bytes());
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks server-final (`v=…`); `e=…` is the server's refusal.
    pub fn verify(&self, server_final: &str) -> Result<(), Error> {
        if let Some(e) = server_final.strip_prefix("e=") {
            return Err(Error::Auth(format!("server error {e}")));
        }
        let v = server_final
            .split(',')
            .find_map(|kv| kv.strip_prefix("v="))
            .ok_or_else(|| Error::Auth("server-final message has no signature".into()))?;
        let got = B64
            .decode(v)
            .map_err(|_| Error::Auth("server signature is not base64".into()))?;
        // Constant-time compare via the MAC API is overkill here: the signature is public once
        // sent; what matters is that it matches.
        if got != self.server_signature {
            return Err(Error::Auth(
                "the server's signature is wrong: it does not know this user's password (wrong server?)".into(),
            ));
        }
        Ok(())
    }

    pub fn username(&self) -> &str {
        &self.username
    }
}

fn hmac(sha1: bool, key: &[u8], data: &[u8]) -> Vec<u8> {
    if sha1 {
        let mut mac = HmacSha1::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(data);
        return mac.finalize().into_bytes().to_vec();
    }
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The auth spec's default-mechanism rule from hello's `saslSupportedMechs`: SCRAM-SHA-256
/// when listed, else SCRAM-SHA-1 (also when the server sent no list).
pub fn negotiate(hello: &Doc) -> Mechanism {
    let listed = match hello.get("saslSupportedMechs") {
        Some(Value::Array(a)) => a
            .iter()
            .any(|m| matches!(m, Value::String(s) if s == "SCRAM-SHA-256")),
        _ => false,
    };
    if listed {
        Mechanism::ScramSha256
    } else {
        Mechanism::ScramSha1
    }
}

fn payload(reply: &Doc) -> Result<String, Error> {
    let bytes = reply
        .get_binary("payload")
        .ok_or_else(|| Error::Auth("SASL reply without payload".into()))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::Auth("SASL payload is not UTF-8".into()))
}

fn binary(text: String) -> Value {
    Value::Binary {
        subtype: 0,
        bytes: text.into_bytes(),
    }
}

impl Connection {
    /// Authenticates this connection with the credential's mechanism, negotiated when the
    /// URI named none (one extra hello). Server refusals (e.g. 18 AuthenticationFailed) come
    /// back as [`Error::Server`].
    pub fn authenticate(&mut self, cred: &Credential) -> Result<(), Error> {
        let mechanism = match cred.mechanism {
            Some(m) => m,
            None => {
                let hello = Doc::new().with("hello", 1).with(
                    "saslSupportedMechs",
                    format!("{}.{}", cred.source, cred.username),
                );
                negotiate(&self.command("admin", hello)?)
            }
        };
        let mut scram = match mechanism {
            Mechanism::X509 => return self.authenticate_x509(cred),
            Mechanism::ScramSha1 => {
                Scram::new_sha1(&cred.username, &cred.password, Scram::random_nonce())
            }
            Mechanism::ScramSha256 => {
                Scram::new(&cred.username, &cred.password, Scram::random_nonce())?
            }
        };
        let start = Doc::new()
            .with("saslStart", 1)
            .with("mechanism", mechanism.name())
            .with("payload", binary(scram.client_first()))
            .with("autoAuthorize", 1)
            .with("options", Doc::new().with("skipEmptyExchange", true));
        let reply = self.command(&cred.source, start)?;
        let conversation = reply
            .get("conversationId")
            .cloned()
            .ok_or_else(|| Error::Auth("saslStart reply without conversationId".into()))?;
        let client_final = scram.client_final(&payload(&reply)?)?;
        let reply = self.command(
            &cred.source,
            Doc::new()
                .with("saslContinue", 1)
                .with("conversationId", conversation.clone())
                .with("payload", binary(client_final)),
        )?;
        scram.verify(&payload(&reply)?)?;
        // Servers that ignore skipEmptyExchange want one more, empty round.
        let mut reply = reply;
        let mut rounds = 0;
        while reply.get_bool("done") != Some(true) {
            rounds += 1;
            if rounds > 2 {
                return Err(Error::Auth("SASL conversation does not finish".into()));
            }
            reply = self.command(
                &cred.source,
                Doc::new()
                    .with("saslContinue", 1)
                    .with("conversationId", conversation.clone())
                    .with("payload", binary(String::new())),
            )?;
        }
        Ok(())
    }

    /// MONGODB-X509: the TLS client certificate is the credential; the user name (its subject
    /// DN) is optional since MongoDB 3.4, the server takes it from the certificate.
    fn authenticate_x509(&mut self, cred: &Credential) -> Result<(), Error> {
        let mut cmd = Doc::new()
            .with("authenticate", 1)
            .with("mechanism", "MONGODB-X509");
        if !cred.username.is_empty() {
            cmd = cmd.with("user", cred.username.as_str());
        }
        self.command("$external", cmd).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 7677 section 3 example conversation.
    #[test]
    fn rfc7677_vector() {
        let mut s = Scram::new(
            "user",
            &Secret::new("pencil"),
            "rOprNGfwEbeRWgbNEkqO".into(),
        )
        .unwrap();
        assert_eq!(s.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        assert_eq!(
            s.client_final(server_first).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        s.verify("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        assert!(s
            .verify("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .is_err());
        assert!(s.verify("e=invalid-proof").is_err());
    }

    /// The auth spec's SCRAM-SHA-1 example (user "user", password "pencil").
    #[test]
    fn scram_sha1_spec_vector() {
        let mut s = Scram::new_sha1(
            "user",
            &Secret::new("pencil"),
            "fyko+d2lbbFgONRv9qkxdawL".into(),
        );
        assert_eq!(s.client_first(), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let server_first =
            "r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,s=rQ9ZY3MntBeuP3E1TDVC4w==,i=10000";
        assert_eq!(
            s.client_final(server_first).unwrap(),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawLHo+Vgk7qvUOKUwuWLIWg4l/9SraGMHEE,p=MC2T8BvbmWRckDw8oWl5IVghwCY="
        );
        s.verify("v=UMWeI25JD1yNYZRMpZ4VHvhZ9e0=").unwrap();
    }

    #[test]
    fn negotiation_follows_the_auth_spec() {
        let mechs = |m: &[&str]| {
            Doc::new().with(
                "saslSupportedMechs",
                Value::Array(m.iter().map(|s| Value::String(s.to_string())).collect()),
            )
        };
        assert_eq!(
            negotiate(&mechs(&["SCRAM-SHA-1", "SCRAM-SHA-256"])),
            Mechanism::ScramSha256
        );
        assert_eq!(negotiate(&mechs(&["SCRAM-SHA-1"])), Mechanism::ScramSha1);
        assert_eq!(negotiate(&mechs(&["PLAIN"])), Mechanism::ScramSha1);
        assert_eq!(negotiate(&Doc::new()), Mechanism::ScramSha1);
    }

    #[test]
    fn rejects_weak_or_foreign_server_first() {
        let mk = || Scram::new("u", &Secret::new("p"), "abc".into()).unwrap();
        for bad in [
            "r=xyz123,s=AAAA,i=4096", // nonce not ours
            "r=abc,s=AAAA,i=4096",    // nonce not extended
            "r=abcdef,s=AAAA,i=1000", // downgrade
            "r=abcdef,s=!!!,i=4096",  // salt
            "r=abcdef,s=AAAA",        // no count
            "m=ext,r=abcdef,s=AAAA,i=4096",
        ] {
            assert!(mk().client_final(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn escapes_the_user_name_and_preps_the_password() {
        let s = Scram::new("a=b,c", &Secret::new("I\u{00AD}X"), "n".into()).unwrap();
        assert_eq!(s.username(), "a=3Db=2Cc");
        assert_eq!(
            s.password, "IX",
            "soft hyphen is mapped to nothing (RFC 4013)"
        );
        assert!(Scram::new("u", &Secret::new("a\u{0007}"), "n".into()).is_err());
        assert_ne!(Scram::random_nonce(), Scram::random_nonce());
    }
}
