//! TLS for the MongoDB connection: the connection-string options of the URI options spec
//! (https://github.com/mongodb/specifications/blob/master/source/uri-options/uri-options.md:
//! `tls`/`ssl`, `tlsCAFile`, `tlsCertificateKeyFile`, `tlsCertificateKeyFilePassword`,
//! `tlsAllowInvalidCertificates`, `tlsAllowInvalidHostnames`, `tlsInsecure`), their environment
//! twins (`MONGO_TLS_*`, read by [`TlsOptions::apply_env`]), and the rustls client config built
//! from them (ring provider, as rc-client ships; no OpenSSL).
//!
//! Without `tlsCAFile` the bundled Mozilla roots are trusted (a scratch image has no system
//! store). Certificate problems are [`crate::Error::Tls`]: final, with the reason named.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The TLS part of a connection string (`None`: not given, so the environment may fill it in).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    pub tls: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub cert_key_file: Option<PathBuf>,
    /// Decrypts an encrypted PKCS#8 key in `cert_key_file` (see [`crate::key`]).
    pub cert_key_password: Option<sidecar::Secret>,
    pub allow_invalid_certificates: Option<bool>,
    pub allow_invalid_hostnames: Option<bool>,
    pub insecure: Option<bool>,
    /// `mongodb+srv://` turns TLS on unless `tls`/`ssl` (URI or MONGO_TLS) says otherwise
    /// (seedlist discovery spec, "Validation Before Querying DNS").
    pub on_by_default: bool,
}

/// Environment twins of the URI options, for the binaries (the URI wins when both are set).
pub const ENV_VARS: &[(&str, &str)] = &[
    ("MONGO_TLS", "tls"),
    ("MONGO_TLS_CA_FILE", "tlscafile"),
    ("MONGO_TLS_CERTIFICATE_KEY_FILE", "tlscertificatekeyfile"),
    (
        "MONGO_TLS_ALLOW_INVALID_HOSTNAMES",
        "tlsallowinvalidhostnames",
    ),
    ("MONGO_TLS_INSECURE", "tlsinsecure"),
];

