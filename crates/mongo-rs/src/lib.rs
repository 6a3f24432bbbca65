//! Replica-set logic shared by mongo-rs-init and mongo-rs-probe, kept apart from the binaries so
//! that both read a member's state, and word their failures, the same way.
//!
//! * [`state`] — a hello reply as a typed member state (plus replSetGetStatus refinement);
//! * [`probe`] — the health verdict for one member;
//! * [`plan`] — initiate or not, and the config to propose;
//! * [`reconfig`] — the next single-member replSetReconfig towards the wanted members;
//! * [`init`] — the whole run of mongo-rs-init from a typed [`InitConfig`] (mongo-rs-follow
//!   calls it too): [`wait`] for the members, initiate, wait for a PRIMARY, [`reconcile`];
//! * [`progress`] — the backoffs of those waits and their progress lines;
//! * [`limits`] — at most 7 voters (later members join without a vote) and 50 members;
//! * [`errors`] — retryable vs final server/network errors, with operator hints;
//! * [`client`] — hello / replSetGetStatus over one connection;
//! * [`monitor`] — awaitable hello (SDAM streaming): wake when any member's state changes.

pub mod client;
pub mod errors;
pub mod flags;
pub mod init;
pub mod limits;
pub mod monitor;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod reconcile;
pub mod reconfig;
pub mod state;
pub mod wait;

pub use errors::{classify, classify_reconfig, Context};
pub use init::InitConfig;
pub use plan::{build_config, plan, Plan};
pub use state::{Hello, MemberState};
