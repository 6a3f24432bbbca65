//! Fluent assertions on a finished [`Run`]: `r.exits(3).line_has("refused").lacks(SECRET)`.
//!
//! Every assertion, when it fails, panics with the command, its exit code, elapsed time, stdout
//! and stderr (one message says everything a CI log needs), and returns `&Self` for chaining.
//! None can pass vacuously: an empty needle is refused (every string contains ""), `line_has`
//! needs a reason line to exist, `json_*` need stdout to be one JSON value.

use crate::Run;
use serde_json::Value;
use std::time::Duration;

impl Run {
    /// The same run, its failures naming `note` too (the case a loop is at, say).
    pub fn noting(mut self, note: impl std::fmt::Display) -> Run {
        self.note = note.to_string();
        self
    }

    /// Panics with `what` and everything the run printed.
    #[track_caller]
    pub fn fail(&self, what: &str) -> ! {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        panic!(
            "{what}{note}\n  command: {}\n  exit code: {} after {:?}\n  stdout: {:?}\n  stderr: {:?}",
            self.command,
            self.code(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }

    /// Asserts `ok`, else fails with `what` (for the odd check no named assertion covers).
    #[track_caller]
    pub fn check(&self, ok: bool, what: &str) -> &Self {
        if !ok {
            self.fail(what);
        }
        self
    }

    /// The exit code is exactly `code` (-1 when killed by a signal, as [`Run::code`]).
    #[track_caller]
    pub fn exits(&self, code: i32) -> &Self {
        self.check(
            self.code() == code,
            &format!("expected exit code {code}, got {}", self.code()),
        )
    }

    /// The exit code is anything but 0 (a failure of any kind, a signal included).
    #[track_caller]
    pub fn fails(&self) -> &Self {
        self.check(self.code() != 0, "expected a failure, got exit code 0")
    }

    /// stdout contains `needle`.
    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        self.check(
            self.stdout.contains(needed(needle)),
            &format!("stdout lacks {needle:?}"),
        )
    }

    /// stderr contains `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        self.check(
            self.stderr.contains(needed(needle)),
            &format!("stderr lacks {needle:?}"),
        )
    }

    /// stdout does not contain `needle`.
    #[track_caller]
    pub fn stdout_lacks(&self, needle: &str) -> &Self {
        self.check(
            !self.stdout.contains(needed(needle)),
            &format!("stdout contains {needle:?}"),
        )
    }

    /// stderr does not contain `needle`.
    #[track_caller]
    pub fn stderr_lacks(&self, needle: &str) -> &Self {
        self.check(
            !self.stderr.contains(needed(needle)),
            &format!("stderr contains {needle:?}"),
        )
    }

    /// Neither stdout nor stderr contains `needle` (a secret, typically).
    #[track_caller]
    pub fn lacks(&self, needle: &str) -> &Self {
        self.stdout_lacks(needle).stderr_lacks(needle)
    }

    /// stdout starts with `prefix`.
    #[track_caller]
    pub fn stdout_starts(&self, prefix: &str) -> &Self {
        self.check(
            self.stdout.starts_with(needed(prefix)),
            &format!("stdout does not start with {prefix:?}"),
        )
    }

    /// stderr starts with `prefix`.
    #[track_caller]
    pub fn stderr_starts(&self, prefix: &str) -> &Self {
        self.check(
            self.stderr.starts_with(needed(prefix)),
            &format!("stderr does not start with {prefix:?}"),
        )
    }

    /// stderr is exactly one line (the one-line error of a failed run, nothing else).
    #[track_caller]
    pub fn one_line(&self) -> &Self {
        let n = self.stderr.lines().count();
        self.check(n == 1, &format!("stderr has {n} lines, not exactly one"))
    }

    /// The last non-empty stderr line: the one-line reason of a failed run ("" if none).
    pub fn last_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }

    /// The last non-empty stderr line (the reason line) contains `needle`.
    #[track_caller]
    pub fn line_has(&self, needle: &str) -> &Self {
        assert!(
            !needle.contains('\n'),
            "line_has({needle:?}): a needle spanning lines never matches one line"
        );
        self.check(
            self.last_line().contains(needed(needle)),
            &format!("the last stderr line lacks {needle:?}"),
        )
    }

    /// The last non-empty stderr line (the reason line) starts with `prefix`.
    #[track_caller]
    pub fn line_starts(&self, prefix: &str) -> &Self {
        self.check(
            self.last_line().starts_with(needed(prefix)),
            &format!("the last stderr line does not start with {prefix:?}"),
        )
    }

    /// The run took less than `limit` (a deadline bound, not a performance assertion).
    #[track_caller]
    pub fn within(&self, limit: Duration) -> &Self {
        self.check(
            self.elapsed < limit,
            &format!("took {:?}, not under {limit:?}", self.elapsed),
        )
    }

    /// stdout parsed as one JSON value; fails (with the run's output) if it is not.
    #[track_caller]
    pub fn json_value(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| self.fail(&format!("stdout is not one JSON value ({e})")))
    }

    /// The JSON field `key` of stdout equals `want` (`serde_json`'s `==`, as
    /// `assert_eq!(r.json()[key], want)`). A `key` starting with `/` is a JSON pointer
    /// (`/members/0/host`); a missing field is `null`, as indexing gives.
    #[track_caller]
    pub fn json_field(&self, key: &str, want: impl Into<Value>) -> &Self {
        let want = want.into();
        let got = field(&self.json_value(), key);
        self.check(
            got == want,
            &format!("JSON field {key:?} is {got}, expected {want}"),
        )
    }

    /// The JSON field `key` of stdout is a string containing `needle`.
    #[track_caller]
    pub fn json_has(&self, key: &str, needle: &str) -> &Self {
        let got = field(&self.json_value(), key);
        let Some(text) = got.as_str() else {
            self.fail(&format!("JSON field {key:?} is {got}, not a string"))
        };
        self.check(
            text.contains(needed(needle)),
            &format!("JSON field {key:?} = {text:?} lacks {needle:?}"),
        )
    }
}

