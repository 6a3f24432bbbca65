//! What every coquelicot binary shares, so that the four of them behave alike:
//!
//! * [`cli`] — clap parsing whose usage errors are one line and exit 2, like every failure;
//! * [`duration`] — `500ms`, `2s`, `1m30s` on the command line and in the environment;
//! * [`deadline`] — one overall deadline per run, from which every socket timeout is derived;
//! * [`retry`] — bounded exponential backoff with jitter, retrying only what is retryable;
//! * [`exit`] — the documented exit codes and the one-line failure they carry;
//! * [`secret`] — passwords and tokens from a value or a `*_FILE`, never printed;
//! * [`report`] — the final line (or `--json` object) and progress lines;
//! * [`host`] — host names no resolver can find are usage errors;
//! * [`file`] — secret-holding files written atomically, mode 0600;
//! * [`flags`] — the shared flags (`--timeout`, `--json`, a secret and its `--x-file`), defined once;
//! * [`redact`] — every secret the process holds is masked in every line it prints;
//! * [`text`] — server-provided text escaped and bounded;
//! * [`watchdog`] — a last-resort timer that ends the process at its deadline, whatever blocks.

pub mod cli;
pub mod deadline;
pub mod duration;
pub mod exit;
pub mod file;
pub mod flags;
pub mod host;
pub mod redact;
pub mod report;
pub mod retry;
pub mod secret;
pub mod text;
pub mod watchdog;

pub use deadline::Deadline;
pub use exit::{Exit, Failure};
pub use secret::Secret;
