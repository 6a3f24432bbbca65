//! Fields mongod adds to every reply after the command ran (read upstream in
//! src/mongo/db/service_entry_point_common.cpp / service_entry_point_shard_role.cpp, 7.0-8.0
//! wording; vector_clock_mongod.cpp for the gossip rules):
//! * `appendClusterAndOperationTime`: in a replica set, `$clusterTime` and `operationTime`
//!   together or neither. Gossip to external clients only from a readable member
//!   (PRIMARY/SECONDARY). A client allowed to advance the clock (any client when auth is off;
//!   with auth, a user holding advanceClusterTime — root here) gets a dummy signature (20 zero
//!   bytes, keyId 0); others get the time signed with the cluster's HMAC-SHA1 key, and nothing
//!   until a primary has generated the signing keys (keyId 0 is never sent to them).
//! * `appendErrorLabelsAndTopologyVersion`: NotPrimaryError replies carry the member's
//!   `topologyVersion`; a retryable write (`txnNumber`, not in a transaction) failing with a
//!   retryable code carries `errorLabels: ["RetryableWriteError"]` (error_labels.cpp).

use super::{Conn, SetState, Sim};
use crate::repl::MemberState;
use crate::wire::Request;
use bson::{doc, spec::BinarySubtype, Binary, Bson, Document, Timestamp};
use hmac::{Hmac, Mac};

/// ErrorCategory::NotPrimaryError (src/mongo/base/error_codes.yml @ a07e8767).
const NOT_PRIMARY_ERRORS: &[i32] = &[189, 10107, 11602, 13435, 13436];
/// Codes isRetryableWriteError treats as retryable (error_labels.cpp / error_codes.yml
/// RetriableError + NotPrimaryError + ShutdownError, abbreviated to what the sim answers).
const RETRYABLE_WRITE_ERRORS: &[i32] = &[
    6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436,
];

impl Sim {
    /// The cluster time a member gossips: advanced by every config install, election and write.
    fn cluster_time(st: &SetState) -> Timestamp {
        Timestamp {
            time: (st.last_write.timestamp_millis() / 1000) as u32,
            increment: st.clock_ticks,
        }
    }

    fn signature(&self, conn: &Conn, st: &SetState, t: Timestamp) -> Option<Document> {
        let dummy = || doc! {"hash": Binary { subtype: BinarySubtype::Generic, bytes: vec![0u8; 20] }, "keyId": Bson::Int64(0)};
        if !self.opts.auth || conn.user.as_ref().is_some_and(|(_, role)| role == "root") {
            return Some(dummy());
        }
        let key_id = st.key_id?;
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&self.cluster_key).ok()?;
        mac.update(&((u64::from(t.time) << 32) | u64::from(t.increment)).to_le_bytes());
        let hash = mac.finalize().into_bytes().to_vec();
        Some(
            doc! {"hash": Binary { subtype: BinarySubtype::Generic, bytes: hash }, "keyId": Bson::Int64(key_id)},
        )
    }

    pub(super) fn decorate(&self, conn: &Conn, req: &Request, reply: &mut Document) {
        if !self.repl_enabled() {
            return;
        }
        let st = self.lock();
        let idx = conn.member;
        let code = reply.get_i32("code").ok();
        if let Some(code) = code {
            if NOT_PRIMARY_ERRORS.contains(&code) {
                reply.insert(
                    "topologyVersion",
                    doc! {"processId": self.members[idx].process_id, "counter": Bson::Int64(st.rt[idx].counter)},
                );
            }
            let retryable_write = req.body.contains_key("txnNumber")
                && !req.body.contains_key("autocommit")
                && matches!(
                    req.body.keys().next().map(String::as_str),
                    Some("insert" | "update" | "delete")
                );
            if retryable_write && RETRYABLE_WRITE_ERRORS.contains(&code) {
                reply.insert("errorLabels", vec!["RetryableWriteError"]);
            }
        }
        if !st.rt[idx].state.is_some_and(MemberState::readable) {
            return;
        }
        let t = Self::cluster_time(&st);
        if let Some(sig) = self.signature(conn, &st, t) {
            reply.insert("$clusterTime", doc! {"clusterTime": t, "signature": sig});
            reply.insert("operationTime", t);
        }
    }
}
