//! The private key of `tlsCertificateKeyFile`, plain or encrypted with
//! `tlsCertificateKeyFilePassword`: PKCS#8 `ENCRYPTED PRIVATE KEY` (RFC 5958) with PBES2
//! (RFC 8018): PBKDF2 (HMAC-SHA1/224/256/384/512) or scrypt, then AES-128/192/256-CBC or
//! DES-EDE3-CBC. That is what `openssl pkcs8 -topk8 -v2 aes-256-cbc [-v2prf hmacWithSHA1 |
//! -scrypt]`, `openssl genpkey -aes256` and `openssl req -keyout` (3DES by default in OpenSSL
//! 3.0) write, and what pymongo's `ssl.load_cert_chain(password=…)` reads.
//! The legacy OpenSSL form (`Proc-Type: 4,ENCRYPTED`) and PBES1 are refused with the command
//! that converts them. Decryption is pure Rust (RustCrypto pkcs8/pkcs5), no OpenSSL.

use pkcs5::pbes2::{self, Kdf};
use pkcs8::der::{Decode, Encode, Reader, SliceReader, Tagged};
use pkcs8::{EncryptedPrivateKeyInfo, ObjectIdentifier, PrivateKeyInfo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sidecar::Secret;

/// Key-derivation work a key file may ask for. A hostile or corrupt file must not turn the
/// start-up into minutes of hashing or a gigabyte of scrypt memory. OpenSSL writes 2048
/// PBKDF2 rounds and scrypt N=16384 r=8 p=1 (16 MiB); these caps leave ample room above.
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;
const MAX_SCRYPT_P: u32 = 16;

/// How to convert what we refuse into what we take (keeps the password).
const CONVERT: &str = "convert it: openssl pkcs8 -topk8 -v2 aes-256-cbc -in key.pem -out new.pem (then put the certificate and new.pem in one file)";

/// The one private key of a PEM file that also holds the certificate chain. `Err`: one line,
/// never the password.
pub fn private_key(
    text: &[u8],
    password: Option<&Secret>,
) -> Result<PrivateKeyDer<'static>, String> {
    if find(text, b"Proc-Type: 4,ENCRYPTED").is_some() {
        return Err(format!(
            "the private key is in OpenSSL's legacy encrypted form (Proc-Type: 4,ENCRYPTED), which is not supported: {CONVERT}"
        ));
    }
    let Some(der) = encrypted_block(text)? else {
        // A plain key: the password, if any, is not needed (as OpenSSL and pymongo do).
        return PrivateKeyDer::from_pem_slice(text).map_err(|_| {
            "no PRIVATE KEY in it (want the certificate and its key in one PEM file)".into()
        });
    };
    let Some(password) = password else {
        return Err("the private key is encrypted: give its password in tlsCertificateKeyFilePassword (MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD or MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE)".into());
    };
    decrypt(&der, password.expose().as_bytes())
        .map(|k| PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(k)))
}

/// PKCS#8 `EncryptedPrivateKeyInfo` DER -> the plain `PrivateKeyInfo` DER.
fn decrypt(der: &[u8], password: &[u8]) -> Result<Vec<u8>, String> {
    let info = match EncryptedPrivateKeyInfo::from_der(der) {
        Ok(info) => info,
        // pkcs5 rejects unknown algorithms while decoding: name what the file asks for.
        Err(_) => return Err(unsupported(der)),
    };
    let Some(params) = info.encryption_algorithm.pbes2() else {
        return Err(format!(
            "the private key is encrypted with PBES1 ({}), which is not supported: {CONVERT}",
            name(&info.encryption_algorithm.oid())
        ));
    };
    check_cost(&params.kdf)?;
    let plain = info
        .encryption_algorithm
        .decrypt(password, info.encrypted_data)
        .map_err(|e| match e {
            // pkcs5 0.7 reports a bad CBC padding (the usual wrong password) as EncryptFailed.
            pkcs5::Error::DecryptFailed | pkcs5::Error::EncryptFailed => wrong_password(),
            pkcs5::Error::UnsupportedAlgorithm { oid }
            | pkcs5::Error::AlgorithmParametersInvalid { oid } => {
                format!(
                    "the private key is encrypted with {}, which is not supported: {CONVERT}",
                    name(&oid)
                )
            }
            other => format!("the private key cannot be decrypted: {other}"),
        })?;
    // A wrong password still passes the CBC padding check about once in 256 tries: only a
    // PrivateKeyInfo that parses proves the password right.
    if PrivateKeyInfo::from_der(&plain).is_err() {
        return Err(wrong_password());
    }
    Ok(plain)
}

