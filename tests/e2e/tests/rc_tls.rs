//! rc-bootstrap and rc-probe over https: rc-sim behind its TLS front with a certificate from
//! a private CA generated here. `--ca-file` (and ROCKETCHAT_CA_FILE) adds that CA to the
//! bundled roots; without it, or with another CA, the run is refused for good (exit 3) with
//! the certificate problem named, not retried as "not answering".

use e2e::rc::*;
use e2e::tls::Pki;
use std::time::{Duration, Instant};

fn https_sim(cert: &std::path::Path) -> (Sim, String) {
    let sim = Sim::start(&["--tls-cert-key-file", cert.to_str().unwrap()]);
    let url = format!("https://localhost:{}", sim.port);
    (sim, url)
}

#[test]
fn a_private_ca_makes_both_binaries_work_over_https() {
    let pki = Pki::new("rc-https");
    let (_sim, url) = https_sim(&pki.server);
    let env = env(&url);
    let ca = pki.ca.pem.to_str().unwrap();
    let r = bootstrap(&env, &["--ca-file", ca]);
    r.exits(0);
    let r = probe(&env, &["--ca-file", ca, "--no-token-cache"]);
    r.exits(0).stdout_starts("rc-probe: ok");
    // The environment twin.
    let mut with_env = env.clone();
    with_env.push(("ROCKETCHAT_CA_FILE".into(), ca.into()));
    let r = probe(&with_env, &["--no-token-cache"]);
    r.exits(0);
}

#[test]
fn an_unknown_ca_is_refused_for_good_and_named() {
    let pki = Pki::new("rc-unknown");
    let (_sim, url) = https_sim(&pki.unknown_ca);
    let env = env(&url);
    let start = Instant::now();
    let r = bootstrap(
        &env,
        &[
            "--ca-file",
            pki.ca.pem.to_str().unwrap(),
            "--timeout",
            "20s",
        ],
    );
    r.exits(3);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "not retried: {r:?}"
    );
    r.stderr_has("unknown issuer");
    // Without --ca-file the bundled public roots do not know a private CA either.
    let (_sim2, url2) = https_sim(&pki.server);
    let r = probe(&e2e::rc::env(&url2), &["--no-token-cache"]);
    r.exits(3).stderr_has("--ca-file");
}

#[test]
fn a_hostname_mismatch_is_named() {
    let pki = Pki::new("rc-mismatch");
    let (_sim, url) = https_sim(&pki.wrong_name);
    let r = probe(
        &env(&url),
        &[
            "--ca-file",
            pki.ca.pem.to_str().unwrap(),
            "--no-token-cache",
        ],
    );
    r.exits(3).stderr_has("hostname mismatch");
}

#[test]
fn an_unusable_ca_file_is_a_usage_error() {
    let pki = Pki::new("rc-bad-ca");
    let junk = pki.dir.join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let env = env("https://localhost:1");
    for bin_run in [bootstrap, probe] {
        let r = bin_run(&env, &["--ca-file", junk.to_str().unwrap()]);
        r.exits(2).stderr_has("no CERTIFICATE");
    }
}
