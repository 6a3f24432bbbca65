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

use crate::exit::{one_line, Exit};
use crate::report::{printable, Report, Reporter};
use crate::Deadline;
use clap::parser::ValueSource;
use std::ffi::OsString;
use std::time::Duration;

/// What every binary's arguments carry: the overall deadline and the output format.
pub trait CommonArgs {
    fn timeout(&self) -> Duration;
    fn json(&self) -> bool;
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
    let reporter = Reporter {
        prog,
        json: args.json(),
        quiet,
    };
    let deadline = Deadline::after(args.timeout());
    let _armed = args
        .whole_run_has_deadline()
        .then(|| crate::watchdog::arm(deadline, reporter));
    let report = body(args, deadline, reporter);
    reporter.finish(&report, deadline.elapsed())
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
    A::try_parse_from(argv).map_err(|e| {
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
        fn timeout(&self) -> std::time::Duration {
            self.timeout
        }
        fn json(&self) -> bool {
            true
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