fn wrong_password() -> String {
    "tlsCertificateKeyFilePassword does not decrypt the private key: check the password (MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD[_FILE])".into()
}

fn check_cost(kdf: &Kdf<'_>) -> Result<(), String> {
    match kdf {
        Kdf::Pbkdf2(p) if p.iteration_count > MAX_PBKDF2_ROUNDS => Err(format!(
            "the private key asks for {} PBKDF2 rounds, more than the {MAX_PBKDF2_ROUNDS} we allow: re-encrypt it ({CONVERT})",
            p.iteration_count
        )),
        Kdf::Scrypt(p) => {
            let memory = p
                .cost_parameter
                .saturating_mul(128)
                .saturating_mul(u64::from(p.block_size));
            if memory > MAX_SCRYPT_MEMORY || u32::from(p.parallelization) > MAX_SCRYPT_P {
                Err(format!(
                    "the private key asks for scrypt N={} r={} p={} (more than {} MiB or p>{MAX_SCRYPT_P}): re-encrypt it ({CONVERT})",
                    p.cost_parameter,
                    p.block_size,
                    p.parallelization,
                    MAX_SCRYPT_MEMORY >> 20
                ))
            } else {
                Ok(())
            }
        }
        _ => Ok(()),
    }
}

/// The message for an `EncryptedPrivateKeyInfo` pkcs5 cannot decode: the scheme, the KDF and
/// the cipher it names, as far as they can be read.
fn unsupported(der: &[u8]) -> String {
    match scheme_oids(der) {
        Some(oids) => {
            let names: Vec<String> = oids.iter().map(name).collect();
            format!(
                "the private key is encrypted with {}, which is not supported (PBES2 with PBKDF2 or scrypt and AES-CBC or 3DES is): {CONVERT}",
                names.join(" + ")
            )
        }
        None => "the ENCRYPTED PRIVATE KEY is not valid PKCS#8 DER: re-export it".into(),
    }
}

/// The OIDs of `SEQUENCE { AlgorithmIdentifier, OCTET STRING }`: the scheme and, for PBES2,
/// the KDF (and its PRF) and the cipher.
fn scheme_oids(der: &[u8]) -> Option<Vec<ObjectIdentifier>> {
    use pkcs8::spki::AlgorithmIdentifierRef;
    let outer = SliceReader::new(der)
        .ok()?
        .sequence(|r| {
            let alg = AlgorithmIdentifierRef::decode(r)?;
            let _data = pkcs8::der::asn1::AnyRef::decode(r)?;
            Ok(alg)
        })
        .ok()?;
    let mut oids = vec![outer.oid];
    if outer.oid == pbes2::PBES2_OID {
        let params = outer.parameters?;
        let params = params.to_der().ok()?;
        let (kdf, cipher) = SliceReader::new(&params)
            .ok()?
            .sequence(|r| {
                Ok((
                    AlgorithmIdentifierRef::decode(r)?,
                    AlgorithmIdentifierRef::decode(r)?,
                ))
            })
            .ok()?;
        oids.push(kdf.oid);
        // PBKDF2-params: salt, iterationCount, [keyLength], [prf AlgorithmIdentifier].
        if let Some(prf) = kdf.parameters.and_then(|p| pbkdf2_prf(&p.to_der().ok()?)) {
            oids.push(prf);
        }
        oids.push(cipher.oid);
    }
    Some(oids)
}

