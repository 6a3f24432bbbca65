//! The one Kubernetes API call: `GET /apis/apps/v1/namespaces/{ns}/statefulsets/{name}` with the
//! pod's service-account token, over TLS trusting only the cluster's CA (ca.crt), as in-cluster
//! clients do (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/).

use sidecar::{text, Deadline, Failure};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// What we read from the StatefulSet.
#[derive(Debug, Clone, PartialEq)]
pub struct StatefulSet {
    /// spec.replicas ("Defaults to 1" in the API reference when absent).
    pub replicas: u32,
    /// spec.serviceName: the headless Service that names the pods. `""` is a real answer (the
    /// field has no omitempty and is optional): the caller decides whether it needs one.
    pub service: String,
    /// metadata.deletionTimestamp is set: the StatefulSet is going away; change nothing.
    pub deleting: bool,
}

pub struct Api {
    base: String,
    /// Re-read before every request: the kubelet rotates projected service-account tokens
    /// (the file is replaced well before the old token expires).
    token_file: std::path::PathBuf,
    agent: ureq::Agent,
}

/// Largest StatefulSet body we read (a real one is a few KiB; managedFields included).
const MAX_BODY: u64 = 1 << 20;

impl Api {
    /// `base` like `https://10.0.0.1:443`; the token and CA are read now (usage errors, exit 2).
    pub fn new(base: &str, token_file: &Path, ca_file: &Path) -> Result<Api, Failure> {
        let Some(rest) = base.strip_prefix("https://") else {
            return Err(Failure::usage(format!(
                "--api-server {:?}: must be an https:// URL (the API server is only spoken to over TLS)",
                text::server(base)
            )));
        };
        let authority = rest.split('/').next().unwrap_or("");
        sidecar::host::check_authority(authority).map_err(|why| {
            Failure::usage(format!(
                "--api-server {:?}: {why} (give https://HOST:PORT)",
                text::server(base)
            ))
        })?;
        // The token is a secret: read capped and registered for redaction at once.
        sidecar::secret::read_file(token_file, "--token-file")?;
        let (pem, _) =
            sidecar::file::read_capped(ca_file, sidecar::file::PEM_FILE_MAX, "--ca-file")?;
        let config = tls_config(&pem)
            .map_err(|why| Failure::usage(format!("CA file {}: {why}", ca_file.display())))?;
        let agent = ureq::AgentBuilder::new()
            .user_agent(concat!(
                "coquelicot-mongo-rs-follow/",
                env!("CARGO_PKG_VERSION")
            ))
            .redirects(0)
            .tls_config(Arc::new(config))
            .build();
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            token_file: token_file.to_path_buf(),
            agent,
        })
    }

    pub fn statefulset(
        &self,
        namespace: &str,
        name: &str,
        deadline: Deadline,
    ) -> Result<StatefulSet, Failure> {
        let path = format!("/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}");
        let what = format!("statefulset {namespace}/{name}");
        let token = sidecar::secret::read_file(&self.token_file, "--token-file")?;
        let _waiting = sidecar::watchdog::scope(format!(
            "the Kubernetes API {} to answer GET {path}",
            self.base
        ));
        let resp = self
            .agent
            .get(&format!("{}{path}", self.base))
            .timeout(deadline.timeout(Duration::from_secs(10)))
            .set("Authorization", &format!("Bearer {}", token.expose()))
            .set("Accept", "application/json")
            .call();
        let (code, body) = match resp {
            Ok(r) => (r.status(), read_body(r)?),
            Err(ureq::Error::Status(code, r)) => (code, read_body(r).unwrap_or_default()),
            Err(ureq::Error::Transport(t)) => {
                return Err(Failure::unavailable(format!(
                    "Kubernetes API {} unreachable reading {what}: {}",
                    self.base,
                    t.kind()
                )))
            }
        };
        if code != 200 {
            return Err(status_failure(code, &body, &what));
        }
        parse_statefulset(&body).map_err(|why| {
            Failure::unavailable(format!("{what}: unexpected answer from the API: {why}"))
        })
    }
}

fn read_body(r: ureq::Response) -> Result<String, Failure> {
    use std::io::Read;
    let mut s = String::new();
    r.into_reader()
        .take(MAX_BODY)
        .read_to_string(&mut s)
        .map_err(|e| Failure::unavailable(format!("reading the API answer: {e}")))?;
    Ok(s)
}

/// Trust exactly the certificates in `pem` (no system roots: the cluster CA is private).
pub fn tls_config(pem: &[u8]) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("not a PEM certificate ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("unusable certificate ({e})"))?;
    }
    if roots.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// An API error answer is a `Status` object (kind Status, apiVersion v1: reason, message, code).
/// 401/403/404 cannot heal by waiting: exit 3 with what to fix. Its message is server text:
/// masked (it may echo our token), escaped and bounded by [`api_message`].
pub fn status_failure(code: u16, body: &str, what: &str) -> Failure {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let reason = text::server(v["reason"].as_str().unwrap_or(""));
    let message = api_message(v["message"].as_str().unwrap_or(""));
    match code {
        401 => Failure::refused(format!(
            "Kubernetes API refused the service-account token reading {what} (401 Unauthorized): mount the pod's token (automountServiceAccountToken) or fix --token-file"
        )),
        403 => Failure::refused(format!(
            "not allowed to get {what} (403 Forbidden: {message}): bind a Role allowing `get` on statefulsets named {} to this service account",
            what.rsplit('/').next().unwrap_or(what)
        )),
        404 => Failure::refused(format!(
            "{what} not found (404 {reason}): check --statefulset and --namespace"
        )),
        _ => Failure::unavailable(format!(
            "Kubernetes API answered {code} {reason} reading {what}: {message}"
        )),
    }
}

