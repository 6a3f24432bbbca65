//! What a run prints. Progress goes to stderr as `prog: …` lines; the result is ONE line (or,
//! with `--json`, one JSON object on stdout) so that `docker inspect`'s health log, kubectl
//! events and scripts all read the same thing.

use crate::exit::one_line;
use crate::{duration, Exit, Failure};
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set by the first final report: the watchdog and the main thread may race to report.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// The result of a run: exit code, one-line reason, and fields for `--json` (e.g. `state`).
#[derive(Debug, Clone)]
pub struct Report {
    pub exit: Exit,
    pub reason: String,
    pub fields: Map<String, Value>,
}

impl Report {
    pub fn ok(reason: impl Into<String>) -> Self {
        Report {
            exit: Exit::Ok,
            reason: one_line(&reason.into()),
            fields: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.to_string(), value.into());
        self
    }
}

impl From<Failure> for Report {
    fn from(f: Failure) -> Self {
        Report {
            exit: f.exit,
            reason: f.message,
            fields: Map::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Reporter {
    pub prog: &'static str,
    pub json: bool,
    pub quiet: bool,
}

impl Reporter {
    /// A progress line on stderr (suppressed by `quiet`); never the final result.
    pub fn progress(&self, message: impl AsRef<str>) {
        if !self.quiet {
            crate::cli::flush_argv_warnings(false);
            let _ = writeln!(
                std::io::stderr(),
                "{}: {}",
                self.prog,
                printable(message.as_ref())
            );
        }
    }

    /// Prints the final result once per process and returns the exit code.
    pub fn finish(&self, report: &Report, elapsed: Duration) -> i32 {
        if REPORTED.swap(true, Ordering::SeqCst) {
            return report.exit.code();
        }
        crate::cli::flush_argv_warnings(report.exit == Exit::Usage);
        let line = self.render(report, elapsed);
        if self.json || report.exit == Exit::Ok {
            let _ = writeln!(std::io::stdout(), "{line}");
        } else {
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        report.exit.code()
    }

    pub fn render(&self, report: &Report, elapsed: Duration) -> String {
        if !self.json {
            return format!("{}: {}", self.prog, printable(&report.reason));
        }
        let mut object = Map::new();
        object.insert("ok".into(), (report.exit == Exit::Ok).into());
        object.insert("exit".into(), report.exit.code().into());
        object.insert("status".into(), report.exit.name().into());
        object.insert("reason".into(), report.reason.clone().into());
        object.insert("elapsed_ms".into(), (elapsed.as_millis() as u64).into());
        object.insert("elapsed".into(), duration::display(elapsed).into());
        for (key, value) in &report.fields {
            object.insert(key.clone(), value.clone());
        }
        for (key, value) in object.iter_mut() {
            let max = if key == "reason" {
                crate::text::LINE_MAX
            } else {
                crate::text::SERVER_TEXT_MAX
            };
            mask_strings(value, max);
        }
        Value::Object(object).to_string()
    }
}

/// What every printed text goes through: one line, no registered secret nor `user:pw@`
/// password ([`crate::redact`]), control characters escaped, bounded length ([`crate::text`]).
pub fn printable(text: &str) -> String {
    crate::text::cut(
        &crate::text::escape_controls(&crate::redact::mask(&one_line(text))),
        crate::text::LINE_MAX,
    )
}

fn mask_strings(value: &mut Value, max: usize) {
    match value {
        Value::String(s) => {
            let masked =
                crate::text::cut(&crate::text::escape_controls(&crate::redact::mask(s)), max);
            *s = masked;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_strings(v, max)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_strings(v, max)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_prefixed_line() {
        let r = Reporter {
            prog: "probe",
            json: false,
            quiet: true,
        };
        let line = r.render(
            &Failure::unavailable("no\nanswer").into(),
            Duration::from_millis(5),
        );
        assert_eq!(line, "probe: no answer");
    }

    #[test]
    fn registered_secrets_and_control_chars_never_reach_the_output() {
        crate::redact::register("Zq-report-secret");
        for json in [false, true] {
            let r = Reporter {
                prog: "probe",
                json,
                quiet: true,
            };
            let report = Report::from(Failure::refused(format!(
                "server says: \u{1b}[2J 404 /hooks/x/Zq-report-secret {}",
                "A".repeat(10_000)
            )))
            .with("setName", "Zq-report-secret\u{7}");
            let line = r.render(&report, Duration::ZERO);
            assert!(!line.contains("Zq-report-secret"), "{line}");
            assert!(
                !line.contains('\u{1b}') && !line.contains('\u{7}'),
                "{line}"
            );
            assert!(line.len() < 2 * crate::text::LINE_MAX, "{}", line.len());
        }
    }

    #[test]
    fn json_carries_code_reason_elapsed_and_fields() {
        let r = Reporter {
            prog: "probe",
            json: true,
            quiet: true,
        };
        let report = Report::ok("PRIMARY, writable").with("state", "PRIMARY");
        let v: Value =
            serde_json::from_str(&r.render(&report, Duration::from_millis(1500))).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["exit"], 0);
        assert_eq!(v["status"], "ok");
        assert_eq!(v["reason"], "PRIMARY, writable");
        assert_eq!(v["elapsed_ms"], 1500);
        assert_eq!(v["elapsed"], "1.50s");
        assert_eq!(v["state"], "PRIMARY");
    }
}
