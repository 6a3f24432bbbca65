//! mongod emulator (test-only): one process emulates a whole replica set (or standalone
//! mongods) over the real wire protocol, with SCRAM auth and injectable faults.
//! Every emulated behaviour cites its source next to the code; see README.md.

pub mod cli;
pub mod log;
pub mod repl;
pub mod scram;
pub mod server;
pub mod tls;
pub mod wire;

/// The emulators' one duration grammar (sims/sim-util), the shipped sidecars' own: `500ms`, `2s`,
/// `1m30s`; a bare number means seconds.
pub use sim_util::parse_duration;
