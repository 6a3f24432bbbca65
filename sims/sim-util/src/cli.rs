//! clap for the emulators, with the project's usage-error shape: one line naming what is wrong
//! (clap's own report spans a paragraph, a tip and the usage), exit code 2 for the caller.

use clap::error::ErrorKind;
use clap::Parser;

/// What argv asked for.
#[derive(Debug)]
pub enum Parsed<T> {
    Run(T),
    /// `-h`/`--help`: clap's rendered help, to print on stdout and exit 0.
    Help(String),
}

/// Parses `args` (without the program name) into `T`; a usage error is one line ending in
/// "; see --help".
pub fn parse<T: Parser>(name: &str, args: &[String]) -> Result<Parsed<T>, String> {
    let argv = std::iter::once(name.to_string()).chain(args.iter().cloned());
    match T::try_parse_from(argv) {
        Ok(t) => Ok(Parsed::Run(t)),
        Err(e) if e.kind() == ErrorKind::DisplayHelp => Ok(Parsed::Help(e.to_string())),
        Err(e) => Err(one_line(&e.render().to_string())),
    }
}

/// clap's report up to its first blank line (the problem and the arguments it names), on one
/// line: `error: the following required arguments were not provided:\n  --ca-out <PATH>` becomes
/// `the following required arguments were not provided: --ca-out <PATH>; see --help`.
fn one_line(report: &str) -> String {
    let head: Vec<&str> = report
        .lines()
        .map(str::trim)
        .take_while(|l| !l.is_empty())
        .collect();
    let text = head.join(" ");
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    format!("{text}; see --help")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Parser, Debug)]
    struct Demo {
        #[arg(long, value_name = "PATH")]
        out: String,
        #[arg(long, value_parser = crate::parse_duration)]
        delay: Option<std::time::Duration>,
    }

    fn run(args: &[&str]) -> Result<Parsed<Demo>, String> {
        parse::<Demo>(
            "demo",
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn errors_are_one_line_naming_the_argument() {
        for (args, needle) in [
            (&[][..], "--out <PATH>"),
            (&["--out", "x", "--bogus"][..], "'--bogus'"),
            (&["--out", "x", "--delay", "soon"][..], "e.g. 500ms"),
            (&["--out"][..], "--out <PATH>"),
        ] {
            let e = run(args).unwrap_err();
            assert!(e.contains(needle) && !e.contains('\n'), "{args:?}: {e}");
            assert!(
                e.ends_with("; see --help") && !e.starts_with("error"),
                "{e}"
            );
        }
    }

    #[test]
    fn help_and_values() {
        assert!(matches!(run(&["--help"]), Ok(Parsed::Help(h)) if h.contains("--delay")));
        let Ok(Parsed::Run(d)) = run(&["--out=x", "--delay", "2"]) else {
            panic!("parses")
        };
        assert_eq!(
            (d.out.as_str(), d.delay),
            ("x", Some(std::time::Duration::from_secs(2)))
        );
    }
}
