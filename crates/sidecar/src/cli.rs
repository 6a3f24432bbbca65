//! Command-line parsing shared by the binaries: clap renders `--help` and `--version`, but a
//! usage error becomes ONE line (`prog: what is wrong (see --help)`) and exit 2 — the same shape
//! as every other failure, so a HEALTHCHECK log or a Job's events stay readable.
//!
//! The environment follows two rules for every binary, applied here once:
//! * an empty variable is unset (compose writes `VAR=` for a variable set empty in `.env`);
//! * a flag wins over the environment: `--password-file` given on the command line makes the
//!   sibling variable of the same secret (`ROCKETCHAT_PASSWORD` beside
//!   `ROCKETCHAT_PASSWORD_FILE`, `MONGO_PASSWORD` beside `MONGO_PASSWORD_FILE`) count as unset.
//!   Two flags for one thing stay an error.
//!
//! One policy for secrets on the command line, for every binary: a secret VALUE given as a flag
//! (`--password`, `--auth-token`, a webhook URL, a URI with `user:password@`) is accepted, but
//! prints ONE warning line on stderr naming the flag and its `*_FILE` / environment
//! alternative: argv is readable by every user of the host (`ps`, `/proc/PID/cmdline`). Values
//! from the environment or from files print nothing. The warning comes before the run's first
//! line; a run whose configuration is refused (exit 2) prints only its one error line.

use crate::exit::{one_line, Exit};
use crate::report::{printable, Report, Reporter};
use crate::Deadline;
use clap::parser::ValueSource;
use std::ffi::OsString;
use std::sync::Mutex;
use std::time::Duration;

/// The argv warnings of this process, printed by the reporter before its first line.
static PENDING_WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Prints the pending argv warnings once (or drops them: `usage_error`, see the module doc).
pub(crate) fn flush_argv_warnings(usage_error: bool) {
    let pending = std::mem::take(&mut *PENDING_WARNINGS.lock().unwrap_or_else(|p| p.into_inner()));
    if !usage_error {
        for line in pending {
            eprintln!("{line}");
        }
    }
}

/// The shared flags' values (see [`crate::common_flags!`]).
#[derive(Debug, Clone, Copy)]
pub struct Common {
    pub timeout: Duration,
    pub json: bool,
}

/// What every binary's arguments carry: the overall deadline and the output format.
pub trait CommonArgs {
    /// `--timeout` and `--json`, flattened from [`crate::common_flags!`].
    fn common(&self) -> Common;
    /// Whether the whole run ends by `timeout()` (every one-shot welder and probe). A loop that
    /// gives each pass its own deadline (mongo-rs-follow) says no and arms a watchdog per pass.
    fn whole_run_has_deadline(&self) -> bool {
        true
    }
}

/// The frame of every binary's `main`: parse `argv`, start ONE deadline, run `body`, print ONE
/// final report (text line or `--json` object) and return the exit code. `quiet` drops the
/// progress lines (probes print only their verdict). The watchdog is armed here, before the body
/// runs (and so before any secret file is read): whatever blocks, the run ends by its deadline.
pub fn main<A: clap::Parser + CommonArgs>(
    prog: &'static str,
    quiet: bool,
    argv: impl IntoIterator<Item = OsString>,
    body: impl FnOnce(A, Deadline, Reporter) -> Report,
) -> i32 {
    let args: A = match parse(prog, argv) {
        Ok(args) => args,
        Err(code) => return code,
    };
    let common = args.common();
    let reporter = Reporter {
        prog,
        json: common.json,
        quiet,
    };
    let deadline = Deadline::after(common.timeout);
    let _armed = args
        .whole_run_has_deadline()
        .then(|| crate::watchdog::arm(deadline, reporter));
    let report = body(args, deadline, reporter);
    reporter.finish(&report, deadline.elapsed())
}

/// For the binaries' tests: `A`'s clap definition is consistent and its long help mentions
/// every one of `needles`.
pub fn assert_help_mentions<A: clap::CommandFactory>(needles: &[&str]) {
    A::command().debug_assert();
    let help = A::command().render_long_help().to_string();
    let missing: Vec<&&str> = needles.iter().filter(|n| !help.contains(**n)).collect();
    assert!(missing.is_empty(), "--help lacks {missing:?}");
}

