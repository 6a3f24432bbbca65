//! k8s-sim: a test-only fake of the Kubernetes API calls mongo-rs-follow makes, answered as the
//! API server answers them (see README.md, fidelity ledger). HTTPS only, with a CA made at start
//! (written to --ca-out, as a pod finds ca.crt); a bearer token (--token-file) is required.
//!
//! The StatefulSet's spec.replicas is read from --replicas-file at every request: a test
//! "scales" by writing that file (what `kubectl scale` does through the scale subresource).
//! Absent file: the StatefulSet does not exist (404). One JSON log line per request on stdout.

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const USAGE: &str = "\
k8s-sim: test-only fake Kubernetes API (GET one StatefulSet), HTTPS with a fresh test CA

USAGE: k8s-sim --ca-out PATH --token-file PATH --replicas-file PATH [options]

  --listen IP:PORT        listen there (default 127.0.0.1:0; the port is logged)
  --ca-out PATH           write the test CA certificate (PEM) there: the client's ca.crt
  --token-file PATH       the one bearer token accepted (a service account's token)
  --replicas-file PATH    spec.replicas of the StatefulSet, re-read at every request;
                          absent: the StatefulSet does not exist (404 NotFound)
  --namespace NS          the StatefulSet's namespace (default coquelicot)
  --statefulset NAME      its name (default mongo); the Role allows `get` on it only
  --service NAME          its spec.serviceName (default mongo)
  --service-account NAME  the caller's service account, for 403 messages (default mongo-rs-follow)
Exit codes: 0 ok, 2 usage, 3 cannot listen or write the CA.
";

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: String,
    pub ca_out: PathBuf,
    pub token_file: PathBuf,
    pub replicas_file: PathBuf,
    pub namespace: String,
    pub statefulset: String,
    pub service: String,
    pub service_account: String,
}

pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".into(),
        ca_out: PathBuf::new(),
        token_file: PathBuf::new(),
        replicas_file: PathBuf::new(),
        namespace: "coquelicot".into(),
        statefulset: "mongo".into(),
        service: "mongo".into(),
        service_account: "mongo-rs-follow".into(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--listen" => o.listen = val()?,
            "--ca-out" => o.ca_out = val()?.into(),
            "--token-file" => o.token_file = val()?.into(),
            "--replicas-file" => o.replicas_file = val()?.into(),
            "--namespace" => o.namespace = val()?,
            "--statefulset" => o.statefulset = val()?,
            "--service" => o.service = val()?,
            "--service-account" => o.service_account = val()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    for (name, p) in [
        ("--ca-out", &o.ca_out),
        ("--token-file", &o.token_file),
        ("--replicas-file", &o.replicas_file),
    ] {
        if p.as_os_str().is_empty() {
            return Err(format!("{name} is required"));
        }
    }
    Ok(o)
}

pub fn main_with(args: Vec<String>) -> i32 {
    let o = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("k8s-sim: {e}\n{USAGE}");
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
        generation: Mutex::new((None, 0)),
        resource_version: AtomicU64::new(1000),
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
    /// (last replicas seen, metadata.generation): generation moves when the spec changes.
    generation: Mutex<(Option<u32>, u64)>,
    resource_version: AtomicU64,
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
        _ => "Method Not Allowed",
    };
    let resp = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = tls.write_all(resp.as_bytes());
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// The API server's answer: authentication first (401), then authorization (403: the Role
/// allows `get` on one StatefulSet), then the object (404 when absent).
/// The StatefulSet as stored when a request arrives (`replicas` None: it does not exist).
#[derive(Clone, Copy, Debug)]
pub struct Stored {
    pub replicas: Option<u32>,
    pub generation: u64,
    pub resource_version: u64,
}

pub fn answer_for(
    o: &Options,
    token: &str,
    stored: Stored,
    method: &str,
    path: &str,
    auth: Option<&str>,
) -> (u16, Value) {
    if auth != Some(&format!("Bearer {token}")) {
        // responsewriters.Unauthorized (apiserver/pkg/endpoints/handlers/responsewriters).
        return (401, status(401, "Unauthorized", "Unauthorized", None));
    }
    let path = path.split('?').next().unwrap_or("");
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    let user = format!(
        "system:serviceaccount:{}:{}",
        o.namespace, o.service_account
    );
    let is_sts = seg.len() == 7
        && seg[..3] == ["apis", "apps", "v1"]
        && seg[3] == "namespaces"
        && seg[5] == "statefulsets";
    if !is_sts {
        // RBAC denies every other resource to this service account.
        return (
            403,
            status(
                403,
                "Forbidden",
                &format!(
                    "forbidden: User \"{user}\" cannot {} path \"{path}\"",
                    verb(method)
                ),
                None,
            ),
        );
    }
    let (ns, name) = (seg[4], seg[6]);
    if method != "GET" || ns != o.namespace || name != o.statefulset {
        let details = json!({"name": name, "group": "apps", "kind": "statefulsets"});
        return (
            403,
            status(
                403,
                "Forbidden",
                &format!(
                    "statefulsets.apps \"{name}\" is forbidden: User \"{user}\" cannot {} resource \"statefulsets\" in API group \"apps\" in the namespace \"{ns}\"",
                    verb(method)
                ),
                Some(details),
            ),
        );
    }
    let Some(replicas) = stored.replicas else {
        let details = json!({"name": name, "group": "apps", "kind": "statefulsets"});
        return (
            404,
            status(
                404,
                "NotFound",
                &format!("statefulsets.apps \"{name}\" not found"),
                Some(details),
            ),
        );
    };
    (
        200,
        statefulset(o, replicas, stored.generation, stored.resource_version),
    )
}

fn answer(state: &State, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let replicas = std::fs::read_to_string(&state.o.replicas_file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    let generation = {
        let mut g = state.generation.lock().unwrap_or_else(|p| p.into_inner());
        if replicas.is_some() && g.0 != replicas {
            *g = (replicas, g.1 + 1);
        }
        g.1
    };
    let rv = state.resource_version.fetch_add(1, Ordering::Relaxed);
    let stored = Stored {
        replicas,
        generation,
        resource_version: rv,
    };
    answer_for(&state.o, &state.token, stored, method, path, auth)
}

/// The request verb RBAC sees for an HTTP method (GET on a named object is `get`).
fn verb(method: &str) -> String {
    match method {
        "GET" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        "POST" => "create",
        other => return other.to_ascii_lowercase(),
    }
    .to_string()
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

/// An apps/v1 StatefulSet as GET returns it (defaults filled in by the API server).
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
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
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
        let (c, v) = a(P, None, Some(3));
        assert_eq!((c, v["reason"].as_str()), (401, Some("Unauthorized")));
        assert_eq!(a(P, Some("Bearer nope"), Some(3)).0, 401);
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
    fn usage() {
        assert!(parse(&["--bogus".into()]).is_err());
        assert!(parse(&[]).unwrap_err().contains("--ca-out"));
    }
}
