//! `cargo run -p fuzz --release -- [--seconds N] [--target NAME] [--write-seeds]`
//!
//! A bounded mutation fuzzer that runs on the stable toolchain, in CI, in a fixed time: for each
//! target it starts from the committed corpus (`fuzz/corpus/<target>/`) plus built-in seeds,
//! mutates (bit flips, byte edits, insertions of the target's dictionary tokens, splices, length
//! fields set to edge values), and runs the target under `catch_unwind`. Inputs that give a new
//! outcome (a new error kind, say) join the pool, a crude stand-in for coverage feedback. A panic
//! or a broken property writes the input to `fuzz/artifacts/` and fails the run. It prints the
//! executions per target.

mod engine;
mod targets;

use std::path::PathBuf;
use std::time::Duration;

fn main() {
    let mut seconds = 30.0;
    let mut only: Option<String> = None;
    let mut write_seeds = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(seconds),
            "--target" => only = args.next(),
            "--write-seeds" => write_seeds = true,
            _ => {
                eprintln!("usage: fuzz [--seconds N] [--target NAME] [--write-seeds]");
                std::process::exit(2);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut failed = false;
    for target in targets::all() {
        if only.as_deref().is_some_and(|o| o != target.name) {
            continue;
        }
        if write_seeds {
            engine::write_seeds(&root.join("corpus"), &target);
            continue;
        }
        let outcome = engine::run(&root, &target, Duration::from_secs_f64(seconds));
        println!(
            "fuzz {:<12} {:>9} executions in {:.1}s, pool {:>4}, failures {}",
            target.name,
            outcome.executions,
            outcome.elapsed.as_secs_f64(),
            outcome.pool,
            outcome.failures
        );
        failed |= outcome.failures > 0;
    }
    std::process::exit(if failed { 1 } else { 0 });
}