/// Parses `argv` into `A`. `Err(code)` means: already printed, exit with `code`
/// (0 after `--help`/`--version`, 2 after a usage error).
pub fn parse<A: clap::Parser>(
    prog: &str,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<A, i32> {
    try_parse(prog, argv).map_err(|(code, text)| {
        if code == Exit::Ok.code() {
            print!("{text}");
        } else {
            eprintln!("{text}");
        }
        code
    })
}

/// [`parse`] without printing: `Err((code, text))` with the help text (code 0) or the usage
/// line (code 2), both already redacted.
pub fn try_parse<A: clap::Parser>(
    prog: &str,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<A, (i32, String)> {
    let argv: Vec<OsString> = argv.into_iter().collect();
    // A `user:password@` in an argument is masked wherever clap or a parser echoes it.
    for arg in &argv {
        crate::redact::register_userinfo(&arg.to_string_lossy());
    }
    apply_env_rules::<A>(&argv);
    let parsed = A::try_parse_from(&argv);
    if parsed.is_ok() {
        let warnings = argv_secret_warnings(prog, &A::command(), &argv);
        *PENDING_WARNINGS.lock().unwrap_or_else(|p| p.into_inner()) = warnings;
    }
    parsed.map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            return (
                Exit::Ok.code(),
                crate::redact::mask(&e.render().to_string()),
            );
        }
        (Exit::Usage.code(), usage_line(prog, &e.to_string()))
    })
}

/// The other name of the same secret: `X_FILE` for `X`, `X` for `X_FILE`.
fn sibling(env: &str) -> String {
    env.strip_suffix("_FILE")
        .map(str::to_string)
        .unwrap_or_else(|| format!("{env}_FILE"))
}

/// Empty variables are unset; a flag given on the command line unsets its sibling variable.
fn apply_env_rules<A: clap::Parser>(argv: &[OsString]) {
    let names: Vec<String> = A::command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect();
    for name in names.iter().flat_map(|n| [n.clone(), sibling(n)]) {
        match std::env::var(&name) {
            Ok(v) if v.is_empty() => std::env::remove_var(&name),
            Ok(v) => crate::redact::register_userinfo(&v),
            Err(_) => {}
        }
    }
    // clap reads an env value when the Arg is built: build the command again.
    let command = A::command();
    let Ok(matches) = command.clone().try_get_matches_from(argv) else {
        return; // the real parse reports the error
    };
    for arg in command.get_arguments() {
        let (Some(env), id) = (arg.get_env(), arg.get_id().as_str()) else {
            continue;
        };
        if matches!(matches.value_source(id), Some(ValueSource::CommandLine)) {
            std::env::remove_var(sibling(&env.to_string_lossy()));
        }
    }
}

/// The warnings of the secret-in-argv policy (module doc): one line per secret flag given on
/// the command line. A secret flag is one whose variable `X` has a `X_FILE` twin among the
/// flags; any other flag whose command-line value holds `user:password@` is one too.
fn argv_secret_warnings(prog: &str, command: &clap::Command, argv: &[OsString]) -> Vec<String> {
    let Ok(matches) = command.clone().try_get_matches_from(argv) else {
        return Vec::new();
    };
    let env_of = |a: &clap::Arg| a.get_env().map(|e| e.to_string_lossy().into_owned());
    let envs: Vec<String> = command.get_arguments().filter_map(env_of).collect();
    let file_flag = |env: &str| {
        command
            .get_arguments()
            .find(|a| env_of(a).as_deref() == Some(&format!("{env}_FILE")))
            .and_then(|a| a.get_long().map(str::to_string))
    };
    let mut out = Vec::new();
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if !matches!(matches.value_source(id), Some(ValueSource::CommandLine)) {
            continue;
        }
        let (Some(long), Some(env)) = (arg.get_long(), env_of(arg)) else {
            continue;
        };
        let twin = format!("{env}_FILE");
        if envs.contains(&twin) {
            let file = file_flag(&env)
                .map(|f| format!("--{f} / "))
                .unwrap_or_default();
            out.push(format!(
                "{prog}: warning: --{long} given on the command line, which every user of this host can read (ps, /proc): prefer {file}{twin} (a secret file) or {env}"
            ));
            continue;
        }
        let with_password = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .any(|v| crate::redact::has_password(&v.to_string_lossy()));
        if with_password {
            out.push(format!(
                "{prog}: warning: --{long} holds a password on the command line, which every user of this host can read (ps, /proc): set {env} instead"
            ));
        }
    }
    out
}

