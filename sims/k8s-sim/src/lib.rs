//! k8s-sim: a test-only fake of the Kubernetes API calls mongo-rs-follow makes, answered as the
//! API server answers them (see README.md, fidelity ledger). HTTPS only, with a CA made at start
//! (written to --ca-out, as a pod finds ca.crt); a bearer token (--token-file) is required.
//!
//! The StatefulSet's spec.replicas is read from --replicas-file at every request: a test
//! "scales" by writing that file (what `kubectl scale` does through the scale subresource).
//! Absent file: the StatefulSet does not exist (404). One JSON log line per request on stdout.

use clap::Parser;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use sim_util::cli::Parsed;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// k8s-sim: test-only fake Kubernetes API (GET one StatefulSet), HTTPS with a fresh test CA.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "k8s-sim",
    after_help = "No token (or an empty one) is system:anonymous (--anonymous-auth=true), denied with 403.\n\
                  Exit codes: 0 ok, 2 usage, 3 cannot listen or write the CA.",
    args_override_self = true,
    max_term_width = 100
)]
pub struct Options {
    /// Listen there (port 0: any free port; the port is logged).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:0")]
    pub listen: String,
    /// Write the test CA certificate (PEM) there: the client's ca.crt.
    #[arg(long, value_name = "PATH", value_parser = non_empty_path)]
    pub ca_out: PathBuf,
    /// The one bearer token accepted (a service account's token).
    #[arg(long, value_name = "PATH", value_parser = non_empty_path)]
    pub token_file: PathBuf,
    /// spec.replicas of the StatefulSet, re-read at every request; absent: the StatefulSet does
    /// not exist (404 NotFound).
    #[arg(long, value_name = "PATH", value_parser = non_empty_path)]
    pub replicas_file: PathBuf,
    /// The StatefulSet's namespace.
    #[arg(long, value_name = "NS", default_value = "coquelicot")]
    pub namespace: String,
    /// Its name; the Role allows `get` on it only.
    #[arg(long, value_name = "NAME", default_value = "mongo")]
    pub statefulset: String,
    /// Its spec.serviceName.
    #[arg(long, value_name = "NAME", default_value = "mongo")]
    pub service: String,
    /// The caller's service account, for 403 messages.
    #[arg(long, value_name = "NAME", default_value = "mongo-rs-follow")]
    pub service_account: String,
    /// Its RoleBinding names a Role that does not exist: every request is 403 with the RBAC
    /// reason (role ... not found).
    #[arg(long)]
    pub role_missing: bool,
    /// An allowed GET answers 500 InternalError (etcd timed out).
    #[arg(long)]
    pub internal_error: bool,
    /// Error messages echo the request's Authorization header (a broken proxy; the client must
    /// never print the token).
    #[arg(long)]
    pub reflect_auth: bool,
}

fn non_empty_path(v: &str) -> Result<PathBuf, String> {
    if v.is_empty() {
        return Err("an empty path; give a file path".into());
    }
    Ok(PathBuf::from(v))
}

/// Parses argv (without the program name); `Ok(None)`: `--help` was printed.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    match sim_util::cli::parse::<Options>("k8s-sim", args)? {
        Parsed::Run(o) => Ok(Some(o)),
        Parsed::Help(text) => {
            print!("{text}");
            Ok(None)
        }
    }
}

