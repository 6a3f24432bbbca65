//! mongo-rs-follow: the replica set follows the StatefulSet. Each pass reads spec.replicas
//! ([`kube`]), says hello to the pods 0..N-1, [`decide`]s, and hands any change to
//! mongo-rs-init's own initiate/reconcile ([`mongo_rs::init::run`] with the typed config of
//! [`init_config`]): one replSetReconfig per member, each committed before the next. This crate adds only what Kubernetes needs: which
//! members are wanted, and stepping down a PRIMARY that must leave.

pub mod cli;
pub mod kube;
pub(crate) mod watch;

pub use cli::{main_with, PROG};
use cli::{Args, SERVICE_ACCOUNT_DIR};
use mongo_rs::reconfig::norm;
use mongo_rs::{client, Context, InitConfig, MemberState};
use mongo_wire::{Connection, Credential, Doc, HostPort};
use sidecar::report::{Report, Reporter};
use sidecar::{duration, Deadline, Failure};
use std::path::PathBuf;
use std::time::Duration;

/// Everything a pass needs, validated before any network access.
pub struct Follower {
    pub statefulset: String,
    pub namespace: String,
    pub set_name: String,
    pub pattern: String,
    pub api: kube::Api,
    pub cred: Option<Credential>,
}

pub fn prepare(args: &Args, env: &dyn Fn(&str) -> Option<String>) -> Result<Follower, Failure> {
    let sa = PathBuf::from(SERVICE_ACCOUNT_DIR);
    let namespace = match &args.namespace {
        Some(n) => n.clone(),
        None => {
            let file = sa.join("namespace");
            let what = "the service account's namespace file (no --namespace; set MONGO_RS_FOLLOW_NAMESPACE)";
            let (bytes, _) = sidecar::file::read_capped(&file, NAMESPACE_FILE_MAX, what)?;
            String::from_utf8_lossy(&bytes).trim().to_string()
        }
    };
    if !is_dns_label(&namespace) || !is_dns_label(&args.statefulset) {
        return Err(Failure::usage(format!(
            "namespace {:?} / statefulset {:?}: not a Kubernetes name (lower-case letters, digits, '-')",
            sidecar::text::server(&namespace),
            sidecar::text::server(&args.statefulset)
        )));
    }
    // Usage errors in the pattern show up now, not at the first scale-up.
    let sample = member_host(&args.member_host, &args.statefulset, 0, "svc", &namespace);
    if !args.member_host.contains("{ordinal}") && !args.member_host.contains("{pod}") {
        return Err(Failure::usage(
            "--member-host must contain {pod} or {ordinal}: every member needs its own host",
        ));
    }
    HostPort::parse(&sample)
        .map_err(|e| Failure::usage(format!("--member-host gives {sample:?}: {e}")))?;
    let api_server = match &args.api_server {
        Some(s) => s.clone(),
        None => match (env("KUBERNETES_SERVICE_HOST"), env("KUBERNETES_SERVICE_PORT")) {
            (Some(h), p) => {
                sidecar::host::check_name(&h).map_err(|why| {
                    Failure::usage(format!(
                        "KUBERNETES_SERVICE_HOST: {why} (or set MONGO_RS_FOLLOW_API_SERVER)"
                    ))
                })?;
                let host = if h.contains(':') { format!("[{h}]") } else { h };
                format!("https://{host}:{}", p.unwrap_or_else(|| "443".into()))
            }
            (None, _) => {
                return Err(Failure::usage(
                    "no --api-server and KUBERNETES_SERVICE_HOST is unset (not in a pod?): set MONGO_RS_FOLLOW_API_SERVER",
                ))
            }
        },
    };
    let token_file = args.token_file.clone().unwrap_or_else(|| sa.join("token"));
    let ca_file = args.ca_file.clone().unwrap_or_else(|| sa.join("ca.crt"));
    let api = kube::Api::new(&api_server, &token_file, &ca_file)?;
    // The pods' URI has no options of its own: TLS comes from MONGO_TLS_* as in mongo-rs-init
    // and mongo-rs-probe (one config, installed for every connection of the process).
    let mut admin = mongo_wire::uri::parse("mongodb://localhost/").map_err(Failure::usage)?;
    client::tls_setup(&mut admin)?;
    // --password or MONGO_PASSWORD (clap reads the variable).
    let cred = args.login.credentials(&admin)?;
    Ok(Follower {
        statefulset: args.statefulset.clone(),
        namespace,
        set_name: args.replica_set.clone(),
        pattern: args.member_host.clone(),
        api,
        cred,
    })
}

