//! `--ca-file` (env `ROCKETCHAT_CA_FILE`) for both rc binaries: a private CA trusted IN
//! ADDITION to the bundled Mozilla roots (webpki-roots; a scratch image has no system store).
//! The flag is defined once here ([`CaArgs`], flattened into each binary's clap struct) and
//! the config is installed once per process before the first [`crate::Client`] is built.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use sidecar::Failure;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

#[derive(clap::Args, Debug, Clone, Default)]
pub struct CaArgs {
    /// PEM file of a private CA to trust besides the bundled public roots (https only).
    #[arg(long, env = "ROCKETCHAT_CA_FILE")]
    pub ca_file: Option<PathBuf>,
}

static PROCESS: OnceLock<Arc<ClientConfig>> = OnceLock::new();

impl CaArgs {
    /// Reads the CA file (usage error, exit 2, when it cannot be used) and installs the
    /// config for every client of this process. Without `--ca-file` nothing changes.
    pub fn install(&self) -> Result<(), Failure> {
        let Some(path) = &self.ca_file else {
            return Ok(());
        };
        let config = config_with_ca(path).map_err(Failure::usage)?;
        let _ = PROCESS.set(config);
        Ok(())
    }
}

pub(crate) fn process_config() -> Option<Arc<ClientConfig>> {
    PROCESS.get().cloned()
}

/// The bundled roots plus every certificate in `path`.
pub fn config_with_ca(path: &Path) -> Result<Arc<ClientConfig>, String> {
    let shown = path.display();
    let (pem, _) = sidecar::file::read_capped(path, sidecar::file::PEM_FILE_MAX, "--ca-file")
        .map_err(|f| f.message)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--ca-file {shown}: not a PEM file: {e}"))?;
    if certs.is_empty() {
        return Err(format!("--ca-file {shown}: no CERTIFICATE in it"));
    }
    let mut roots = bundled_roots();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| format!("--ca-file {shown}: unusable CA certificate: {e}"))?;
    }
    config_trusting(roots)
}

fn bundled_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

fn config_trusting(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The config of this process's clients: `--ca-file`'s, else the bundled roots (as ureq's).
pub(crate) fn client_config() -> Result<Arc<ClientConfig>, String> {
    match process_config() {
        Some(c) => Ok(c),
        None => config_trusting(bundled_roots()),
    }
}

/// A certificate problem found in a transport error's source chain, in operator words:
/// such an error is final (exit 3), not "Rocket.Chat is not answering".
pub(crate) fn certificate_problem(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(e);
    while let Some(s) = source {
        // io::Error::source() skips the error it wraps: look inside it too.
        let inner = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(c)) =
            inner.or_else(|| s.downcast_ref::<rustls::Error>())
        {
            use rustls::CertificateError as C;
            return Some(match c {
                C::UnknownIssuer => "the server's certificate is signed by an unknown issuer (unknown CA): pass its CA with --ca-file (ROCKETCHAT_CA_FILE)".into(),
                C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
                C::NotValidForName | C::NotValidForNameContext { .. } => "hostname mismatch: the server's certificate is not valid for this host name".into(),
                other => format!("invalid server certificate: {other:?}"),
            });
        }
        // The server's verdict on OUR side of the handshake (client certificate missing or
        // refused): no retry changes it either.
        if let Some(rustls::Error::AlertReceived(alert)) =
            inner.or_else(|| s.downcast_ref::<rustls::Error>())
        {
            use rustls::AlertDescription as A;
            if matches!(
                alert,
                A::BadCertificate
                    | A::UnsupportedCertificate
                    | A::CertificateRevoked
                    | A::CertificateExpired
                    | A::CertificateUnknown
                    | A::CertificateRequired
                    | A::CertificateUnobtainable
                    | A::BadCertificateStatusResponse
                    | A::BadCertificateHashValue
            ) {
                return Some(format!(
                    "the server ended the TLS handshake with {alert:?}: it may require a client certificate"
                ));
            }
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_ca_files_are_usage_errors() {
        let dir = std::env::temp_dir().join(format!("rc-client-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "hello").unwrap();
        let e = config_with_ca(&junk).unwrap_err();
        assert!(e.contains("no CERTIFICATE"), "{e}");
        let e = config_with_ca(&dir.join("missing.pem")).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        let f = CaArgs {
            ca_file: Some(junk),
        }
        .install()
        .unwrap_err();
        assert_eq!(f.exit, sidecar::Exit::Usage);
        assert!(CaArgs::default().install().is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