impl TlsOptions {
    /// The hook for uri.rs: takes one `key=value` (key lower-cased, value decoded). `Ok(false)`:
    /// not a TLS option. `Err`: a one-line usage message (without the URI; the caller adds it).
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let boolean = || match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{key} must be true or false, not {value:?}")),
        };
        let path = || {
            if value.is_empty() {
                Err(format!("{key} is empty: give the path of a PEM file"))
            } else {
                Ok(PathBuf::from(value))
            }
        };
        match key {
            "tls" | "ssl" => {
                let v = boolean()?;
                if self.tls.is_some_and(|old| old != v) {
                    return Err("tls and ssl disagree: give one of them".into());
                }
                self.tls = Some(v);
            }
            "tlscafile" => self.ca_file = Some(path()?),
            "tlscertificatekeyfile" => self.cert_key_file = Some(path()?),
            "tlscertificatekeyfilepassword" if value.is_empty() => {
                return Err(format!("{key} is empty: give the key file's password"))
            }
            "tlscertificatekeyfilepassword" => {
                self.cert_key_password = Some(sidecar::Secret::new(value))
            }
            "tlsallowinvalidcertificates" => self.allow_invalid_certificates = Some(boolean()?),
            "tlsallowinvalidhostnames" => self.allow_invalid_hostnames = Some(boolean()?),
            "tlsinsecure" => self.insecure = Some(boolean()?),
            "tlsdisableocspendpointcheck" | "tlsdisablecertificaterevocationcheck" => {
                // We never check OCSP/CRLs: accepting the option changes nothing.
                boolean()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Fills in what the URI left unset from `MONGO_TLS_*` (`get` is `std::env::var` in the
    /// binaries). Empty values count as unset (compose's `VAR=`).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        for (var, key) in ENV_VARS {
            let Some(value) = get(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let unset = match *key {
                "tls" => self.tls.is_none(),
                "tlscafile" => self.ca_file.is_none(),
                "tlscertificatekeyfile" => self.cert_key_file.is_none(),
                "tlsallowinvalidhostnames" => self.allow_invalid_hostnames.is_none(),
                _ => self.insecure.is_none(),
            };
            if unset {
                self.set(key, &value).map_err(|e| format!("{var}: {e}"))?;
            }
        }
        if self.cert_key_password.is_none() {
            self.cert_key_password = key_password_env(&get)?;
        }
        Ok(())
    }

    /// The spec's conflicts, and our refusals. Call after [`Self::apply_env`].
    pub fn check(&self) -> Result<(), String> {
        let any_option = self.ca_file.is_some()
            || self.cert_key_file.is_some()
            || self.cert_key_password.is_some()
            || self.allow_invalid_certificates.is_some()
            || self.allow_invalid_hostnames.is_some()
            || self.insecure.is_some();
        if self.tls == Some(false) && any_option {
            return Err("tls=false contradicts the tls* options given: drop one".into());
        }
        if self.insecure.is_some()
            && (self.allow_invalid_certificates.is_some() || self.allow_invalid_hostnames.is_some())
        {
            return Err(
                "tlsInsecure cannot be combined with tlsAllowInvalidCertificates or tlsAllowInvalidHostnames (URI options spec)".into(),
            );
        }
        if self.cert_key_password.is_some() && self.cert_key_file.is_none() {
            return Err(
                "tlsCertificateKeyFilePassword is given without tlsCertificateKeyFile: give the encrypted key file too, or drop the password".into(),
            );
        }
        Ok(())
    }

    /// TLS is on when asked for, or implied by any tls* option (as pymongo does).
    pub fn enabled(&self) -> bool {
        self.tls.unwrap_or(self.on_by_default)
            || self.ca_file.is_some()
            || self.cert_key_file.is_some()
            || self.insecure == Some(true)
            || self.allow_invalid_certificates == Some(true)
            || self.allow_invalid_hostnames == Some(true)
    }

    fn skip_chain(&self) -> bool {
        self.insecure == Some(true) || self.allow_invalid_certificates == Some(true)
    }

    fn skip_name(&self) -> bool {
        self.insecure == Some(true) || self.allow_invalid_hostnames == Some(true)
    }

    /// The one warning line to print when verification is weakened, if it is.
    pub fn warning(&self) -> Option<&'static str> {
        if self.skip_chain() {
            Some("WARNING: tlsInsecure/tlsAllowInvalidCertificates: the server's certificate is NOT verified; anyone on the path can impersonate it")
        } else if self.skip_name() {
            Some("WARNING: tlsAllowInvalidHostnames: the server's certificate is not checked against its host name")
        } else {
            None
        }
    }

    /// The rustls config, `None` when TLS is off. `Err`: a file cannot be used (usage, exit 2).
    pub fn client_config(&self) -> Result<Option<Arc<ClientConfig>>, String> {
        if !self.enabled() {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let shown = path.display();
                let certs = parse_certs(&read_pem(path, "tlsCAFile")?)
                    .map_err(|e| format!("tlsCAFile {shown}: {e}"))?;
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| format!("tlsCAFile {shown}: unusable CA certificate: {e}"))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("tlsCAFile: {e}"))?;
        let verifier = Arc::new(Verifier {
            inner: webpki,
            provider: provider.clone(),
            skip_chain: self.skip_chain(),
            skip_name: self.skip_name(),
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.cert_key_file {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let text = read_pem(path, "tlsCertificateKeyFile")?;
                let (certs, key) = parse_cert_key(&text, self.cert_key_password.as_ref())
                    .map_err(|e| format!("tlsCertificateKeyFile {}: {e}", path.display()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| format!("tlsCertificateKeyFile {}: {e}", path.display()))?
            }
        };
        Ok(Some(Arc::new(config)))
    }
}

/// `tlsCertificateKeyFilePassword=…` shown as `=***` in messages (the option is a secret).
pub fn redact_key_password(uri: &str) -> String {
    let lower = uri.to_ascii_lowercase();
    let key = "tlscertificatekeyfilepassword=";
    let mut out = String::with_capacity(uri.len());
    let mut pos = 0;
    while let Some(i) = lower[pos..].find(key) {
        let start = pos + i + key.len();
        let end = uri[start..]
            .find(['&', '#'])
            .map_or(uri.len(), |j| start + j);
        out.push_str(&uri[pos..start]);
        out.push_str("***");
        pos = end;
    }
    out.push_str(&uri[pos..]);
    out
}

/// The file, capped like every file we read (sidecar::file), or the reason it cannot be used.
fn read_pem(path: &std::path::Path, what: &str) -> Result<Vec<u8>, String> {
    sidecar::file::read_capped(path, sidecar::file::PEM_FILE_MAX, what)
        .map(|(bytes, _)| bytes)
        .map_err(|f| f.message)
}

fn parse_certs(text: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM file: {e}"))?;
    if certs.is_empty() {
        return Err("no CERTIFICATE in it".into());
    }
    Ok(certs)
}

/// mongod's tlsCertificateKeyFile format: the certificate (chain) and its key in one PEM file.
fn parse_cert_key(
    text: &[u8],
    password: Option<&sidecar::Secret>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), String> {
    let certs = parse_certs(text)?;
    let key = crate::key::private_key(text, password)?;
    Ok((certs, key))
}

/// The environment twin of tlsCertificateKeyFilePassword: the value or, preferably, a file
/// (a Docker/Kubernetes secret), read like every secret file (sidecar::secret).
fn key_password_env(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<sidecar::Secret>, String> {
    const VAR: &str = "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD";
    const FILE: &str = "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE";
    let value = get(VAR).filter(|v| !v.is_empty());
    let file = get(FILE).filter(|v| !v.is_empty()).map(PathBuf::from);
    sidecar::secret::resolve(value, file.as_deref(), &format!("{VAR} / {FILE}"))
        .map_err(|f| f.message)
}

/// webpki verification, minus what the options turn off. Signatures of the handshake itself
/// are always checked, so even tlsInsecure keeps the session bound to the presented key.
#[derive(Debug)]
struct Verifier {
    inner: Arc<WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    skip_chain: bool,
    skip_name: bool,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.skip_chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self
            .inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            // webpki checks the chain before the name: a name error means the chain was good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if self.skip_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// A certificate problem in operator words (the [`crate::Error::Tls`] detail).
pub fn describe(e: &rustls::Error) -> String {
    use CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "certificate signed by an unknown issuer (unknown CA): set tlsCAFile (MONGO_TLS_CA_FILE) to the CA that signed the server's certificate".into(),
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the server's certificate is not valid yet (clock skew?)".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "hostname mismatch: the server's certificate is not valid for this host name (use the name in its certificate, or tlsAllowInvalidHostnames=true)".into(),
            C::Revoked => "the server's certificate is revoked".into(),
            C::BadSignature => "the server's certificate has a bad signature: not signed by the tlsCAFile CA (another CA with the same name?)".into(),
            other => format!("invalid server certificate: {other:?}"),
        },
        rustls::Error::AlertReceived(a) => format!(
            "the server refused our TLS handshake ({a:?}): does it require a client certificate (tlsCertificateKeyFile), or one from another CA?"
        ),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// The process-wide TLS setting of the binaries: one URI per run, so one config per run,
/// installed once before the first connection (every [`crate::Connection::connect`] uses it).
static PROCESS: OnceLock<Option<Arc<ClientConfig>>> = OnceLock::new();

/// Installs the config built from the URI (and environment); later calls are ignored.
pub fn install(config: Option<Arc<ClientConfig>>) {
    let _ = PROCESS.set(config);
}

pub(crate) fn process_config() -> Option<Arc<ClientConfig>> {
    PROCESS.get().cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Result<TlsOptions, String> {
        let mut o = TlsOptions::default();
        for (k, v) in pairs {
            assert!(o.set(k, v)?, "{k} is a TLS option");
        }
        o.check()?;
        Ok(o)
    }

    #[test]
    fn options_and_conflicts() {
        assert!(opts(&[("tls", "true")]).unwrap().enabled());
        assert!(opts(&[("ssl", "true")]).unwrap().enabled());
        assert!(!opts(&[("tls", "false")]).unwrap().enabled());
        assert!(opts(&[("tlscafile", "/ca.pem")]).unwrap().enabled());
        for (pairs, want) in [
            (&[("tls", "true"), ("ssl", "false")][..], "disagree"),
            (&[("tls", "false"), ("tlscafile", "/x")][..], "contradicts"),
            (
                &[
                    ("tlsinsecure", "true"),
                    ("tlsallowinvalidhostnames", "true"),
                ][..],
                "cannot be combined",
            ),
            (
                &[("tlscertificatekeyfilepassword", "s3cret")][..],
                "without tlsCertificateKeyFile",
            ),
            (&[("tlscertificatekeyfilepassword", "")][..], "is empty"),
            (&[("tls", "yes")][..], "true or false"),
            (&[("tlscafile", "")][..], "empty"),
        ] {
            let e = opts(pairs).unwrap_err();
            assert!(e.contains(want), "{pairs:?}: {e}");
            assert!(!e.contains("s3cret"));
        }
        assert!(!TlsOptions::default().set("replicaset", "rs0").unwrap());
    }

    #[test]
    fn the_key_password_is_never_shown() {
        assert_eq!(
            redact_key_password("mongodb://h/?tlsCertificateKeyFilePassword=s3cret&tls=true"),
            "mongodb://h/?tlsCertificateKeyFilePassword=***&tls=true"
        );
        let e =
            crate::uri::parse("mongodb://h:0/?tlsCertificateKeyFilePassword=s3cret").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn environment_fills_in_what_the_uri_leaves_unset() {
        let mut o = TlsOptions::default();
        o.set("tlscafile", "/from-uri.pem").unwrap();
        o.apply_env(|v| match v {
            "MONGO_TLS_CA_FILE" => Some("/from-env.pem".into()),
            "MONGO_TLS_ALLOW_INVALID_HOSTNAMES" => Some("true".into()),
            "MONGO_TLS_INSECURE" => Some(String::new()),
            _ => None,
        })
        .unwrap();
        assert_eq!(o.ca_file, Some(PathBuf::from("/from-uri.pem")));
        assert_eq!(o.allow_invalid_hostnames, Some(true));
        assert_eq!(o.insecure, None);
        let e = TlsOptions::default()
            .apply_env(|v| (v == "MONGO_TLS").then(|| "maybe".into()))
            .unwrap_err();
        assert!(e.starts_with("MONGO_TLS: "), "{e}");
    }

    #[test]
    fn the_key_password_comes_from_the_uri_the_env_or_its_file() {
        let from = |pairs: &[(&str, &str)], env: &[(&str, &str)]| {
            let mut o = TlsOptions::default();
            for (k, v) in pairs {
                o.set(k, v).unwrap();
            }
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            o.apply_env(|var| env.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone()))
                .map(|()| o.cert_key_password.map(|s| s.expose().to_string()))
        };
        const VAR: &str = "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD";
        const FILE: &str = "MONGO_TLS_CERTIFICATE_KEY_FILE_PASSWORD_FILE";
        let dir = std::env::temp_dir().join(format!("mongo-wire-tls-pw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pw");
        std::fs::write(&file, "from-file\n").unwrap();
        let file = file.to_str().unwrap();
        let uri = [("tlscertificatekeyfilepassword", "from-uri")];
        assert_eq!(
            from(&uri, &[(VAR, "from-env")]).unwrap().as_deref(),
            Some("from-uri")
        );
        assert_eq!(
            from(&[], &[(VAR, "from-env")]).unwrap().as_deref(),
            Some("from-env")
        );
        assert_eq!(
            from(&[], &[(FILE, file)]).unwrap().as_deref(),
            Some("from-file")
        );
        assert_eq!(from(&[], &[(VAR, ""), (FILE, "")]).unwrap(), None);
        let e = from(&[], &[(VAR, "from-env"), (FILE, file)]).unwrap_err();
        assert!(e.contains("not both") && !e.contains("from-env"), "{e}");
        let e = from(&[], &[(FILE, "/nonexistent/pw")]).unwrap_err();
        assert!(e.contains(FILE) && e.contains("/nonexistent/pw"), "{e}");
        // Never in a Debug print of the options.
        let mut o = TlsOptions::default();
        o.set("tlscertificatekeyfilepassword", "hidden-pw").unwrap();
        assert!(!format!("{o:?}").contains("hidden-pw"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn warns_when_verification_is_weakened() {
        assert!(opts(&[("tlsinsecure", "true")])
            .unwrap()
            .warning()
            .unwrap()
            .contains("NOT verified"));
        assert!(opts(&[("tlsallowinvalidhostnames", "true")])
            .unwrap()
            .warning()
            .unwrap()
            .contains("host name"));
        assert!(opts(&[("tls", "true")]).unwrap().warning().is_none());
    }

    #[test]
    fn unusable_files_are_named() {
        let dir = std::env::temp_dir().join(format!("mongo-wire-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.pem");
        std::fs::write(&junk, "not pem").unwrap();
        let e = opts(&[("tlscafile", junk.to_str().unwrap())])
            .unwrap()
            .client_config()
            .unwrap_err();
        assert!(
            e.contains("tlsCAFile") && e.contains("no CERTIFICATE"),
            "{e}"
        );
        let e = opts(&[("tlscafile", "/nonexistent/ca.pem")])
            .unwrap()
            .client_config()
            .unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
        // The bundled roots when no CA file is given.
        assert!(opts(&[("tls", "true")])
            .unwrap()
            .client_config()
            .unwrap()
            .is_some());
        assert!(opts(&[]).unwrap().client_config().unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