pub fn main_with(args: Vec<String>) -> i32 {
    let o = match parse(&args) {
        Ok(Some(o)) => o,
        Ok(None) => return 0,
        Err(e) => {
            eprintln!("k8s-sim: {e}");
            return 2;
        }
    };
    let token = match std::fs::read_to_string(&o.token_file) {
        Ok(t) => t.trim().to_string(),
        Err(e) => {
            eprintln!("k8s-sim: --token-file: {e}");
            return 2;
        }
    };
    let (config, ca_pem) = match tls() {
        Ok(x) => x,
        Err(e) => {
            eprintln!("k8s-sim: making the test CA: {e}");
            return 3;
        }
    };
    if let Err(e) = std::fs::write(&o.ca_out, ca_pem) {
        eprintln!("k8s-sim: --ca-out: {e}");
        return 3;
    }
    let listener = match TcpListener::bind(&o.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("k8s-sim: cannot listen on {}: {e}", o.listen);
            return 3;
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    log(json!({"msg": "listening", "port": port}));
    let state = Arc::new(State {
        o,
        token,
        stored: Mutex::new(Stored {
            replicas: None,
            generation: 0,
            resource_version: 1000,
        }),
    });
    let config = Arc::new(config);
    for stream in listener.incoming().flatten() {
        let (state, config) = (Arc::clone(&state), Arc::clone(&config));
        std::thread::spawn(move || serve(stream, config, &state));
    }
    0
}

fn log(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// A CA (the cluster's, as in ca.crt) and a server certificate it signed for 127.0.0.1 and
/// localhost (as the API server's is for its service IP and names).
fn tls() -> Result<(rustls::ServerConfig, String), String> {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let e = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "k8s-sim test CA");
    let ca = ca_params.self_signed(&ca_key).map_err(e)?;
    let key = KeyPair::generate().map_err(e)?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .map_err(e)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kube-apiserver");
    let cert = params.signed_by(&key, &ca, &ca_key).map_err(e)?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| e.to_string())?;
    Ok((config, ca.pem()))
}

struct State {
    o: Options,
    token: String,
    /// The object as last written: generation and resourceVersion move when replicas change.
    stored: Mutex<Stored>,
}

fn serve(tcp: TcpStream, config: Arc<rustls::ServerConfig>, state: &State) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // Request head only (GET has no body), bounded: 64 lines of at most 8 KiB.
    let mut reader = BufReader::new((&mut tls).take(64 * 1024));
    let mut head = Vec::new();
    for _ in 0..64 {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line.trim_end().to_string());
    }
    drop(reader);
    let Some(first) = head.first() else { return };
    let mut parts = first.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let auth = head.iter().skip(1).find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.eq_ignore_ascii_case("authorization")
            .then(|| v.trim().to_string())
    });
    let (code, body) = answer(state, &method, &path, auth.as_deref());
    log(
        json!({"msg": "request", "method": method, "path": path, "code": code,
               "replicas": body["spec"]["replicas"]}),
    );
    let text = body.to_string();
    let reason = match code {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Method Not Allowed",
    };
    // HEAD: the same head, no body.
    let shown = if method == "HEAD" { "" } else { text.as_str() };
    let resp = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{shown}",
        text.len()
    );
    let _ = tls.write_all(resp.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// The StatefulSet as stored when a request arrives (`replicas` None: it does not exist).
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub replicas: Option<u32>,
    pub generation: u64,
    pub resource_version: u64,
}

/// What the API server makes of a request path and method (apiserver
/// `pkg/endpoints/request/requestinfo.go`): a resource request names group, namespace,
/// resource, name and subresource; anything else is a non-resource path.
#[derive(Debug, Default, PartialEq)]
pub struct RequestInfo {
    pub resource_request: bool,
    pub verb: String,
    pub group: String,
    pub namespace: String,
    pub resource: String,
    pub name: String,
    pub subresource: String,
}

pub fn request_info(method: &str, path: &str) -> RequestInfo {
    let seg: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, rest) = match seg.as_slice() {
        ["api", _version, rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", group, _version, rest @ ..] if !rest.is_empty() => (*group, rest),
        _ => {
            return RequestInfo {
                verb: method.to_ascii_lowercase(),
                ..RequestInfo::default()
            }
        }
    };
    let (namespace, rest): (&str, &[&str]) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (ns, rest),
        _ => ("", rest),
    };
    let name = rest.get(1).copied().unwrap_or("");
    // GET and HEAD are both `get` (`list` without a name); the other methods as RBAC names them.
    let verb = match method {
        "GET" | "HEAD" if name.is_empty() => "list",
        "GET" | "HEAD" => "get",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if name.is_empty() => "deletecollection",
        "DELETE" => "delete",
        other => return RequestInfo::default_with_verb(other),
    };
    RequestInfo {
        resource_request: true,
        verb: verb.into(),
        group: group.into(),
        namespace: namespace.into(),
        resource: rest[0].into(),
        name: name.into(),
        subresource: rest.get(2).copied().unwrap_or("").into(),
    }
}