/// clap's message spans lines (e.g. the missing flag on the next one) up to a blank line
/// before "Usage:": keep that part, as one line.
fn usage_line(prog: &str, clap_text: &str) -> String {
    let head: Vec<&str> = clap_text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .collect();
    format!(
        "{prog}: {} (see --help)",
        printable(&one_line(head.join(" ").trim_start_matches("error: ")))
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_errors_become_one_line() {
        let text = "error: the following required arguments were not provided:\n  --room <ROOM>\n\nUsage: rc-probe --room <ROOM>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_line("rc-probe", text),
            "rc-probe: the following required arguments were not provided: --room <ROOM> (see --help)"
        );
    }

    #[derive(clap::Parser, Debug)]
    struct Demo {
        #[arg(long, value_parser = crate::duration::parse_timeout)]
        timeout: std::time::Duration,
    }

    impl CommonArgs for Demo {
        fn common(&self) -> Common {
            Common {
                timeout: self.timeout,
                json: true,
            }
        }
    }

    #[test]
    fn main_runs_the_body_under_the_given_deadline_and_returns_its_exit_code() {
        let code = main(
            "demo",
            true,
            ["demo", "--timeout", "3s"].map(OsString::from),
            |args: Demo, deadline, reporter| {
                assert_eq!(args.timeout, std::time::Duration::from_secs(3));
                assert_eq!(deadline.budget(), std::time::Duration::from_secs(3));
                assert!(reporter.json && reporter.quiet);
                crate::Failure::refused("no").into()
            },
        );
        assert_eq!(code, 3);
        let usage = main(
            "demo",
            true,
            ["demo"].map(OsString::from),
            |_: Demo, _, _| -> Report { unreachable!("a usage error never reaches the body") },
        );
        assert_eq!(usage, 2);
    }

    #[derive(clap::Parser, Debug)]
    struct EnvDemo {
        #[arg(long, env = "SIDECAR_TEST_PW", hide_env_values = true)]
        password: Option<String>,
        #[arg(long, env = "SIDECAR_TEST_PW_FILE")]
        password_file: Option<String>,
        #[arg(long, env = "SIDECAR_TEST_FLAG", value_parser = clap::builder::BoolishValueParser::new())]
        flag: bool,
        #[arg(long, env = "SIDECAR_TEST_URL", hide_env_values = true)]
        url: Option<String>,
    }

    #[test]
    fn empty_env_is_unset_and_flags_win_over_env() {
        std::env::set_var("SIDECAR_TEST_FLAG", "");
        std::env::set_var("SIDECAR_TEST_PW", "Zq-env-pw");
        let a: EnvDemo = parse("demo", ["demo", "--password-file", "f"].map(OsString::from))
            .expect("an empty boolean variable is unset");
        assert!(!a.flag);
        assert_eq!(
            a.password, None,
            "the flag for the same secret wins over the env"
        );
        assert_eq!(a.password_file.as_deref(), Some("f"));
        std::env::set_var("SIDECAR_TEST_PW", "");
        let b: EnvDemo = parse("demo", ["demo"].map(OsString::from)).unwrap();
        assert_eq!(b.password, None);
        // Two flags for one thing are still given both (secret::resolve refuses them).
        let c: EnvDemo = parse(
            "demo",
            ["demo", "--password", "x", "--password-file", "f"].map(OsString::from),
        )
        .unwrap();
        assert!(c.password.is_some() && c.password_file.is_some());
        std::env::remove_var("SIDECAR_TEST_FLAG");
    }

    #[test]
    fn help_and_usage_errors_never_show_a_password() {
        std::env::set_var("SIDECAR_TEST_URL", "http://u:Zq-help-pw@rc");
        let (code, help) =
            try_parse::<EnvDemo>("demo", ["demo", "--help"].map(OsString::from)).unwrap_err();
        assert_eq!(code, 0);
        assert!(!help.contains("Zq-help-pw"), "{help}");
        std::env::remove_var("SIDECAR_TEST_URL");
        let (code, line) = try_parse::<EnvDemo>(
            "demo",
            ["demo", "mongodb:/u:Zq-pos-pw@h"].map(OsString::from),
        )
        .unwrap_err();
        assert_eq!(code, 2);
        assert!(
            !line.contains("Zq-pos-pw") && line.contains("u:***@h"),
            "{line}"
        );
    }

    crate::common_flags!(
        DemoCommon,
        prefix = "SIDECAR_TEST_DEMO",
        timeout = "7s",
        timeout_help = "Overall deadline.",
        json_help = "One JSON object."
    );
    crate::secret_flags!(
        DemoToken { token, token_file },
        long = "token",
        env = "SIDECAR_TEST_DEMO_TOKEN",
        help = "The token",
        file_help = "File holding the token"
    );

    #[derive(clap::Parser, Debug)]
    struct Flattened {
        #[command(flatten)]
        common: DemoCommon,
        #[command(flatten)]
        token: DemoToken,
        #[arg(long, env = "SIDECAR_TEST_DEMO_URL")]
        url: Option<String>,
        #[arg(long, env = "SIDECAR_TEST_DEMO_NAME")]
        name: Option<String>,
    }

    #[test]
    fn shared_flags_have_their_prefixed_env_twins() {
        let help = Flattened::command().render_long_help().to_string();
        for env in [
            "SIDECAR_TEST_DEMO_TIMEOUT",
            "SIDECAR_TEST_DEMO_JSON",
            "SIDECAR_TEST_DEMO_TOKEN",
            "SIDECAR_TEST_DEMO_TOKEN_FILE",
        ] {
            assert!(
                help.contains(&format!("[env: {env}")),
                "{env} missing: {help}"
            );
        }
        assert!(help.contains("--token-file") && help.contains("[default: 7s]"));
        let a: Flattened = parse("demo", ["demo"].map(OsString::from)).unwrap();
        assert_eq!(a.common.get().timeout, Duration::from_secs(7));
        assert!(!a.common.json);
        std::env::set_var("SIDECAR_TEST_DEMO_JSON", "yes");
        std::env::set_var("SIDECAR_TEST_DEMO_TIMEOUT", "2s");
        let b: Flattened = parse("demo", ["demo"].map(OsString::from)).unwrap();
        assert!(b.common.get().json);
        assert_eq!(b.common.timeout, Duration::from_secs(2));
        let c: Flattened = parse("demo", ["demo", "--timeout", "3s"].map(OsString::from)).unwrap();
        assert_eq!(c.common.timeout, Duration::from_secs(3), "the flag wins");
        std::env::remove_var("SIDECAR_TEST_DEMO_JSON");
        std::env::remove_var("SIDECAR_TEST_DEMO_TIMEOUT");
        let d: Flattened =
            parse("demo", ["demo", "--token", "Zq-tok"].map(OsString::from)).unwrap();
        assert_eq!(d.token.resolve().unwrap().unwrap().expose(), "Zq-tok");
        assert_eq!(
            DemoToken::WHAT,
            "--token / --token-file (SIDECAR_TEST_DEMO_TOKEN[_FILE])"
        );
    }

    #[test]
    fn a_secret_in_argv_warns_once_naming_the_flag_and_the_file_alternative() {
        let warn = |argv: &[&str]| {
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            argv_secret_warnings("demo", &Flattened::command(), &argv)
        };
        let w = warn(&[
            "demo",
            "--token",
            "Zq-argv-tok",
            "--name",
            "boss@example.com",
        ]);
        assert_eq!(
            w,
            vec!["demo: warning: --token given on the command line, which every user of this host can read (ps, /proc): prefer --token-file / SIDECAR_TEST_DEMO_TOKEN_FILE (a secret file) or SIDECAR_TEST_DEMO_TOKEN".to_string()],
            "one line for the secret; an email is no password"
        );
        assert!(!w[0].contains("Zq-argv-tok"));
        let w = warn(&["demo", "--url", "mongodb://root:Zq-uri-pw@db"]);
        assert_eq!(w.len(), 1);
        assert!(
            w[0].contains("--url holds a password") && w[0].contains("set SIDECAR_TEST_DEMO_URL"),
            "{}",
            w[0]
        );
        assert!(!w[0].contains("Zq-uri-pw"));
        assert!(warn(&["demo", "--url", "mongodb://root@db", "--token-file", "f"]).is_empty());
        std::env::set_var("SIDECAR_TEST_DEMO_TOKEN", "Zq-env-tok");
        assert!(
            warn(&["demo"]).is_empty(),
            "a value from the environment is fine"
        );
        std::env::remove_var("SIDECAR_TEST_DEMO_TOKEN");
    }

    #[test]
    fn parses_or_reports_usage() {
        let ok: Demo = parse("demo", ["demo", "--timeout", "2s"].map(OsString::from)).unwrap();
        assert_eq!(ok.timeout, std::time::Duration::from_secs(2));
        assert_eq!(
            parse::<Demo>("demo", ["demo", "--timeout", "0s"].map(OsString::from)).unwrap_err(),
            2
        );
        assert_eq!(
            parse::<Demo>("demo", ["demo", "--bogus"].map(OsString::from)).unwrap_err(),
            2
        );
    }
}
