//! Replica-set limits, checked before anything is sent so the operator gets our hint rather
//! than mongod's refusal halfway through a scale-up. mongod (src/mongo/db/repl/repl_set_config.h
//! `kMaxMembers = 50`, `kMaxVotingMembers = 7`; ReplSetConfig::validate) refuses a config with
//! more than 50 members or more than 7 voting members.
//!
//! Our choice for the 8th member and later: it JOINS as a non-voting member (`votes: 0`,
//! `priority: 0`: mongod requires priority 0 for a non-voter), as the MongoDB manual advises for
//! sets larger than seven. More than 50 members is refused (exit 3) with a hint.

use sidecar::Failure;

pub const MAX_MEMBERS: usize = 50;
pub const MAX_VOTING_MEMBERS: usize = 7;

/// Refuses a member list mongod could never hold.
pub fn check_member_count(n: usize) -> Result<(), Failure> {
    if n > MAX_MEMBERS {
        return Err(Failure::refused(format!(
            "{n} members requested, but a replica set holds at most {MAX_MEMBERS} (mongod's limit): list at most {MAX_MEMBERS} hosts with --member"
        )));
    }
    Ok(())
}

/// Whether a member added to a config that already has `voters` voting members must join
/// without a vote.
pub fn joins_without_vote(voters: usize) -> bool {
    voters >= MAX_VOTING_MEMBERS
}

/// `version + 1` for the next config, refusing a version no sane set has (corrupt or hostile
/// reply): versions start at 1 and grow by one per reconfig (force reconfigs by ~10^4-10^5).
pub fn next_version(version: i64) -> Result<i64, Failure> {
    match version.checked_add(1) {
        Some(next) if version >= 1 => Ok(next),
        _ => Err(Failure::refused(format!(
            "the set's config version {version} cannot be incremented: refusing to reconfigure (check replSetGetConfig on the PRIMARY)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    #[test]
    fn limits() {
        assert!(check_member_count(50).is_ok());
        let f = check_member_count(51).unwrap_err();
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("at most 50"), "{}", f.message);
        assert!(!joins_without_vote(6));
        assert!(joins_without_vote(7));
        assert_eq!(next_version(1).unwrap(), 2);
        assert_eq!(next_version(i32::MAX as i64).unwrap(), i32::MAX as i64 + 1);
        for absurd in [i64::MAX, 0, -5] {
            let f = next_version(absurd).unwrap_err();
            assert_eq!(f.exit, Exit::Refused, "{absurd}");
            assert!(f.message.contains("cannot be incremented"));
        }
    }
}
