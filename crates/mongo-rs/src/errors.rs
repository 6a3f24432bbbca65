//! Which failures are worth retrying, and the one line an operator needs for the others.
//! Codes: src/mongo/base/error_codes.yml in mongodb/mongo.

use mongo_wire::{Error, ServerError};
use sidecar::Failure;

/// What we were doing when it failed, for the hint.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The member we talked to (`host:port`).
    pub host: String,
    /// The member hosts we proposed (replSetInitiate), if any.
    pub members: Vec<String>,
    /// The set name we want.
    pub set_name: Option<String>,
    /// The user we authenticated as, if any.
    pub username: Option<String>,
}

/// Server codes that mean "not now": elections, startup, shutdown, transient network trouble
/// seen by the server. Everything else the server says is taken as final.
pub const RETRYABLE_CODES: &[i32] = &[
    6,     // HostUnreachable
    7,     // HostNotFound
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    94,    // NotYetInitialized
    109,   // ConfigurationInProgress (a concurrent initiate/reconfig is running)
    189,   // PrimarySteppedDown
    262,   // ExceededTimeLimit
    308,   // CurrentConfigNotCommittedYet (the previous reconfig is not majority-replicated yet)
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
];

pub const ALREADY_INITIALIZED: i32 = 23;

/// Turns a protocol error into the run's failure: retryable (exit 1) or final (exit 3) with a hint.
pub fn classify(err: &Error, ctx: &Context) -> Failure {
    let err = &bounded(err);
    match err {
        Error::Resolve { host, detail } => Failure::unavailable(format!(
            "cannot resolve {host} ({detail}): not up yet, or not the name it has on this network"
        )),
        Error::Refused { host } => Failure::unavailable(format!(
            "{host} refused the connection: mongod is not listening there (yet)"
        )),
        Error::TimedOut { host } => {
            Failure::unavailable(format!("{host} did not answer in time"))
        }
        Error::Io { .. } => Failure::unavailable(err.to_string()),
        Error::Protocol { host, detail } => Failure::refused(format!(
            "{host} does not speak the MongoDB protocol we expect ({detail}): is this a mongod port (MongoDB 3.6 or newer)?"
        )),
        Error::Auth(m) => Failure::refused(format!("authentication with {} failed: {m}", ctx.host)),
        // A certificate problem does not heal by retrying: final, with the reason.
        Error::Tls { .. } => Failure::refused(err.to_string()),
        Error::Server(e) => server_failure(e, ctx),
    }
}

/// [`classify`] for replSetReconfig, whose 103/93 need their own hints. A 103 "... must be
/// greater than old" means another reconfig (another run, or mongod's own automatic one that
/// clears `newlyAdded`) landed between our read and our write: retryable, the next attempt
/// re-reads the config. The text is "version must be greater than old" before 4.4 and "version
/// and term must be greater than old" since (repl_set_config_checks.cpp). A 50
/// MaxTimeMSExpired "Reconfig finished but failed to propagate to a majority" means the new
/// config IS installed and only its commit is slow (repl_set_commands.cpp): retryable too, the
/// next attempt re-reads the config and waits for it to commit instead of sending it again.
pub fn classify_reconfig(err: &Error, ctx: &Context) -> Failure {
    let err = &bounded(err);
    let host = &ctx.host;
    let Error::Server(e) = err else {
        return classify(err, ctx);
    };
    let msg = &e.errmsg;
    match e.code {
        50 => Failure::unavailable(format!(
            "{host}: the new config is installed but has not reached a majority yet, waiting for it: {msg}"
        )),
        103 if msg.contains("must be greater than old") => Failure::unavailable(format!(
            "{host}: the config changed under us (another reconfig?), re-reading it: {msg}"
        )),
        103 => Failure::refused(format!(
            "{host} rejected the new member list (NewReplicaSetConfigurationIncompatible): {msg}: a reconfig may add or remove one voting member at a time (MongoDB 4.4+) and must keep the PRIMARY; check --member"
        )),
        93 => Failure::refused(format!(
            "{host} found the new config invalid (InvalidReplicaSetConfig): {msg}: each --member must be host:port as mongod is reached inside the container network, listed once"
        )),
        // _doReplSetReconfig returns findSelfInConfigIfElectable's status unwrapped
        // (repl_set_config_checks.cpp): 74 when the receiving node is not in the new config,
        // 104 when it would not be electable there. Not a reachability problem.
        74 if msg.contains("maps to this node") => Failure::refused(format!(
            "{host} is not in the new member list (NodeNotFound): {msg}: a reconfig is sent to the PRIMARY and must keep it, under the name it knows itself by; check --member"
        )),
        104 => Failure::refused(format!(
            "{host} would not be electable under the new config (NodeNotElectable): {msg}: the PRIMARY must keep priority > 0 and not become an arbiter; step it down first or keep its settings"
        )),
        // The reconfig quorum message also lists the nodes that DID respond: name only those
        // after "did not respond affirmatively" (check_quorum_for_config_change.cpp).
        74 => {
            let failed = msg
                .split("did not respond affirmatively")
                .nth(1)
                .unwrap_or(msg);
            let mut narrowed = ctx.clone();
            narrowed.members.retain(|m| failed.contains(m.as_str()));
            classify(err, &narrowed)
        }
        _ => classify(err, ctx),
    }
}

