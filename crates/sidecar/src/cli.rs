//! Command-line parsing shared by the binaries: clap renders `--help` and `--version`, but a
//! usage error becomes ONE line (`prog: what is wrong (see --help)`) and exit 2 — the same shape
//! as every other failure, so a HEALTHCHECK log or a Job's events stay readable.

use crate::exit::{one_line, Exit};
use crate::report::{Report, Reporter};
use crate::Deadline;
use std::ffi::OsString;
use std::time::Duration;

/// What every binary's arguments carry: the overall deadline and the output format.
pub trait CommonArgs {
    fn timeout(&self) -> Duration;
    fn json(&self) -> bool;
}

/// The frame of every binary's `main`: parse `argv`, start ONE deadline, run `body`, print ONE
/// final report (text line or `--json` object) and return the exit code. `quiet` drops the
/// progress lines (probes print only their verdict).
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
    let report = body(args, deadline, reporter);
    reporter.finish(&report, deadline.elapsed())
}

/// Parses `argv` into `A`. `Err(code)` means: already printed, exit with `code`
/// (0 after `--help`/`--version`, 2 after a usage error).
pub fn parse<A: clap::Parser>(
    prog: &str,
    argv: impl IntoIterator<Item = OsString>,
) -> Result<A, i32> {
    A::try_parse_from(argv).map_err(|e| {
        use clap::error::ErrorKind;
        if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
            let _ = e.print();
            return Exit::Ok.code();
        }
        eprintln!("{}", usage_line(prog, &e.to_string()));
        Exit::Usage.code()
    })
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
        one_line(head.join(" ").trim_start_matches("error: "))
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