impl RequestInfo {
    fn default_with_verb(method: &str) -> RequestInfo {
        RequestInfo {
            verb: method.to_ascii_lowercase(),
            ..RequestInfo::default()
        }
    }
}

/// The bearer token of an Authorization header, as apiserver
/// `pkg/authentication/request/bearertoken/bearertoken.go` finds it: the scheme is matched
/// case-insensitively, and no header, another scheme or an empty token is "no opinion" (None).
fn bearer(auth: Option<&str>) -> Option<&str> {
    let mut parts = auth?.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The API server's answer: authentication first (a token that fails: 401; no token:
/// `system:anonymous`, since `--anonymous-auth` defaults to true), then authorization (403:
/// the Role allows `get` on one StatefulSet to the service account), then the object (404).
pub fn answer_for(
    o: &Options,
    token: &str,
    stored: Stored,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Value) {
    let user = match bearer(auth) {
        // union.NewFailOnError(bearer, anonymous): anonymous only when no token was given.
        None => "system:anonymous".to_string(),
        Some(t) if t == token => format!(
            "system:serviceaccount:{}:{}",
            o.namespace, o.service_account
        ),
        // filters/authentication.go `Unauthorized`: apierrors.NewUnauthorized("Unauthorized").
        Some(_) => return (401, status(401, "Unauthorized", "Unauthorized", None)),
    };
    let path = path.split('?').next().unwrap_or("");
    let ri = request_info(method, path);
    let allowed = user.starts_with("system:serviceaccount:")
        && !o.role_missing
        && ri.resource_request
        && ri.verb == "get"
        && (
            ri.group.as_str(),
            ri.resource.as_str(),
            ri.subresource.as_str(),
        ) == ("apps", "statefulsets", "")
        && ri.namespace == o.namespace
        && ri.name == o.statefulset;
    if !allowed {
        // A RoleBinding whose Role is missing: RBAC's rule resolution error is the reason.
        let reason = (o.role_missing && user.starts_with("system:serviceaccount:")).then(|| {
            format!(
                "RBAC: role.rbac.authorization.k8s.io \"{}\" not found",
                o.service_account
            )
        });
        return (403, forbidden(&ri, &user, path, reason.as_deref()));
    }
    let details = || json!({"name": ri.name, "group": "apps", "kind": "statefulsets"});
    if o.internal_error {
        let cause = "etcdserver: request timed out";
        return (
            500,
            status(
                500,
                "InternalError",
                &format!("Internal error occurred: {cause}"),
                Some(json!({"causes": [{"message": cause}]})),
            ),
        );
    }
    let Some(replicas) = stored.replicas else {
        return (
            404,
            status(
                404,
                "NotFound",
                &format!("statefulsets.apps \"{}\" not found", ri.name),
                Some(details()),
            ),
        );
    };
    (
        200,
        statefulset(o, replicas, stored.generation, stored.resource_version),
    )
}

/// responsewriters `ForbiddenStatusError` (message from `forbiddenMessage`, `: reason` appended
/// when the authorizer gave one) through apimachinery `NewForbidden`: message prefix and
/// details from the group/resource and name (all empty, `{}`, for a non-resource path).
fn forbidden(ri: &RequestInfo, user: &str, path: &str, reason: Option<&str>) -> Value {
    let mut msg = if !ri.resource_request {
        format!("User \"{user}\" cannot {} path \"{path}\"", ri.verb)
    } else {
        let resource = if ri.subresource.is_empty() {
            ri.resource.clone()
        } else {
            format!("{}/{}", ri.resource, ri.subresource)
        };
        let scope = if ri.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace \"{}\"", ri.namespace)
        };
        format!(
            "User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
            ri.verb, ri.group
        )
    };
    if let Some(r) = reason {
        msg = format!("{msg}: {r}");
    }
    let gr = if ri.group.is_empty() {
        ri.resource.clone()
    } else {
        format!("{}.{}", ri.resource, ri.group)
    };
    let message = match (gr.is_empty(), ri.name.is_empty()) {
        (true, _) => format!("forbidden: {msg}"),
        (false, true) => format!("{gr} is forbidden: {msg}"),
        (false, false) => format!("{gr} \"{}\" is forbidden: {msg}", ri.name),
    };
    // StatusDetails: every field omitempty.
    let mut details = serde_json::Map::new();
    for (k, v) in [
        ("name", &ri.name),
        ("group", &ri.group),
        ("kind", &ri.resource),
    ] {
        if !v.is_empty() {
            details.insert(k.into(), v.clone().into());
        }
    }
    status(403, "Forbidden", &message, Some(Value::Object(details)))
}

