//! A client certificate whose key is encrypted (tlsCertificateKeyFilePassword): the key is
//! encrypted at test time by the openssl CLI, as operators do, and the binaries authenticate
//! with it (MONGODB-X509) to mongo-sim verifying client certificates. The password comes from
//! the URI, its env twin or the twin's _FILE, and never shows in the output.

use e2e::mongo::*;
use e2e::tls::{Pki, CLIENT_SUBJECT};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const PASS: &str = "k3y-pass-e2e";

/// `pki.client` with its key encrypted by `openssl pkcs8 -topk8 <scheme>`: the certificate,
/// then the `ENCRYPTED PRIVATE KEY`, in one file (mongod's tlsCertificateKeyFile format).
pub fn encrypted_client(pki: &Pki, file: &str, scheme: &[&str]) -> PathBuf {
    let key = pki.dir.join(format!("{file}.key"));
    let out = Command::new("openssl")
        .args([
            "pkcs8",
            "-topk8",
            "-passout",
            &format!("pass:{PASS}"),
            "-in",
        ])
        .arg(&pki.client)
        .arg("-out")
        .arg(&key)
        .args(scheme)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let both = std::fs::read_to_string(&pki.client).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let cert = &both[..both.find(end).unwrap() + end.len()];
    let key = std::fs::read_to_string(&key).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{key}"
    );
    let path = pki.dir.join(file);
    std::fs::write(&path, format!("{cert}{key}")).unwrap();
    path
}

/// mongo-sim serving TLS, verifying client certificates against the test CA, X.509 auth on.
fn x509_sim(pki: &Pki) -> Sim {
    Sim::set(
        1,
        &[
            "--tls-cert-key-file",
            pki.server.to_str().unwrap(),
            "--tls-ca-file",
            pki.ca.pem.to_str().unwrap(),
            "--auth",
            "--x509-user",
            CLIENT_SUBJECT,
        ],
    )
}

fn x509_uri(sim: &Sim, pki: &Pki, key: &Path, extra: &str) -> String {
    format!(
        "mongodb://{}/?replicaSet=rs0&tls=true&tlsCAFile={}&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}{extra}",
        sim.members[0],
        pki.ca.pem.display(),
        key.display()
    )
}

#[test]
fn an_encrypted_client_key_authenticates_with_its_password() {
    let pki = Pki::new("enckey");
    let key = encrypted_client(&pki, "client-enc.pem", &["-v2", "aes-256-cbc"]);
    let file = secret_file("enckey", PASS);
    let in_uri = format!("&tlsCertificateKeyFilePassword={PASS}");
    let file = file.to_str().unwrap();
    // The password in the URI, in its env twin, in the twin's _FILE (a Docker/Kubernetes
    // secret): each time mongo-rs-init initiates a fresh member, logging in over X.509.
    let mut sim = None;
    for (extra, env) in [
        (&in_uri[..], None),
        ("", Some(("MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD", PASS))),
        (
            "",
            Some(("MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE", file)),
        ),
    ] {
        let mut s = x509_sim(&pki);
        let uri = x509_uri(&s, &pki, &key, extra);
        let env: Vec<_> = env.into_iter().collect();
        init_env(&["--uri", &uri, "--timeout", "20s"], &env)
            .noting(format!("{env:?}"))
            .exits(0)
            .lacks(PASS);
        assert_eq!(
            s.wait_count("Successfully authenticated", 1, Duration::from_secs(5)),
            1,
            "one X.509 login with {env:?}"
        );
        probe_env(&["--uri", &uri], &env)
            .exits(0)
            .stdout_has("is PRIMARY of rs0, writable")
            .lacks(PASS);
        sim = Some(s);
    }
    let sim = sim.unwrap();
    // The member requires a client certificate: without one the probe is refused (exit 3),
    // so each probe below that passes presented the certificate and proved the decrypted key.
    let no_cert = format!(
        "mongodb://{}/?replicaSet=rs0&tls=true&tlsCAFile={}",
        sim.members[0],
        pki.ca.pem.display()
    );
    probe(&["--uri", &no_cert]).exits(3);
    // scrypt, PBKDF2-HMAC-SHA1 (OpenSSL 1.1's default PRF) and 3DES (`openssl req -keyout`'s
    // default in OpenSSL 3.0) keys work the same way.
    for (file, scheme) in [
        ("client-scrypt.pem", &["-scrypt"][..]),
        (
            "client-sha1.pem",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"][..],
        ),
        ("client-des3.pem", &["-v2", "des3"][..]),
    ] {
        let key = encrypted_client(&pki, file, scheme);
        let uri = x509_uri(
            &sim,
            &pki,
            &key,
            &format!("&tlsCertificateKeyFilePassword={PASS}"),
        );
        probe(&["--uri", &uri]).exits(0).lacks(PASS);
    }
}

#[test]
fn a_wrong_or_missing_password_is_a_usage_error_that_never_shows_it() {
    let pki = Pki::new("enckey-wrong");
    let mut sim = x509_sim(&pki);
    let key = encrypted_client(&pki, "client-enc.pem", &["-v2", "aes-256-cbc"]);
    let wrong = "not-the-k3y-pass";
    let uri = x509_uri(
        &sim,
        &pki,
        &key,
        &format!("&tlsCertificateKeyFilePassword={wrong}"),
    );
    for r in [
        probe(&["--uri", &uri]),
        init(&["--uri", &uri, "--timeout", "5s"]),
    ] {
        r.exits(2)
            .one_line()
            .line_has("tlsCertificateKeyFilePassword does not decrypt")
            .line_has("client-enc.pem")
            .lacks(wrong)
            .lacks(PASS);
    }
    let file = secret_file("enckey-wrong", wrong);
    let bare = x509_uri(&sim, &pki, &key, "");
    probe_env(
        &["--uri", &bare],
        &[(
            "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE",
            file.to_str().unwrap(),
        )],
    )
    .exits(2)
    .line_has("does not decrypt")
    .lacks(wrong);
    probe(&["--uri", &bare])
        .exits(2)
        .line_has("encrypted: give its password in tlsCertificateKeyFilePassword");
    // A scheme we do not decrypt is named, with the conversion.
    let camellia = encrypted_client(&pki, "client-camellia.pem", &["-v2", "camellia-256-cbc"]);
    let uri = x509_uri(
        &sim,
        &pki,
        &camellia,
        &format!("&tlsCertificateKeyFilePassword={PASS}"),
    );
    probe(&["--uri", &uri])
        .exits(2)
        .line_has("camellia-256-cbc")
        .line_has("openssl pkcs8 -topk8 -v2 aes-256-cbc")
        .lacks(PASS);
    assert_eq!(
        sim.count("Successfully authenticated"),
        0,
        "nothing got through"
    );
}