/// A Status message for our output. Secrets are masked BEFORE any cut (a cut through an
/// echoed token would leave a piece the redaction no longer recognises). An RBAC denial ends
/// with `: RBAC: <why>` (responsewriters `ForbiddenStatusError`), the part that says what to
/// fix: it is kept, bounded on its own, however long the user and namespace names before it.
pub fn api_message(raw: &str) -> String {
    let masked = sidecar::redact::mask(raw);
    match masked.rsplit_once(": RBAC: ") {
        Some((head, rbac)) => format!("{}: RBAC: {}", text::server(head), text::server(rbac)),
        None => text::server(&masked),
    }
}

pub fn parse_statefulset(body: &str) -> Result<StatefulSet, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    if v["kind"] != "StatefulSet" {
        return Err(format!(
            "kind {} instead of StatefulSet",
            text::server(&v["kind"].to_string())
        ));
    }
    let replicas = match &v["spec"]["replicas"] {
        serde_json::Value::Null => 1,
        r => r
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| {
                format!(
                    "spec.replicas {} is not a count",
                    text::server(&r.to_string())
                )
            })?,
    };
    // Absent or "" both mean: no governing Service (the caller refuses it if it needs one).
    let service = match &v["spec"]["serviceName"] {
        serde_json::Value::Null => String::new(),
        s => s
            .as_str()
            .ok_or_else(|| {
                format!(
                    "spec.serviceName {} is not a string",
                    text::server(&s.to_string())
                )
            })?
            .to_string(),
    };
    Ok(StatefulSet {
        replicas,
        service,
        deleting: !v["metadata"]["deletionTimestamp"].is_null(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidecar::Exit;

    #[test]
    fn reads_replicas_and_service_name() {
        let body = r#"{"kind":"StatefulSet","apiVersion":"apps/v1","metadata":{"name":"mongo"},
            "spec":{"replicas":5,"serviceName":"mongo"},"status":{"replicas":3}}"#;
        assert_eq!(
            parse_statefulset(body),
            Ok(StatefulSet {
                replicas: 5,
                service: "mongo".into(),
                deleting: false
            })
        );
        // Absent replicas defaults to 1 (API reference), 0 is a real size.
        let one = r#"{"kind":"StatefulSet","spec":{"serviceName":"db"}}"#;
        assert_eq!(parse_statefulset(one).unwrap().replicas, 1);
        let zero = r#"{"kind":"StatefulSet","spec":{"replicas":0,"serviceName":"db"},
            "metadata":{"deletionTimestamp":"2026-01-01T00:00:00Z"}}"#;
        let z = parse_statefulset(zero).unwrap();
        assert!(z.replicas == 0 && z.deleting);
        for bad in [
            "nope",
            r#"{"kind":"Status"}"#,
            r#"{"kind":"StatefulSet","spec":{"replicas":-1,"serviceName":"x"}}"#,
            r#"{"kind":"StatefulSet","spec":{"replicas":3,"serviceName":7}}"#,
        ] {
            assert!(parse_statefulset(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn api_errors_say_what_to_fix() {
        let forbidden = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"statefulsets.apps \"mongo\" is forbidden: User \"system:serviceaccount:ns:x\" cannot get resource \"statefulsets\"","reason":"Forbidden","code":403}"#;
        let f = status_failure(403, forbidden, "statefulset ns/mongo");
        assert_eq!(f.exit, Exit::Refused);
        assert!(f.message.contains("Role allowing `get`") && f.message.contains("named mongo"));
        assert_eq!(status_failure(401, "", "s").exit, Exit::Refused);
        assert!(status_failure(404, "{}", "statefulset ns/db")
            .message
            .contains("--namespace"));
        // An unset serviceName is "" (no omitempty): read as such, not as a broken answer.
        let none = r#"{"kind":"StatefulSet","spec":{"replicas":3,"serviceName":""}}"#;
        assert_eq!(parse_statefulset(none).unwrap().service, "");
        let busy = status_failure(503, "{\"message\":\"a\\nb\"}", "s");
        assert_eq!(busy.exit, Exit::Unavailable);
        assert!(!busy.message.contains('\n'));
    }

    #[test]
    fn a_long_rbac_denial_keeps_its_reason() {
        let user = format!(
            "system:serviceaccount:{}:{}",
            "n".repeat(63),
            "s".repeat(200)
        );
        let raw = format!("statefulsets.apps \"mongo\" is forbidden: User \"{user}\" cannot get resource \"statefulsets\" in API group \"apps\" in the namespace \"ns\": RBAC: role.rbac.authorization.k8s.io \"mongo-rs-follow\" not found");
        let shown = api_message(&raw);
        assert!(shown.contains("(cut)"), "{shown}");
        assert!(
            shown.ends_with(": RBAC: role.rbac.authorization.k8s.io \"mongo-rs-follow\" not found"),
            "{shown}"
        );
        assert!(shown.chars().count() < 2 * text::SERVER_TEXT_MAX + 20);
        // Server text is escaped, not filtered: a newline is shown as \n, on one line.
        assert_eq!(api_message("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
    }

    #[test]
    fn an_echoed_token_is_masked_before_the_cut() {
        let token = "tok-9f8e7d6c5b4a";
        sidecar::Secret::new(token);
        for pad in 280..300 {
            let raw = format!("{} Bearer {token}", "x".repeat(pad));
            let shown = api_message(&raw);
            assert!(!shown.contains("tok-"), "pad {pad}: {shown}");
        }
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        assert!(tls_config(b"").is_err());
        assert!(
            tls_config(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
        );
    }
}