/// A namespace name is at most 63 characters; the cap leaves room for a newline and slack.
const NAMESPACE_FILE_MAX: u64 = 1024;

/// The StatefulSet's serviceName as the member pattern needs it: `{service}` with no
/// serviceName (`""` is a real answer) names no pod, and waiting cannot fix it (the field is
/// immutable): refused, with what to set.
pub fn service_for(pattern: &str, sts: &kube::StatefulSet, what: &str) -> Result<(), Failure> {
    if !pattern.contains("{service}") {
        return Ok(());
    }
    if sts.service.is_empty() {
        return Err(Failure::refused(format!(
            "{what} has no spec.serviceName, so its pods have no DNS names for --member-host's {{service}}: recreate the StatefulSet with spec.serviceName set to its headless Service (the field is immutable), or give --member-host without {{service}}"
        )));
    }
    if !is_dns_label(&sts.service) {
        return Err(Failure::refused(format!(
            "{what}: spec.serviceName {:?} is not a Service name: fix the StatefulSet",
            sidecar::text::server(&sts.service)
        )));
    }
    Ok(())
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The host of member `ordinal`, as the pod is reached and as the config names it.
pub fn member_host(pattern: &str, sts: &str, ordinal: u32, service: &str, ns: &str) -> String {
    pattern
        .replace("{pod}", &format!("{sts}-{ordinal}"))
        .replace("{ordinal}", &ordinal.to_string())
        .replace("{service}", service)
        .replace("{namespace}", ns)
}

/// What one member's hello says about the set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    pub set_name: Option<String>,
    /// The config's members ([`mongo_rs::Hello::hosts`]: electable, passives, arbiters).
    pub members: Vec<String>,
    pub primary: Option<String>,
    pub writable_primary: bool,
}

/// [`mongo_rs::state::interpret`]'s reading of hello, as [`decide`] needs it.
pub fn view(reply: &Doc) -> View {
    let h = mongo_rs::state::interpret(reply);
    View {
        writable_primary: h.state == (MemberState::Primary { writable: true }),
        set_name: h.set_name,
        members: h.hosts,
        primary: h.primary,
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// The set's members are exactly the wanted ones.
    Nothing { members: Vec<String> },
    /// Nothing can be done now (reason).
    Wait(String),
    /// No member has a config: initiate with these (answering, ordinal order, pod 0 first).
    Initiate(Vec<String>),
    /// Make the members exactly `wanted`; `step_down` is a PRIMARY that is not wanted.
    Reconcile {
        wanted: Vec<String>,
        step_down: Option<String>,
    },
}

/// The heart of following, pure: `desired` are the hosts of pods 0..N-1 (ordinal order),
/// `views` what each host that answered said (plus, possibly, a PRIMARY outside `desired`).
/// Wanted = desired hosts that are members already (kept even while they do not answer: a
/// restart or a reschedule is not a scale-down) or that answer now (added). Members outside
/// `desired` are removed: the StatefulSet no longer has their pod.
pub fn decide(desired: &[String], views: &[(String, View)], set_name: &str) -> Decision {
    let same = |a: &str, b: &str| norm(a) == norm(b);
    let answering = |h: &str| views.iter().any(|(v, _)| same(v, h));
    let ours: Vec<&(String, View)> = views
        .iter()
        .filter(|(_, v)| v.set_name.as_deref() == Some(set_name) && !v.members.is_empty())
        .collect();
    // The PRIMARY's view is the current config; otherwise any member's (they converge).
    let Some((_, config)) = ours
        .iter()
        .find(|(_, v)| v.writable_primary)
        .or_else(|| ours.first())
    else {
        return match desired.first() {
            None => Decision::Wait("the StatefulSet has 0 replicas: nothing to initiate".into()),
            Some(first) if !answering(first) => Decision::Wait(format!(
                "waiting for {first} to answer: the set is initiated on the first pod"
            )),
            Some(_) => {
                Decision::Initiate(desired.iter().filter(|h| answering(h)).cloned().collect())
            }
        };
    };
    if desired.is_empty() {
        return Decision::Wait(
            "the StatefulSet has 0 replicas: leaving the set's config alone (scale up to resume)"
                .into(),
        );
    }
    let is_member = |h: &str| config.members.iter().any(|m| same(m, h));
    let wanted: Vec<String> = desired
        .iter()
        .filter(|h| is_member(h) || answering(h))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Decision::Wait(format!(
            "no pod of the StatefulSet is a member or answers (members: {}): changing nothing",
            config.members.join(",")
        ));
    }
    let unchanged = wanted.len() == config.members.len() && wanted.iter().all(|h| is_member(h));
    if unchanged {
        return Decision::Nothing { members: wanted };
    }
    // Membership changes only while every member we keep answers: a reconfig while a voter is
    // away leaves less margin, and mongo-rs-init's reconcile waits for every listed member.
    if let Some(away) = wanted.iter().find(|h| !answering(h)) {
        return Decision::Wait(format!(
            "{away} is a member that does not answer (restarting or rescheduled?): it stays, and the set's members change once it is back"
        ));
    }
    let primary = ours
        .iter()
        .find(|(_, v)| v.writable_primary)
        .map(|(h, _)| h.clone())
        .or_else(|| config.primary.clone());
    let step_down = primary.filter(|p| !wanted.iter().any(|w| same(w, p)));
    Decision::Reconcile { wanted, step_down }
}

