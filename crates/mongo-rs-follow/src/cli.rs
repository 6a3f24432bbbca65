//! Command line of mongo-rs-follow: every flag has an environment twin (flags win).

use clap::builder::BoolishValueParser;
use clap::Parser;
use sidecar::cli::{Common, CommonArgs};
use sidecar::duration;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

pub const PROG: &str = "mongo-rs-follow";

/// Where Kubernetes mounts a pod's service-account credentials.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

const LONG_ABOUT: &str = "\
Makes a MongoDB replica set follow a Kubernetes StatefulSet: `kubectl scale statefulset mongo
--replicas=N` ends with exactly the members mongo-0..mongo-(N-1) in the set.

Each pass (every --interval, each bounded by --timeout): read spec.replicas of the StatefulSet
through the Kubernetes API (the pod's service-account token and CA; the Role needs only `get` on
that one StatefulSet), say hello to mongo-0..mongo-(N-1), and then:
  * no member has a config: initiate the set with the members that answer (mongo-0 first);
  * a pod below N answers but is not a member: add it (one voter per replSetReconfig, each
    committed before the next; members beyond the 7th voter join with votes 0 / priority 0);
  * a member at or above N (the StatefulSet shrank): remove it, one member per reconfig, so a
    scale from 5 to 1 goes 5, 4, 3, 2, 1; if it is the PRIMARY, replSetStepDown first;
  * a member below N that does not answer (rolling restart, reschedule, drain) stays: members
    are removed only because the StatefulSet shrank, never because a pod is missing; while it
    is away nothing changes, and following resumes once it answers.
The reconfiguration itself is mongo-rs-init --reconcile's (the same code). A pass that changes
nothing prints nothing; each change is one line.

TLS to the members: the MONGO_TLS_* variables, as for mongo-rs-init and mongo-rs-probe:
MONGO_TLS=true, MONGO_TLS_CA_FILE (the CA that signed the members' certificates; without it the
bundled public roots), MONGO_TLS_CERTIFICATE_KEY_FILE (a client certificate, if mongod asks for
one), MONGO_TLS_ALLOW_INVALID_HOSTNAMES, MONGO_TLS_INSECURE (both print a warning). One setting
for every connection of the process. A member whose certificate is refused ends the pass (exit
3, the reason named: unknown CA, hostname mismatch, expired); it is not taken for a pod that is
not up yet.

Examples:
  # in the cluster (the defaults read the service account and KUBERNETES_SERVICE_HOST):
  mongo-rs-follow --statefulset mongo --replica-set rs0 --username root \\
      --password-file /run/secrets/coquelicot/mongo-root-password
  # one pass, as a check or from a terminal with a token of your own:
  mongo-rs-follow --once --json --api-server https://127.0.0.1:6443 --namespace chat \\
      --token-file ./token --ca-file ./ca.crt --replica-set rs0

Exit codes (the loop runs until stopped; these end it or end --once):
  0  --once: the set matched the StatefulSet (or was made to)
  1  --once: not yet (members not answering, no PRIMARY, API unreachable) before --timeout
  2  usage: bad flag, pattern, duration, host name; unreadable, oversized or empty token, CA,
     namespace or password file; a bad MONGO_TLS_* value or unusable TLS file
  3  refused for good: API token refused (401) or Role missing (403, with the RBAC reason),
     StatefulSet not found, no spec.serviceName while --member-host uses {service}, wrong
     credentials, a reconfig rejected by mongod, a member's certificate not trusted

Environment (flags win): MONGO_RS_FOLLOW_STATEFULSET, MONGO_RS_FOLLOW_NAMESPACE,
MONGO_RS_FOLLOW_MEMBER_HOST, MONGO_RS_FOLLOW_API_SERVER (default from KUBERNETES_SERVICE_HOST
and KUBERNETES_SERVICE_PORT), MONGO_RS_FOLLOW_TOKEN_FILE, MONGO_RS_FOLLOW_CA_FILE,
MONGO_RS_FOLLOW_INTERVAL, MONGO_RS_FOLLOW_TIMEOUT, MONGO_RS_FOLLOW_ONCE, MONGO_RS_FOLLOW_JSON,
MONGO_REPLICA_SET, MONGO_USERNAME, MONGO_PASSWORD, MONGO_PASSWORD_FILE, MONGO_TLS,
MONGO_TLS_CA_FILE, MONGO_TLS_CERTIFICATE_KEY_FILE, MONGO_TLS_ALLOW_INVALID_HOSTNAMES,
MONGO_TLS_INSECURE. An empty variable counts
as unset. The token and passwords are never printed, not even when the API echoes them. A
password given on the command line (--password) works but prints one warning line on stderr: the
command line is visible in ps.";

sidecar::common_flags! {
    Shared, prefix = "MONGO_RS_FOLLOW", timeout = "120s",
    timeout_help = "Deadline of ONE pass (API read, hellos, reconfigs and their commits)",
    json_help = "Print results as JSON objects on stdout (one per pass that changed or failed)"
}

#[derive(Parser, Debug)]
#[command(name = PROG, version, about = "Make a MongoDB replica set's members follow a Kubernetes StatefulSet's replicas.", long_about = LONG_ABOUT)]
pub struct Args {
    /// The StatefulSet whose spec.replicas is the set's size.
    #[arg(long, env = "MONGO_RS_FOLLOW_STATEFULSET", default_value = "mongo")]
    pub statefulset: String,

    /// Its namespace (default: the service account's namespace file).
    #[arg(long, env = "MONGO_RS_FOLLOW_NAMESPACE")]
    pub namespace: Option<String>,

    /// Replica-set name, as in mongod --replSet.
    #[arg(long, env = "MONGO_REPLICA_SET")]
    pub replica_set: String,

    /// How member ORDINAL is reached and named in the config; placeholders {pod}
    /// (STATEFULSET-ORDINAL), {ordinal}, {service} (the StatefulSet's serviceName), {namespace}.
    #[arg(
        long,
        env = "MONGO_RS_FOLLOW_MEMBER_HOST",
        default_value = "{pod}.{service}.{namespace}.svc.cluster.local:27017"
    )]
    pub member_host: String,

    /// Kubernetes API server URL (default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT).
    #[arg(long, env = "MONGO_RS_FOLLOW_API_SERVER")]
    pub api_server: Option<String>,

    /// Bearer token file (default: the pod's service-account token).
    #[arg(long, env = "MONGO_RS_FOLLOW_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,

    /// PEM file of the CA that signs the API server's certificate (default: the service account's ca.crt).
    #[arg(long, env = "MONGO_RS_FOLLOW_CA_FILE")]
    pub ca_file: Option<PathBuf>,

    /// Pause between passes.
    #[arg(long, env = "MONGO_RS_FOLLOW_INTERVAL", default_value = "10s", value_parser = duration::parse_timeout)]
    pub interval: Duration,

    #[command(flatten)]
    pub common: Shared,

    /// One pass, then exit with its result (0 when the set matches the StatefulSet).
    #[arg(long, env = "MONGO_RS_FOLLOW_ONCE", value_parser = BoolishValueParser::new())]
    pub once: bool,

    #[command(flatten)]
    pub login: mongo_rs::flags::Login,
}

/// Parses `argv`, then one pass (`--once`) or the loop; returns the exit code.
pub fn main_with(argv: impl IntoIterator<Item = OsString>) -> i32 {
    sidecar::cli::main(PROG, false, argv, |args: Args, deadline, reporter| {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        // The loop's watchdog guards reading the secrets too (a FIFO must not hang it).
        let guard = (!args.once).then(|| crate::watch::PassWatch::start(reporter));
        if let Some(g) = &guard {
            g.begin(deadline);
        }
        let f = match crate::prepare(&args, &env) {
            Ok(f) => f,
            Err(e) => return e.into(),
        };
        match guard {
            None => {
                sidecar::watchdog::waiting_for(format!("one pass of {PROG}"));
                crate::pass(&f, deadline, reporter)
            }
            Some(g) => crate::follow(&f, &g, args.common.timeout, args.interval, reporter),
        }
    })
}

impl CommonArgs for Args {
    fn common(&self) -> Common {
        self.common.get()
    }
    /// `--once` is one pass under the frame's watchdog; the loop arms one per pass.
    fn whole_run_has_deadline(&self) -> bool {
        self.once
    }
}
