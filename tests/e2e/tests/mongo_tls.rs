//! The mongo pair over TLS against mongo-sim serving TLS with certificates generated here:
//! trusted private CA, unknown CA / hostname mismatch / expired (exit 3, the problem named,
//! not retried), tlsAllowInvalidHostnames, the MONGO_TLS_* twins, MONGODB-X509 with a client
//! certificate, and SCRAM-SHA-1 chosen by saslSupportedMechs negotiation.

// A glob: tests added on other branches may use any helper (last_line, ...).
use e2e::mongo::*;
use e2e::tls::{Pki, CLIENT_SUBJECT};
use std::time::{Duration, Instant};

/// mongod 7.0.6+ will not serve TLS without a CA file: unless the test gives its own, the
/// sim trusts the test CA for client certificates and lets clients without one in (the real
/// set-up: --tlsCAFile … --tlsAllowConnectionsWithoutCertificates).
fn tls_sim(pki: &Pki, cert: &std::path::Path, extra: &[&str]) -> Sim {
    let mut args = vec!["--tls-cert-key-file", cert.to_str().unwrap()];
    if !extra.contains(&"--tls-ca-file") {
        args.extend([
            "--tls-ca-file",
            pki.ca.pem.to_str().unwrap(),
            "--tls-allow-connections-without-certificates",
        ]);
    }
    args.extend_from_slice(extra);
    Sim::set(1, &args)
}

fn tls_uri(sim: &Sim, pki: &Pki, extra: &str) -> String {
    format!(
        "mongodb://{}/?replicaSet=rs0&tls=true&tlsCAFile={}{extra}",
        sim.members[0],
        pki.ca.pem.display()
    )
}

#[test]
fn a_private_ca_is_trusted_and_the_pair_works_over_tls() {
    let pki = Pki::new("trusted");
    let mut sim = tls_sim(&pki, &pki.server, &[]);
    let uri = tls_uri(&sim, &pki, "");
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(0);
    let p = probe(&["--uri", &uri]);
    p.exits(0).stdout_has("is PRIMARY of rs0, writable");
    // The environment twins instead of URI options.
    let plain = format!("mongodb://{}/?replicaSet=rs0", sim.members[0]);
    let ca = pki.ca.pem.to_str().unwrap();
    let p = probe_env(&["--uri", &plain], &[("MONGO_TLS_CA_FILE", ca)]);
    p.exits(0);
    // Without TLS the TLS-only member closes the connection: retryable, like mongod.
    let p = probe(&["--uri", &plain, "--timeout", "500ms"]);
    p.exits(1);
    assert!(
        sim.count("The server is configured to only allow SSL connections") >= 1,
        "mongod's requireTLS refusal logged"
    );
    assert!(sim.count("\"ssl\":\"on\"") >= 1);
}

#[test]
fn an_unknown_ca_is_final_and_named() {
    let pki = Pki::new("unknown-ca");
    let sim = tls_sim(&pki, &pki.unknown_ca, &[]);
    let uri = tls_uri(&sim, &pki, "");
    let start = Instant::now();
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(3);
    assert!(start.elapsed() < Duration::from_secs(10), "not retried");
    r.line_has("unknown issuer").line_has("tlsCAFile");
    let p = probe(&["--uri", &uri]);
    p.exits(3).line_has("unknown issuer");
    // The bundled public roots do not know a private CA either.
    let public = format!("mongodb://{}/?tls=true", sim.members[0]);
    let p = probe(&["--uri", &public]);
    p.exits(3).line_has("unknown issuer");
}

#[test]
fn a_hostname_mismatch_is_final_unless_allowed_loudly() {
    let pki = Pki::new("mismatch");
    let sim = tls_sim(&pki, &pki.wrong_name, &[]);
    let uri = tls_uri(&sim, &pki, "");
    let p = probe(&["--uri", &uri]);
    p.exits(3).line_has("hostname mismatch");
    let allowed = tls_uri(&sim, &pki, "&tlsAllowInvalidHostnames=true");
    let r = init(&["--uri", &allowed, "--timeout", "20s"]);
    r.exits(0).stderr_has("WARNING: tlsAllowInvalidHostnames");
    // The chain is still checked with the name check off: another CA (same name, other key)
    // is refused.
    let other = Pki::new("mismatch-other");
    let wrong_ca = format!(
        "mongodb://{}/?tlsCAFile={}&tlsAllowInvalidHostnames=true",
        sim.members[0],
        other.ca.pem.display()
    );
    let p = probe(&["--uri", &wrong_ca]);
    p.exits(3).line_has("bad signature");
    // tlsInsecure through its twin: nothing verified, one warning line.
    let p = probe_env(
        &["--uri", &format!("mongodb://{}/?tls=true", sim.members[0])],
        &[("MONGO_TLS_INSECURE", "true")],
    );
    p.exits(0).stderr_has("NOT verified");
}

#[test]
fn an_expired_certificate_is_named() {
    let pki = Pki::new("expired");
    let sim = tls_sim(&pki, &pki.expired, &[]);
    let p = probe(&["--uri", &tls_uri(&sim, &pki, "")]);
    p.exits(3).line_has("expired");
}

#[test]
fn tls_against_a_plain_server_is_final() {
    let sim = Sim::set(1, &[]);
    let uri = format!("mongodb://{}/?tls=true", sim.members[0]);
    let p = probe(&["--uri", &uri]);
    p.exits(3).line_has("TLS");
}