/// The loop: a pass every `interval`, each with its own deadline and watchdog. Prints a pass's
/// result only when it differs from the last one printed (a steady set prints nothing).
pub(crate) fn follow(
    f: &Follower,
    guard: &watch::PassWatch,
    timeout: Duration,
    interval: Duration,
    reporter: Reporter,
) -> Report {
    reporter.progress(format!(
        "following statefulset {}/{} for replica set {} (a pass every {}, each within {})",
        f.namespace,
        f.statefulset,
        f.set_name,
        duration::display(interval),
        duration::display(timeout)
    ));
    let mut last: Option<String> = None;
    loop {
        let deadline = Deadline::after(timeout);
        guard.begin(deadline);
        let r = pass(f, deadline, reporter);
        guard.end();
        if last.as_deref() != Some(r.reason.as_str()) {
            let line = reporter.render(&r, deadline.elapsed());
            if reporter.json || r.exit == sidecar::Exit::Ok {
                println!("{line}");
            } else {
                eprintln!("{line}");
            }
            last = Some(r.reason.clone());
        }
        std::thread::sleep(interval);
    }
}

/// One pass: read the StatefulSet, look at the pods, change what must change.
pub fn pass(f: &Follower, deadline: Deadline, reporter: Reporter) -> Report {
    let sts = match f.api.statefulset(&f.namespace, &f.statefulset, deadline) {
        Ok(s) => s,
        Err(e) => return e.into(),
    };
    let fields = |r: Report| {
        r.with("statefulset", format!("{}/{}", f.namespace, f.statefulset))
            .with("replicas", sts.replicas)
    };
    if sts.deleting {
        return fields(Report::ok(format!(
            "statefulset {}/{} is being deleted: changing nothing",
            f.namespace, f.statefulset
        )));
    }
    let what = format!("statefulset {}/{}", f.namespace, f.statefulset);
    if let Err(e) = service_for(&f.pattern, &sts, &what) {
        return fields(e.into());
    }
    let desired: Vec<String> = (0..sts.replicas)
        .map(|i| member_host(&f.pattern, &f.statefulset, i, &sts.service, &f.namespace))
        .collect();
    let views = match look(&desired, deadline) {
        Ok(v) => v,
        Err(e) => return fields(e.into()),
    };
    match decide(&desired, &views, &f.set_name) {
        Decision::Nothing { members } => fields(Report::ok(format!(
            "replica set {} has the {} members of statefulset {}/{}: {}",
            f.set_name,
            members.len(),
            f.namespace,
            f.statefulset,
            members.join(",")
        )))
        .with("changed", false)
        .with("members", members),
        Decision::Wait(why) => fields(Failure::unavailable(why).into()),
        Decision::Initiate(members) => fields(apply(f, &members, deadline, reporter)),
        Decision::Reconcile { wanted, step_down } => {
            if let Some(p) = step_down {
                if let Err(e) = step_down_primary(f, &p, deadline, reporter) {
                    return fields(e.into());
                }
            }
            fields(apply(f, &wanted, deadline, reporter))
        }
    }
}