fn answer(state: &State, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let replicas = std::fs::read_to_string(&state.o.replicas_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    // resourceVersion and generation move only when the object is written (a scale).
    let stored = {
        let mut s = state.stored.lock().unwrap_or_else(|p| p.into_inner());
        if replicas.is_some() && s.replicas != replicas {
            s.replicas = replicas;
            s.generation += 1;
            s.resource_version += 1;
        }
        Stored { replicas, ..*s }
    };
    let (code, mut body) = answer_for(&state.o, &state.token, stored, method, path, auth);
    if state.o.reflect_auth && code != 200 {
        // A broken proxy or authorizer that echoes the request: the client must not print it.
        let m = body["message"].as_str().unwrap_or("").to_string();
        body["message"] = format!("{m} (request Authorization: {})", auth.unwrap_or("")).into();
    }
    (code, body)
}

/// metav1.Status, as every API error is encoded (apimachinery/pkg/apis/meta/v1/types.go).
fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> Value {
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(d) = details {
        v["details"] = d;
    }
    v
}

/// An apps/v1 StatefulSet as GET returns it from a 1.35 API server (defaults filled in, including
/// `rollingUpdate.maxUnavailable: 1`, defaulted since MaxUnavailableStatefulSet went Beta in 1.35).
fn statefulset(o: &Options, replicas: u32, generation: u64, rv: u64) -> Value {
    let labels = json!({"app.kubernetes.io/name": o.statefulset});
    json!({
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": o.statefulset,
            "namespace": o.namespace,
            "uid": "0b6c2a5e-8f1d-4c3e-9a77-5d2b1f3e4c01",
            "resourceVersion": rv.to_string(),
            "generation": generation,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": labels,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [{
                        "name": "mongod",
                        "image": "mongo:7.0",
                        "args": ["mongod", "--replSet", "rs0", "--bind_ip_all"],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File",
                        "imagePullPolicy": "IfNotPresent",
                    }],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 60,
                    "dnsPolicy": "ClusterFirst",
                    "securityContext": {},
                    "schedulerName": "default-scheduler",
                },
            },
            "serviceName": o.service,
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 1}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
        "status": {
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "availableReplicas": replicas,
            "currentRevision": format!("{}-7d9f8c6b5d", o.statefulset),
            "updateRevision": format!("{}-7d9f8c6b5d", o.statefulset),
            "collisionCount": 0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        parse(&[
            "--ca-out".into(),
            "/x".into(),
            "--token-file".into(),
            "/t".into(),
            "--replicas-file".into(),
            "/r".into(),
            "--namespace".into(),
            "chat".into(),
        ])
        .unwrap()
        .unwrap()
    }

    const P: &str = "/apis/apps/v1/namespaces/chat/statefulsets/mongo";

    #[test]
    fn authentication_then_authorization_then_the_object() {
        let o = opts();
        let a = |path: &str, auth: Option<&str>, r: Option<u32>| {
            answer_for(
                &o,
                "tok",
                Stored {
                    replicas: r,
                    generation: 1,
                    resource_version: 7,
                },
                "GET",
                path,
                auth,
            )
        };
        // No token, or an empty one: system:anonymous, denied by RBAC (403), not 401.
        for none in [None, Some("Bearer "), Some("Basic dTpw")] {
            let (c, v) = a(P, none, Some(3));
            assert_eq!(c, 403, "{none:?}");
            assert_eq!(v["message"], "statefulsets.apps \"mongo\" is forbidden: User \"system:anonymous\" cannot get resource \"statefulsets\" in API group \"apps\" in the namespace \"chat\"");
            assert_eq!(
                v["details"],
                json!({"name": "mongo", "group": "apps", "kind": "statefulsets"})
            );
        }
        let (c, v) = a(P, Some("Bearer nope"), Some(3));
        assert_eq!((c, v["message"].as_str()), (401, Some("Unauthorized")));
        assert!(v.get("details").is_none());
        // The scheme is matched case-insensitively.
        assert_eq!(a(P, Some("bearer tok"), Some(3)).0, 200);
        let (c, v) = a(P, Some("Bearer tok"), Some(3));
        assert_eq!(c, 200);
        assert_eq!(v["spec"]["replicas"], 3);
        assert_eq!(v["spec"]["serviceName"], "mongo");
        assert_eq!(v["metadata"]["resourceVersion"], "7");
        let (c, v) = a(
            "/apis/apps/v1/namespaces/chat/statefulsets/other",
            Some("Bearer tok"),
            Some(3),
        );
        assert_eq!(c, 403);
        assert!(v["message"]
            .as_str()
            .unwrap()
            .starts_with("statefulsets.apps \"other\" is forbidden: User \"system:serviceaccount:chat:mongo-rs-follow\" cannot get resource"));
        assert_eq!(
            a("/api/v1/namespaces/chat/pods", Some("Bearer tok"), Some(3)).0,
            403
        );
        let (c, v) = a(P, Some("Bearer tok"), None);
        assert_eq!(
            (c, v["message"].as_str()),
            (404, Some("statefulsets.apps \"mongo\" not found"))
        );
        assert_eq!(
            answer_for(
                &o,
                "tok",
                Stored {
                    replicas: Some(3),
                    generation: 1,
                    resource_version: 1
                },
                "PATCH",
                P,
                Some("Bearer tok")
            )
            .0,
            403
        );
    }

    #[test]
    fn forbidden_shapes_follow_the_request() {
        let mut o = opts();
        let s = Stored {
            replicas: Some(3),
            generation: 1,
            resource_version: 1,
        };
        let sa = "system:serviceaccount:chat:mongo-rs-follow";
        let (_, v) = answer_for(
            &o,
            "tok",
            s,
            "GET",
            "/api/v1/namespaces/chat/secrets",
            Some("Bearer tok"),
        );
        assert_eq!(v["message"], format!("secrets is forbidden: User \"{sa}\" cannot list resource \"secrets\" in API group \"\" in the namespace \"chat\""));
        assert_eq!(v["details"], json!({"kind": "secrets"}));
        let (_, v) = answer_for(
            &o,
            "tok",
            s,
            "PATCH",
            &format!("{P}/scale"),
            Some("Bearer tok"),
        );
        assert!(v["message"]
            .as_str()
            .unwrap()
            .contains("cannot patch resource \"statefulsets/scale\""));
        let (_, v) = answer_for(&o, "tok", s, "GET", "/healthz", Some("Bearer tok"));
        assert_eq!(
            v["message"],
            format!("forbidden: User \"{sa}\" cannot get path \"/healthz\"")
        );
        assert_eq!(v["details"], json!({}));
        // HEAD is the verb get: allowed as GET is.
        assert_eq!(
            answer_for(&o, "tok", s, "HEAD", P, Some("Bearer tok")).0,
            200
        );
        o.role_missing = true;
        let (c, v) = answer_for(&o, "tok", s, "GET", P, Some("Bearer tok"));
        assert_eq!(c, 403);
        assert!(v["message"].as_str().unwrap().ends_with("in the namespace \"chat\": RBAC: role.rbac.authorization.k8s.io \"mongo-rs-follow\" not found"), "{v}");
        o.role_missing = false;
        o.internal_error = true;
        let (c, v) = answer_for(&o, "tok", s, "GET", P, Some("Bearer tok"));
        assert_eq!((c, v["reason"].as_str()), (500, Some("InternalError")));
    }

    #[test]
    fn usage() {
        assert!(parse(&["--bogus".into()]).is_err());
        assert!(parse(&[]).unwrap_err().contains("--ca-out"));
        let e = parse(&["--ca-out".into(), "".into()]).unwrap_err();
        assert!(e.contains("--ca-out") && !e.contains('\n'), "{e}");
    }
}