#[test]
fn usage_errors_of_the_tls_options() {
    for (uri, want) in [
        ("mongodb://h/?tls=true&ssl=false", "disagree"),
        ("mongodb://h/?tls=false&tlsCAFile=/x.pem", "contradicts"),
        (
            "mongodb://h/?tlsInsecure=true&tlsAllowInvalidHostnames=true",
            "cannot be combined",
        ),
        ("mongodb://h/?tlsCAFile=/nonexistent/ca.pem", "cannot read"),
        (
            "mongodb://h/?tlsCertificateKeyFilePassword=k3y-s3cret",
            "without tlsCertificateKeyFile",
        ),
    ] {
        let p = probe(&["--uri", uri]);
        p.exits(2).line_has(want).stderr_lacks("k3y-s3cret");
    }
}

#[test]
fn x509_authentication_with_the_client_certificate() {
    let pki = Pki::new("x509");
    let ca = pki.ca.pem.to_str().unwrap();
    let mut sim = tls_sim(
        &pki,
        &pki.server,
        &["--tls-ca-file", ca, "--auth", "--x509-user", CLIENT_SUBJECT],
    );
    let uri = tls_uri(
        &sim,
        &pki,
        &format!(
            "&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}",
            pki.client.display()
        ),
    );
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(0);
    assert_eq!(
        sim.count("Successfully authenticated"),
        1,
        "one X.509 login"
    );
    // The client certificate through its twin.
    let bare = tls_uri(&sim, &pki, "&authMechanism=MONGODB-X509");
    let client = pki.client.to_str().unwrap();
    let r = init_env(
        &["--uri", &bare, "--timeout", "20s"],
        &[("MONGO_TLS_CERTIFICATE_KEY_FILE", client)],
    );
    r.exits(0);
    // Without a certificate: as mongod, the member completes the handshake, then logs the
    // refusal and closes; the client names the likely cause, final (exit 3).
    let p = probe(&["--uri", &tls_uri(&sim, &pki, "")]);
    p.exits(3)
        .line_has("right after the TLS handshake")
        .line_has("tlsCertificateKeyFile");
    assert!(
        sim.count("no SSL certificate provided by peer; connection rejected") >= 1,
        "mongod's refusal logged"
    );
    // A certificate the member cannot verify (another CA): refused after the handshake too.
    let stranger = tls_uri(
        &sim,
        &pki,
        &format!("&tlsCertificateKeyFile={}", pki.unknown_ca.display()),
    );
    let p = probe(&["--uri", &stranger]);
    p.exits(3).line_has("may not accept our client certificate");
    assert!(
        sim.count("SSL peer certificate validation failed") >= 1,
        "mongod's refusal logged"
    );
    // X.509 without a certificate configured is a usage error.
    let r = init(&["--uri", &bare, "--timeout", "5s"]);
    r.exits(2).line_has("tlsCertificateKeyFile");
}

#[test]
fn x509_user_unknown_to_the_server_is_refused() {
    let pki = Pki::new("x509-unknown");
    let ca = pki.ca.pem.to_str().unwrap();
    let sim = tls_sim(
        &pki,
        &pki.server,
        &[
            "--tls-ca-file",
            ca,
            "--auth",
            "--x509-user",
            "CN=somebody-else",
        ],
    );
    let uri = tls_uri(
        &sim,
        &pki,
        &format!(
            "&authMechanism=MONGODB-X509&tlsCertificateKeyFile={}",
            pki.client.display()
        ),
    );
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(3);
    // mongod rethrows UserNotFound (11) here, not AuthenticationFailed.
    r.line_has("UserNotFound")
        .line_has(&format!("createUser: \"{CLIENT_SUBJECT}\""));
}

const PASSWORD: &str = "Sha1-0nly-pw";

#[test]
fn scram_sha1_is_negotiated_for_a_sha1_only_user() {
    let user = format!("admin:{PASSWORD}:root");
    let mut sim = Sim::set(
        1,
        &[
            "--auth",
            "--user",
            &user,
            "--user-mechanisms",
            "SCRAM-SHA-1",
        ],
    );
    let uri = format!(
        "mongodb://admin:{PASSWORD}@{}/?replicaSet=rs0",
        sim.members[0]
    );
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(0).lacks(PASSWORD);
    let ok = sim
        .proc
        .drain()
        .iter()
        .filter(|l| l.contains("Authentication succeeded"))
        .cloned()
        .collect::<Vec<_>>();
    assert!(!ok.is_empty(), "authenticated");
    assert!(
        ok.iter()
            .all(|l| l.contains("\"mechanism\":\"SCRAM-SHA-1\"")),
        "{ok:?}"
    );
    // Forcing SCRAM-SHA-256 for that user fails for good (334 MechanismUnavailable).
    let sim = Sim::set(
        1,
        &[
            "--auth",
            "--user",
            &user,
            "--user-mechanisms",
            "SCRAM-SHA-1",
        ],
    );
    let forced = format!(
        "mongodb://admin:{PASSWORD}@{}/?replicaSet=rs0&authMechanism=SCRAM-SHA-256",
        sim.members[0]
    );
    let r = init(&["--uri", &forced, "--timeout", "20s"]);
    r.exits(3).line_has("SCRAM-SHA-256");
}

#[test]
fn scram_sha256_is_preferred_when_offered() {
    let user = format!("admin:{PASSWORD}:root");
    let mut sim = Sim::set(1, &["--auth", "--user", &user]);
    let uri = format!(
        "mongodb://admin:{PASSWORD}@{}/?replicaSet=rs0",
        sim.members[0]
    );
    let r = init(&["--uri", &uri, "--timeout", "20s"]);
    r.exits(0);
    let ok: Vec<String> = sim
        .proc
        .drain()
        .iter()
        .filter(|l| l.contains("Authentication succeeded"))
        .cloned()
        .collect();
    assert!(!ok.is_empty());
    assert!(
        ok.iter()
            .all(|l| l.contains("\"mechanism\":\"SCRAM-SHA-256\"")),
        "{ok:?}"
    );
}