fn field(v: &Value, key: &str) -> Value {
    let found = if key.starts_with('/') {
        v.pointer(key)
    } else {
        v.get(key)
    };
    found.cloned().unwrap_or(Value::Null)
}

/// Every string contains "": such an assertion would assert nothing.
#[track_caller]
fn needed(needle: &str) -> &str {
    assert!(!needle.is_empty(), "an empty needle asserts nothing");
    needle
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn r(code: i32, stdout: &str, stderr: &str) -> Run {
        Run {
            status: ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
            elapsed: Duration::from_millis(5),
            command: "probe --uri x".into(),
            note: String::new(),
        }
    }

    fn failed() -> Run {
        r(
            3,
            "",
            "retrying: attempt 1\nprobe: login as hubot refused: wrong password\n",
        )
    }

    #[test]
    fn passing_assertions_chain() {
        failed()
            .exits(3)
            .line_has("wrong password")
            .line_starts("probe: ")
            .stderr_has("attempt 1")
            .stderr_starts("retrying")
            .lacks("hunter2")
            .within(Duration::from_secs(1))
            .fails();
        r(
            0,
            "{\"ok\":true,\"state\":\"PRIMARY\",\"m\":[{\"h\":\"a:1\"}],\"n\":1}\n",
            "",
        )
        .exits(0)
        .stdout_has("PRIMARY")
        .stdout_starts("{")
        .stderr_lacks("PRIMARY")
        .json_field("ok", true)
        .json_field("n", 1)
        .json_field("missing", Value::Null)
        .json_field("/m/0/h", "a:1")
        .json_has("state", "PRIM");
        r(2, "", "one line\n").one_line();
    }

    // Each failure names what failed and carries the run's code, stdout and stderr.
    #[test]
    #[should_panic(
        expected = "expected exit code 0, got 3\n  command: probe --uri x\n  exit code: 3 after 5ms\n  stdout: \"\"\n  stderr: \"retrying: attempt 1\\nprobe: login as hubot refused: wrong password\\n\""
    )]
    fn wrong_exit_code_prints_the_run() {
        failed().exits(0);
    }

    #[test]
    #[should_panic(
        expected = "the last stderr line lacks \"attempt 1\"\n  command: probe --uri x\n  exit code: 3"
    )]
    fn line_has_reads_the_reason_line_only() {
        failed().line_has("attempt 1");
    }

    #[test]
    #[should_panic(
        expected = "expected a failure, got exit code 0\n  command: probe --uri x\n  exit code: 0"
    )]
    fn fails_refuses_success() {
        r(0, "ok", "").fails();
    }

    #[test]
    #[should_panic(expected = "stdout lacks \"wrong password\"")]
    fn stdout_has_does_not_read_stderr() {
        failed().stdout_has("wrong password");
    }

    #[test]
    #[should_panic(expected = "stderr contains \"refused\"\n  command: probe --uri x")]
    fn lacks_reads_both_streams() {
        failed().lacks("refused");
    }

    #[test]
    #[should_panic(expected = "stdout contains \"tok\"")]
    fn stdout_lacks_fails_on_a_match() {
        r(0, "tok", "").stderr_lacks("tok").stdout_lacks("tok");
    }

    #[test]
    #[should_panic(expected = "stderr has 2 lines, not exactly one\n  command: probe --uri x")]
    fn one_line_counts_stderr_lines() {
        failed().one_line();
    }

    #[test]
    #[should_panic(expected = "stderr has 0 lines")]
    fn one_line_needs_a_line() {
        r(1, "", "").one_line();
    }

    #[test]
    #[should_panic(expected = "an empty needle asserts nothing")]
    fn empty_needle_is_refused() {
        failed().stderr_has("");
    }

    #[test]
    #[should_panic(expected = "an empty needle asserts nothing")]
    fn empty_needle_is_refused_when_lacking_too() {
        failed().lacks("");
    }

    #[test]
    #[should_panic(expected = "never matches one line")]
    fn line_has_refuses_a_multi_line_needle() {
        failed().line_has("attempt 1\nprobe");
    }

    #[test]
    #[should_panic(expected = "the last stderr line lacks \"x\"")]
    fn line_has_fails_without_stderr() {
        r(1, "x\n", "").line_has("x");
    }

    #[test]
    #[should_panic(expected = "stdout is not one JSON value")]
    fn json_on_text_prints_the_run() {
        failed().json_field("ok", false);
    }

    #[test]
    #[should_panic(
        expected = "JSON field \"state\" is \"SECONDARY\", expected \"PRIMARY\"\n  command: probe --uri x\n  exit code: 1"
    )]
    fn json_field_is_exact() {
        r(1, "{\"state\":\"SECONDARY\"}", "").json_field("state", "PRIMARY");
    }

    #[test]
    #[should_panic(expected = "JSON field \"n\" is \"1\", expected 1")]
    fn json_field_does_not_coerce() {
        r(0, "{\"n\":\"1\"}", "").json_field("n", 1);
    }

    #[test]
    #[should_panic(expected = "JSON field \"reason\" is null, not a string")]
    fn json_has_needs_a_string() {
        r(1, "{\"state\":\"X\"}", "").json_has("reason", "x");
    }

    #[test]
    #[should_panic(expected = "JSON field \"reason\" = \"closed\" lacks \"reset\"")]
    fn json_has_fails_on_a_mismatch() {
        r(1, "{\"reason\":\"closed\"}", "").json_has("reason", "reset");
    }

    #[test]
    #[should_panic(expected = "took 5ms, not under 5ms")]
    fn within_is_strict() {
        failed().within(Duration::from_millis(5));
    }

    #[test]
    #[should_panic(expected = "stdout does not start with \"ok\"")]
    fn stdout_starts_is_a_prefix() {
        r(0, "rc-probe: ok", "")
            .stdout_has("ok")
            .stdout_starts("ok");
    }

    #[test]
    #[should_panic(expected = "the last stderr line does not start with \"retrying\"")]
    fn line_starts_reads_the_reason_line() {
        failed().stderr_starts("retrying").line_starts("retrying");
    }

    #[test]
    #[should_panic(expected = "cache mode is 644\n  command: probe --uri x")]
    fn check_prints_the_run() {
        failed().check(false, "cache mode is 644");
    }

    #[test]
    #[should_panic(expected = "stderr lacks \"x\" (Rocket.Chat 6.13)\n  command: probe --uri x")]
    fn a_note_names_the_case() {
        failed().noting("Rocket.Chat 6.13").stderr_has("x");
    }

    #[test]
    fn last_line_skips_trailing_blank_lines() {
        assert_eq!(r(1, "", "a\nb\n\n  \n").last_line(), "b");
        assert_eq!(r(1, "", "").last_line(), "");
    }
}
