//! Helpers the test-only emulators share. No dependency on any crate under `crates/`: an
//! emulator must never import shipped code (it would then test itself).

pub mod cli;
pub mod duration;

pub use duration::parse_duration;
