//! The clap flags keep the hand-written parser's names, forms and meanings.

use super::*;

#[test]
fn flags_keep_their_names_and_forms() {
    let a = |v: &[&str]| {
        let args: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        parse_args(&args, HashMap::new())
    };
    // `--flag=value` and `--flag value`; a repeated flag keeps its last value; --setting adds up;
    // a value may start with '-' as with the hand-written parser.
    let c = a(&[
        "--port=5",
        "--bind",
        "0.0.0.0",
        "--version=8.1",
        "--root-url",
        "https://chat.example",
        "--listen-delay",
        "1s",
        "--admin-delay=2",
        "--setting",
        "A=1",
        "--setting=B=-2",
        "--rate-limit-calls",
        "7",
        "--rate-limit-window",
        "1m",
        "--tls-cert-key-file",
        "/x.pem",
        "--port",
        "6",
    ])
    .unwrap();
    assert_eq!(
        (c.port, c.bind.as_str(), c.version),
        (6, "0.0.0.0", Version::V8_1)
    );
    assert_eq!(c.root_url.as_deref(), Some("https://chat.example"));
    assert_eq!(
        (c.listen_delay, c.admin_delay),
        (Duration::from_secs(1), Duration::from_secs(2))
    );
    assert_eq!(
        c.settings,
        vec![("A".into(), "1".into()), ("B".into(), "-2".into())]
    );
    assert_eq!(c.rate_limit_calls, Some(7));
    assert_eq!(c.rate_limit_window, Some(Duration::from_secs(60)));
    assert_eq!(
        c.tls_cert_key_file.as_deref(),
        Some(std::path::Path::new("/x.pem"))
    );
    // Defaults.
    let c = a(&["--port", "0"]).unwrap();
    assert_eq!(
        (
            c.bind.as_str(),
            c.version,
            c.listen_delay,
            c.rate_limit_calls
        ),
        ("127.0.0.1", Version::V7_10, Duration::ZERO, None)
    );
    // Errors are one line naming the flag.
    for (args, want) in [
        (&["--port", "x"][..], "--port 'x' is not a port number"),
        (
            &["--port", "0", "--rate-limit-calls", "many"],
            "--rate-limit-calls 'many'",
        ),
        (
            &["--port", "0", "--listen-delay", "soon"],
            // sims/sim-util's wording, the same as the shipped sidecars'.
            "invalid duration \"soon\"",
        ),
        (
            &["--port", "0", "--script-timeout", "0s"],
            "--script-timeout must be greater than 0",
        ),
        (&["--port", "0", "--bogus", "1"], "'--bogus'"),
        (&["--port"], "--port"),
    ] {
        let e = a(args).unwrap_err();
        assert!(e.contains(want) && !e.contains('\n'), "{args:?}: {e}");
    }
}