fn pbkdf2_prf(der: &[u8]) -> Option<ObjectIdentifier> {
    use pkcs8::der::asn1::AnyRef;
    use pkcs8::spki::AlgorithmIdentifierRef;
    SliceReader::new(der)
        .ok()?
        .sequence(|r| {
            let _salt = AnyRef::decode(r)?;
            let _rounds = u32::decode(r)?;
            let mut prf = None;
            while !r.is_finished() {
                let any = AnyRef::decode(r)?;
                if any.tag() == pkcs8::der::Tag::Sequence {
                    prf = AlgorithmIdentifierRef::from_der(&any.to_der()?)
                        .ok()
                        .map(|a| a.oid);
                }
            }
            Ok(prf)
        })
        .ok()?
}

/// The usual names of the OIDs an encrypted key may carry; the dotted form otherwise.
fn name(oid: &ObjectIdentifier) -> String {
    let known: &[(&str, &str)] = &[
        ("1.2.840.113549.1.5.13", "PBES2"),
        ("1.2.840.113549.1.5.12", "PBKDF2"),
        ("1.3.6.1.4.1.11591.4.11", "scrypt"),
        ("1.2.840.113549.2.7", "hmacWithSHA1"),
        ("1.2.840.113549.2.8", "hmacWithSHA224"),
        ("1.2.840.113549.2.9", "hmacWithSHA256"),
        ("1.2.840.113549.2.10", "hmacWithSHA384"),
        ("1.2.840.113549.2.11", "hmacWithSHA512"),
        ("1.2.840.113549.2.5", "hmacWithMD5"),
        ("2.16.840.1.101.3.4.1.2", "aes-128-cbc"),
        ("2.16.840.1.101.3.4.1.22", "aes-192-cbc"),
        ("2.16.840.1.101.3.4.1.42", "aes-256-cbc"),
        ("2.16.840.1.101.3.4.1.6", "aes-128-gcm"),
        ("2.16.840.1.101.3.4.1.46", "aes-256-gcm"),
        ("1.2.840.113549.3.7", "des-ede3-cbc"),
        ("1.3.14.3.2.7", "des-cbc"),
        ("1.2.392.200011.61.1.1.1.2", "camellia-128-cbc"),
        ("1.2.392.200011.61.1.1.1.4", "camellia-256-cbc"),
        ("1.2.410.200046.1.1.12", "aria-256-cbc"),
        ("1.2.643.7.1.1.4.1", "hmacWithGOST"),
        ("1.2.840.113549.1.5.3", "pbeWithMD5AndDES-CBC"),
        ("1.2.840.113549.1.5.10", "pbeWithSHA1AndDES-CBC"),
        (
            "1.2.840.113549.1.12.1.3",
            "pbeWithSHAAnd3-KeyTripleDES-CBC (PKCS#12)",
        ),
        (
            "1.2.840.113549.1.12.1.6",
            "pbeWithSHAAnd40BitRC2-CBC (PKCS#12)",
        ),
        (
            "1.2.840.113549.1.12.1.1",
            "pbeWithSHAAnd128BitRC4 (PKCS#12)",
        ),
    ];
    let dotted = oid.to_string();
    known
        .iter()
        .find(|(o, _)| *o == dotted)
        .map_or(dotted.clone(), |(_, n)| (*n).to_string())
}

/// The DER of the `ENCRYPTED PRIVATE KEY` section, if the file has one (rustls' PEM reader
/// skips labels it does not know, so this one is cut out and decoded here).
fn encrypted_block(text: &[u8]) -> Result<Option<Vec<u8>>, String> {
    const BEGIN: &[u8] = b"-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &[u8] = b"-----END ENCRYPTED PRIVATE KEY-----";
    let Some(start) = find(text, BEGIN) else {
        return Ok(None);
    };
    let end = find(&text[start..], END)
        .map(|i| start + i + END.len())
        .ok_or("the ENCRYPTED PRIVATE KEY has no END line")?;
    let (_, der) = pkcs8::der::pem::decode_vec(&text[start..end])
        .map_err(|e| format!("the ENCRYPTED PRIVATE KEY is not valid PEM: {e}"))?;
    Ok(Some(der))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
