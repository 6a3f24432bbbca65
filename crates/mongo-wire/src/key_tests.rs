//! Keys made at test time by the real OpenSSL CLI (what operators use), never committed.

use super::*;
use rustls::pki_types::PrivateKeyDer;
use std::path::{Path, PathBuf};
use std::process::Command;

const PASS: &str = "s3cret-key-pass";

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("mongo-wire-key-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }
    fn path(&self, f: &str) -> PathBuf {
        self.0.join(f)
    }
    fn read(&self, f: &str) -> Vec<u8> {
        std::fs::read(self.path(f)).unwrap()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A plain P-256 key (`plain.pem`, PKCS#8) in `d`.
fn plain_key(d: &Dir) -> Vec<u8> {
    openssl(
        &d.0,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "plain.pem",
        ],
    );
    pkcs8_der(&d.read("plain.pem"))
}

fn pkcs8_der(pem: &[u8]) -> Vec<u8> {
    match PrivateKeyDer::from_pem_slice(pem).unwrap() {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        other => panic!("want PKCS#8, got {other:?}"),
    }
}

fn decrypt_file(pem: &[u8], password: &str) -> Result<Vec<u8>, String> {
    private_key(pem, Some(&Secret::new(password))).map(|k| match k {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        other => panic!("want PKCS#8, got {other:?}"),
    })
}

#[test]
fn what_openssl_writes_decrypts_to_the_same_key() {
    let d = Dir::new("schemes");
    let want = plain_key(&d);
    let pass = format!("pass:{PASS}");
    for (file, extra) in [
        // OpenSSL 3's defaults: PBKDF2-HMAC-SHA256 + AES-256-CBC.
        ("v2-aes256.pem", &["-v2", "aes-256-cbc"][..]),
        (
            "v2-aes128-sha1.pem",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"][..],
        ),
        (
            "v2-aes192-sha512.pem",
            &["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA512"][..],
        ),
        ("scrypt.pem", &["-scrypt"][..]),
        // What `openssl req -keyout` writes by default (OpenSSL 3.0).
        ("v2-des3.pem", &["-v2", "des3"][..]),
    ] {
        let mut args = vec![
            "pkcs8",
            "-topk8",
            "-in",
            "plain.pem",
            "-out",
            file,
            "-passout",
            &pass,
        ];
        args.extend_from_slice(extra);
        openssl(&d.0, &args);
        let text = d.read(file);
        assert!(
            find(&text, b"BEGIN ENCRYPTED PRIVATE KEY").is_some(),
            "{file}"
        );
        assert_eq!(decrypt_file(&text, PASS).unwrap(), want, "{file}");
    }
    // `openssl genpkey -aes256`, an RSA key this time.
    openssl(
        &d.0,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-aes256",
            "-pass",
            &pass,
            "-out",
            "rsa.pem",
        ],
    );
    openssl(
        &d.0,
        &[
            "pkey",
            "-in",
            "rsa.pem",
            "-passin",
            &pass,
            "-out",
            "rsa-plain.pem",
        ],
    );
    assert_eq!(
        decrypt_file(&d.read("rsa.pem"), PASS).unwrap(),
        pkcs8_der(&d.read("rsa-plain.pem"))
    );
}

#[test]
fn a_wrong_or_missing_password_is_named_never_shown() {
    let d = Dir::new("wrong");
    plain_key(&d);
    openssl(
        &d.0,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "plain.pem",
            "-out",
            "enc.pem",
            "-passout",
            &format!("pass:{PASS}"),
        ],
    );
    let text = d.read("enc.pem");
    // Many wrong passwords: also those whose garbage happens to pass the CBC padding check.
    for i in 0..300 {
        let wrong = format!("wrong-{i}");
        let e = decrypt_file(&text, &wrong).unwrap_err();
        assert!(
            e.starts_with("tlsCertificateKeyFilePassword does not decrypt"),
            "{e}"
        );
        assert!(!e.contains(&wrong) && !e.contains(PASS), "{e}");
    }
    let e = private_key(&text, None).unwrap_err();
    assert!(
        e.contains("encrypted: give its password in tlsCertificateKeyFilePassword"),
        "{e}"
    );
    // A plain key needs no password, and a given one is ignored (as OpenSSL and pymongo do).
    let plain = d.read("plain.pem");
    assert!(private_key(&plain, None).is_ok());
    assert!(private_key(&plain, Some(&Secret::new("unused"))).is_ok());
}

#[test]
fn what_we_cannot_decrypt_is_named_with_the_conversion() {
    let d = Dir::new("refused");
    plain_key(&d);
    let pass = format!("pass:{PASS}");
    for (file, args, want) in [
        (
            "pbes1.pem",
            &["pkcs8", "-topk8", "-v1", "PBE-SHA1-3DES"][..],
            "pbeWithSHAAnd3-KeyTripleDES-CBC",
        ),
        (
            "camellia.pem",
            &["pkcs8", "-topk8", "-v2", "camellia-256-cbc"][..],
            "PBES2 + PBKDF2 + hmacWithSHA256 + camellia-256-cbc",
        ),
        (
            "legacy.pem",
            &["ec", "-aes256"][..],
            "Proc-Type: 4,ENCRYPTED",
        ),
    ] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["-in", "plain.pem", "-out", file, "-passout", &pass]);
        openssl(&d.0, &a);
        let e = decrypt_file(&d.read(file), PASS).unwrap_err();
        assert!(
            e.contains(want) && e.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc"),
            "{file}: {e}"
        );
        assert!(!e.contains(PASS));
    }
    assert!(private_key(b"not pem", None)
        .unwrap_err()
        .contains("no PRIVATE KEY"));
    let cut = b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n";
    assert!(private_key(cut, None).unwrap_err().contains("no END line"));
}

#[test]
fn a_file_cannot_ask_for_unbounded_work() {
    use pkcs5::pbes2::Parameters;
    let (salt, iv) = ([7u8; 16], [9u8; 16]);
    let too_many = Parameters::pbkdf2_sha256_aes256cbc(MAX_PBKDF2_ROUNDS + 1, &salt, &iv).unwrap();
    let too_big = Parameters::scrypt_aes256cbc(
        pkcs5::scrypt::Params::new(22, 8, 1, 32).unwrap(),
        &salt,
        &iv,
    )
    .unwrap();
    for (params, want) in [(too_many, "PBKDF2 rounds"), (too_big, "scrypt N=4194304")] {
        let info = EncryptedPrivateKeyInfo {
            encryption_algorithm: params.into(),
            encrypted_data: &[0u8; 48],
        };
        let e = decrypt(&info.to_der().unwrap(), PASS.as_bytes()).unwrap_err();
        assert!(e.contains(want) && e.contains("re-encrypt"), "{e}");
    }
}