/// hello to every desired host (bounded each), and to a PRIMARY named outside them. A host
/// that does not answer is absent (a pod not up yet); a TLS failure is not: a certificate
/// problem does not heal by waiting, so it ends the pass, final (exit 3), with its reason.
fn look(desired: &[String], deadline: Deadline) -> Result<Vec<(String, View)>, Failure> {
    let cap = Duration::from_secs(3);
    let ask = |h: &str| -> Result<Option<View>, Failure> {
        let Ok(hp) = HostPort::parse(h) else {
            return Ok(None);
        };
        let hello = Connection::connect(&hp, deadline, cap).and_then(|mut c| client::hello(&mut c));
        match hello {
            Ok(d) => Ok(Some(view(&d))),
            Err(e @ mongo_wire::Error::Tls { .. }) => Err(mongo_rs::classify(
                &e,
                &Context {
                    host: h.to_string(),
                    ..Context::default()
                },
            )),
            Err(_) => Ok(None),
        }
    };
    let mut out = Vec::new();
    for h in desired {
        if let Some(v) = ask(h)? {
            out.push((h.clone(), v));
        }
    }
    let outside = out
        .iter()
        .filter_map(|(_, v)| v.primary.clone())
        .find(|p| !desired.iter().any(|d| norm(d) == norm(p)));
    if let Some(p) = outside {
        if let Some(v) = ask(&p)? {
            out.push((p, v));
        }
    }
    Ok(out)
}

/// Initiate and/or reconcile to exactly `members`: mongo-rs-init's run, the same code and
/// output as `mongo-rs-init --reconcile --member ...`.
fn apply(f: &Follower, members: &[String], deadline: Deadline, reporter: Reporter) -> Report {
    match init_config(&f.set_name, f.cred.as_ref(), members) {
        Ok(p) => mongo_rs::init::run(&p, deadline, reporter).with("changed", true),
        Err(e) => e.into(),
    }
}

/// The config `mongo-rs-init --reconcile --replica-set SET --member ...` runs with: these
/// members (checked as mongod would: at most 50, none twice), our credentials, the default cap.
pub fn init_config(
    set_name: &str,
    cred: Option<&Credential>,
    members: &[String],
) -> Result<InitConfig, Failure> {
    let hosts = members
        .iter()
        .map(|m| {
            HostPort::parse(m)
                .map_err(|e| Failure::usage(format!("--member-host gives {m:?}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut p = InitConfig::new(
        set_name.to_string(),
        hosts,
        cred.cloned(),
        mongo_rs::init::DEFAULT_CAP,
    )?;
    p.reconcile = true;
    Ok(p)
}

/// replSetStepDown on a PRIMARY whose pod the StatefulSet no longer has: 60 s during which it
/// will not stand for election, up to 10 s for a SECONDARY to catch up. mongod may close the
/// connection as it steps down (older servers always did): that counts as done; the reconcile
/// that follows waits for the new PRIMARY and never removes a PRIMARY itself.
fn step_down_primary(
    f: &Follower,
    host: &str,
    deadline: Deadline,
    reporter: Reporter,
) -> Result<(), Failure> {
    let ctx = Context {
        host: host.to_string(),
        set_name: Some(f.set_name.clone()),
        username: f.cred.as_ref().map(|c| c.username.clone()),
        ..Context::default()
    };
    let fail = |e: mongo_wire::Error| mongo_rs::classify(&e, &ctx);
    let hp = HostPort::parse(host)
        .map_err(|e| Failure::refused(format!("PRIMARY {host:?} is not host:port: {e}")))?;
    reporter.progress(format!(
        "stepping down PRIMARY {host}: the StatefulSet no longer has its pod"
    ));
    let mut conn = Connection::connect(&hp, deadline, Duration::from_secs(10)).map_err(fail)?;
    if let Some(c) = &f.cred {
        conn.authenticate(c).map_err(fail)?;
    }
    let cmd = Doc::new()
        .with("replSetStepDown", 60)
        .with("secondaryCatchUpPeriodSecs", 10);
    match conn.command("admin", cmd) {
        Ok(_) => Ok(()),
        Err(mongo_wire::Error::Io { .. }) => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests;