/// The server's own words (errmsg, codeName) escaped and bounded at the source
/// ([`sidecar::text::server`]): a 20k-character errmsg must not push the hint that follows it
/// off the one printed line. Idempotent, so classify_reconfig may hand it on to classify.
fn bounded(err: &Error) -> Error {
    match err {
        Error::Server(e) => Error::Server(ServerError {
            code: e.code,
            code_name: sidecar::text::server(&e.code_name),
            errmsg: sidecar::text::server(&e.errmsg),
        }),
        // SCRAM failures can carry the server's `e=` text.
        Error::Auth(m) => Error::Auth(sidecar::text::server(m)),
        other => other.clone(),
    }
}

/// mongod's `--replSet` from a 93 set-name rejection, in either wording.
fn command_line_set_name(errmsg: &str) -> Option<&str> {
    let rest = errmsg
        .split_once("command line set name: ")
        .or_else(|| errmsg.split_once("command line reports "))?
        .1;
    let name = rest.split([';', ',', ' ']).next()?.trim();
    (!name.is_empty()).then_some(name)
}

fn server_failure(e: &ServerError, ctx: &Context) -> Failure {
    let host = &ctx.host;
    if RETRYABLE_CODES.contains(&e.code) {
        return Failure::unavailable(format!("{host}: {e}"));
    }
    let set = ctx.set_name.as_deref().unwrap_or("NAME");
    match e.code {
        18 => Failure::refused(format!(
            "{host} rejected the credentials of user {:?} (AuthenticationFailed): check the user name, the password file and authSource",
            ctx.username.as_deref().unwrap_or("")
        )),
        // MONGODB-X509 with a certificate whose subject has no user in $external: mongod
        // rethrows UserNotFound (authentication_commands.cpp authCommand), message
        // `Could not find user "SUBJECT" for db "$external"`.
        11 => {
            let subject = e.errmsg.split('"').nth(1).unwrap_or("<certificate subject>");
            Failure::refused(format!(
                "{host} has no user for our client certificate (UserNotFound: {}): create it with db.getSiblingDB(\"$external\").runCommand({{createUser: \"{subject}\", roles: [{{role: \"clusterAdmin\", db: \"admin\"}}]}})",
                e.errmsg
            ))
        }
        13 if ctx.username.is_none() => Failure::refused(format!(
            "{host} requires authentication ({}): the localhost exception does not reach a separate container: give a cluster-admin user (--username/--password-file, or user:password in the URI)",
            e.errmsg
        )),
        13 => Failure::refused(format!(
            "{host}: user {:?} is not allowed to do this ({}): grant it the clusterManager or clusterAdmin role (or root)",
            ctx.username.as_deref().unwrap_or(""),
            e.errmsg
        )),
        76 => Failure::refused(format!(
            "mongod at {host} was not started with --replSet: add `--replSet {set}` to its command line (NoReplicationEnabled)"
        )),
        // Both wordings name mongod's --replSet after "command line": 4.4/5.0 "Attempting to
        // initiate a replica set with name X, but command line reports Y; rejecting", 6.0+
        // "Rejecting initiate with a set name that differs from command line set name, initiate
        // set name: X, command line set name: Y" (replication_coordinator_impl.cpp
        // processReplSetInitiate).
        93 if e.errmsg.contains("command line") => {
            let theirs = command_line_set_name(&e.errmsg);
            let use_it = theirs
                .map(|n| format!("use --replica-set {n} (the name mongod was started with)"))
                .unwrap_or_else(|| "use the name mongod was started with (--replSet)".into());
            Failure::refused(format!(
                "set-name mismatch at {host}: mongod runs with --replSet {}, not {set:?}: {use_it} or fix mongod; server said: {}",
                theirs.map(|n| format!("{n:?}")).unwrap_or_else(|| "another name".into()),
                e.errmsg
            ))
        }
        93 if e.errmsg.contains("maps to this node") => Failure::refused(format!(
            "none of the member hosts ({}) is how mongod at {host} knows itself (InvalidReplicaSetConfig): {host} must be the name mongod is reached by inside the container network, e.g. the compose service name mongo1:27017, not localhost or a published port",
            ctx.members.join(", ")
        )),
        74 => {
            let named: Vec<&str> = ctx
                .members
                .iter()
                .map(String::as_str)
                .filter(|m| e.errmsg.contains(m))
                .collect();
            let which = if named.is_empty() {
                "some member(s)".to_string()
            } else {
                named.join(", ")
            };
            Failure::refused(format!(
                "mongod at {host} cannot reach {which} (NodeNotFound): each member host must be the name mongod is reached by inside the container network, e.g. the compose service name; server said: {}",
                e.errmsg
            ))
        }
        _ => Failure::refused(format!("{host} refused: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    fn server(code: i32, errmsg: &str) -> Error {
        Error::Server(ServerError {
            code,
            code_name: "X".into(),
            errmsg: errmsg.into(),
        })
    }

    fn ctx() -> Context {
        Context {
            host: "mongo1:27017".into(),
            members: vec!["mongo1:27017".into(), "mongo2:27017".into()],
            set_name: Some("rs0".into()),
            username: None,
        }
    }

    #[test]
    fn network_trouble_is_retryable() {
        for e in [
            Error::Refused { host: "h:1".into() },
            Error::TimedOut { host: "h:1".into() },
            Error::Resolve {
                host: "h:1".into(),
                detail: "nx".into(),
            },
            Error::Io {
                host: "h:1".into(),
                detail: "reset".into(),
            },
            server(10107, "not primary"),
            server(94, "no config"),
        ] {
            assert!(classify(&e, &ctx()).is_retryable(), "{e:?}");
        }
    }

    #[test]
    fn final_errors_carry_hints() {
        let f = classify(
            &server(76, "This node was not started with replication enabled."),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("--replSet rs0"), "{}", f.message);

        let f = classify(
            &server(93, "No host described in new configuration with {version: 1, term: 0} for replica set rs0 maps to this node"),
            &ctx(),
        );
        assert!(
            f.message.contains("mongo1:27017, mongo2:27017"),
            "{}",
            f.message
        );
        assert!(f.message.contains("compose service name"), "{}", f.message);

        // The 4.4/5.0 wording and the 6.0+ one (processReplSetInitiate) give the same hint.
        for text in [
            "Attempting to initiate a replica set with name x, but command line reports rsA; rejecting",
            "Rejecting initiate with a set name that differs from command line set name, initiate set name: x, command line set name: rsA",
        ] {
            let f = classify(&server(93, text), &ctx());
            assert_eq!(f.exit, Exit::Refused, "{text}");
            assert!(f.message.contains("set-name mismatch"), "{}", f.message);
            assert!(f.message.contains("use --replica-set rsA"), "{}", f.message);
        }

        let f = classify(
            &server(74, "replSetInitiate quorum check failed because not all proposed set members responded affirmatively: mongo2:27017 failed with Error connecting"),
            &ctx(),
        );
        assert!(
            f.message.contains("cannot reach mongo2:27017 "),
            "{}",
            f.message
        );

        let f = classify(
            &server(13, "Command replSetInitiate requires authentication"),
            &ctx(),
        );
        assert!(f.message.contains("localhost exception"), "{}", f.message);
        let mut with_user = ctx();
        with_user.username = Some("ops".into());
        let f = classify(&server(13, "not authorized"), &with_user);
        assert!(f.message.contains("clusterManager"), "{}", f.message);
        let f = classify(&server(18, "Authentication failed."), &with_user);
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("\"ops\""), "{}", f.message);
        let f = classify(
            &server(
                11,
                "Could not find user \"CN=rs-init,O=X\" for db \"$external\"",
            ),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message.contains("createUser: \"CN=rs-init,O=X\""),
            "{}",
            f.message
        );

        assert_eq!(classify(&server(2, "BadValue"), &ctx()).exit, Exit::Refused);
        assert!(classify(&server(308, "not committed"), &ctx()).is_retryable());
        assert_eq!(
            classify(
                &Error::Protocol {
                    host: "h".into(),
                    detail: "x".into()
                },
                &ctx()
            )
            .exit,
            Exit::Refused
        );
    }

    #[test]
    fn huge_server_text_leaves_the_hint_on_the_line() {
        let huge = format!("{}\nsecond line", "x".repeat(20_000));
        let printed = |f: Failure| sidecar::report::printable(&f.message);
        // 13 puts the server's errmsg before the hint.
        let line = printed(classify(&server(13, &huge), &ctx()));
        assert!(line.ends_with("or user:password in the URI)"), "{line}");
        assert!(line.contains("xxx… (cut)"), "{line}");
        let line = printed(classify_reconfig(&server(104, &huge), &ctx()));
        assert!(
            line.ends_with("step it down first or keep its settings"),
            "{line}"
        );
        let f = classify(&server(59, &huge), &ctx());
        assert!(f.message.chars().count() < 400, "{}", f.message.len());
        assert!(!f.message.contains('\n'));
    }

    #[test]
    fn reconfig_errors() {
        let race = classify_reconfig(&server(103, "New replica set configuration version must be greater than old, but {version: 2, term: 1} is not greater than {version: 2, term: 1} for replica set rs0"), &ctx());
        assert!(race.is_retryable(), "{}", race.message);
        // The 4.4+ wording (version AND term), met when mongod's automatic newlyAdded reconfig
        // lands between our read and our write.
        let race = classify_reconfig(&server(103, "New replica set configuration version and term must be greater than old, but {version: 3, term: 1} is not greater than {version: 3, term: 1} for replica set rs0"), &ctx());
        assert!(race.is_retryable(), "{}", race.message);
        let slow = classify_reconfig(&server(50, "Reconfig finished but failed to propagate to a majority :: caused by :: Current config with {version: 4, term: 1} has not yet propagated to a majority of nodes :: caused by :: operation exceeded time limit"), &ctx());
        assert!(slow.is_retryable(), "{}", slow.message);
        assert!(slow.message.contains("installed"), "{}", slow.message);
        let f = classify_reconfig(
            &server(
                103,
                "Non force replica set reconfig can only add or remove at most 1 voting member.",
            ),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message.contains("one voting member at a time"),
            "{}",
            f.message
        );
        // ReplSetConfig::validate failures are 103 in a reconfig (_doReplSetReconfig wraps
        // them); parse failures stay 93.
        let f = classify_reconfig(
            &server(103, "Found two member configurations with same host field, members.0.host == members.1.host == mongo1:27017"),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message.contains("NewReplicaSetConfigurationIncompatible")
                && f.message.contains("members.0.host == members.1.host"),
            "{}",
            f.message
        );
        let f = classify_reconfig(
            &server(
                93,
                "BSON field 'MemberConfig.host' is missing but a required field",
            ),
            &ctx(),
        );
        assert!(
            f.message.contains("InvalidReplicaSetConfig"),
            "{}",
            f.message
        );
        // The receiving node left out of the new config: 74 from findSelfInConfig, which is
        // not a reachability problem.
        let f = classify_reconfig(
            &server(74, "No host described in new configuration with {version: 3, term: 1} for replica set rs0 maps to this node"),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message.contains("not in the new member list") && !f.message.contains("cannot reach"),
            "{}",
            f.message
        );
        let f = classify_reconfig(
            &server(104, "This node, mongo1:27017, with _id MemberId(0) is not electable under the new configuration with {version: 3, term: 1} for replica set rs0"),
            &ctx(),
        );
        assert_eq!(f.exit, Exit::Refused);
        assert!(
            f.message.contains("NodeNotElectable") && f.message.contains("priority > 0"),
            "{}",
            f.message
        );
        let f = classify_reconfig(
            &server(74, "Quorum check failed because not enough voting nodes responded; required 2 but only the following 1 voting nodes responded: mongo1:27017; the following nodes did not respond affirmatively: mongo2:27017 failed with Error connecting"),
            &ctx(),
        );
        assert!(
            f.message.contains("cannot reach mongo2:27017"),
            "{}",
            f.message
        );
        assert!(classify_reconfig(&server(109, "in progress"), &ctx()).is_retryable());
    }
}
