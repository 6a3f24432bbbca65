//! TLS as mongod serves it (net.tls.mode requireTLS): `--tls-cert-key-file` is
//! net.tls.certificateKeyFile (certificate and key in one PEM), `--tls-ca-file` is
//! net.tls.CAFile: client certificates are then verified against it and REQUIRED unless
//! `--tls-allow-connections-without-certificates` (net.tls.allowConnectionsWithoutCertificates).
//! The verified client certificate's subject, in RFC 2253 order (last RDN first, as
//! ssl_manager.cpp's SSLX509Name::toString prints it), is the MONGODB-X509 user name.
//!
//! mongod refuses a missing or unverifiable client certificate AFTER a completed handshake
//! (asio_session_impl.cpp: doHandshake().then(parseAndValidatePeerCertificate), then the
//! session ends), not with a TLS alert inside it. So the rustls verifier here accepts any or no
//! certificate and [`PeerCheck`] applies net.tls.CAFile once the handshake is done.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::UnixTime;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// net.tls.CAFile's policy, applied after the handshake (ssl_manager_openssl.cpp
/// parseAndValidatePeerCertificate).
#[derive(Debug)]
pub struct PeerCheck {
    verifier: Arc<dyn ClientCertVerifier>,
    allow_without_cert: bool,
}

impl PeerCheck {
    /// `Err` is mongod's SSLHandshakeFailed text; the caller logs it and ends the connection.
    pub fn check(&self, certs: Option<&[CertificateDer<'_>]>) -> Result<(), String> {
        match certs.and_then(|c| c.split_first()) {
            None if self.allow_without_cert => Ok(()),
            None => Err("no SSL certificate provided by peer; connection rejected".into()),
            Some((end, intermediates)) => self
                .verifier
                .verify_client_cert(end, intermediates, UnixTime::now())
                .map(|_| ())
                .map_err(|e| format!("SSL peer certificate validation failed: {e}")),
        }
    }
}

/// Asks for a client certificate, takes any or none; signatures are still checked so the
/// client proves it holds the key of the certificate it sent.
#[derive(Debug)]
struct AfterHandshake(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for AfterHandshake {
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        _end: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

pub fn server_config(
    cert_key: &Path,
    ca: Option<&Path>,
    allow_without_cert: bool,
) -> Result<(Arc<ServerConfig>, Option<PeerCheck>), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let shown = cert_key.display();
    let certs = CertificateDer::pem_file_iter(cert_key)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert-key-file {shown}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(cert_key)
        .map_err(|e| format!("--tls-cert-key-file {shown}: no private key: {e}"))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let mut check = None;
    let builder = match ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("--tls-ca-file {}: {e}", ca.display()))?
            {
                let c = c.map_err(|e| format!("--tls-ca-file {}: {e}", ca.display()))?;
                roots.add(c).map_err(|e| format!("--tls-ca-file: {e}"))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| e.to_string())?;
            check = Some(PeerCheck {
                verifier: verifier.clone(),
                allow_without_cert,
            });
            builder.with_client_cert_verifier(Arc::new(AfterHandshake(verifier)))
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| format!("--tls-cert-key-file {shown}: {e}"))?;
    Ok((config, check))
}

/// The subject of a DER certificate as RFC 2253 (`CN=client,OU=…,O=…,C=US`), `None` when it
/// does not parse. A small DER walk: Certificate → tbsCertificate → subject (the 6th field,
/// 5th without the optional [0] version).
pub fn subject_rfc2253(der: &[u8]) -> Option<String> {
    let (_, cert, _) = tlv(der)?;
    let (_, mut tbs, _) = tlv(cert)?;
    let mut fields = Vec::new();
    while !tbs.is_empty() {
        let (tag, value, rest) = tlv(tbs)?;
        fields.push((tag, value));
        tbs = rest;
    }
    let skip = usize::from(fields.first()?.0 == 0xa0);
    let (tag, mut rdns) = *fields.get(skip + 4)?;
    if tag != 0x30 {
        return None;
    }
    let mut parts = Vec::new();
    while !rdns.is_empty() {
        let (_, set, rest) = tlv(rdns)?;
        rdns = rest;
        let (_, atv, _) = tlv(set)?;
        let (_, oid, after) = tlv(atv)?;
        let (_, value, _) = tlv(after)?;
        let key = match oid {
            [0x55, 0x04, 0x03] => "CN".to_string(),
            [0x55, 0x04, 0x06] => "C".into(),
            [0x55, 0x04, 0x07] => "L".into(),
            [0x55, 0x04, 0x08] => "ST".into(),
            [0x55, 0x04, 0x0a] => "O".into(),
            [0x55, 0x04, 0x0b] => "OU".into(),
            other => format!("OID{other:02x?}"),
        };
        let text = String::from_utf8_lossy(value);
        // RFC 2253 escaping of the specials mongod escapes too.
        let mut esc = String::new();
        for ch in text.chars() {
            if matches!(ch, ',' | '+' | '"' | '\\' | '<' | '>' | ';') {
                esc.push('\\');
            }
            esc.push(ch);
        }
        parts.push(format!("{key}={esc}"));
    }
    parts.reverse();
    Some(parts.join(","))
}

/// One DER tag-length-value: (tag, value, rest).
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *b.first()?;
    let first = *b.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(2 + i)? as usize;
        }
        (len, 2 + n)
    };
    let end = head.checked_add(len)?;
    Some((tag, b.get(head..end)?, b.get(end..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_in_rfc2253_order() {
        let mut params = rcgen::CertificateParams::new(vec!["client".into()]).unwrap();
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CountryName, "US");
        dn.push(rcgen::DnType::OrganizationName, "Coquelicot");
        dn.push(rcgen::DnType::OrganizationalUnitName, "Ops");
        dn.push(rcgen::DnType::CommonName, "rs-init");
        params.distinguished_name = dn;
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        assert_eq!(
            subject_rfc2253(cert.der()).as_deref(),
            Some("CN=rs-init,OU=Ops,O=Coquelicot,C=US")
        );
        assert_eq!(subject_rfc2253(&[0x30, 0x82, 0xff]), None);
        assert_eq!(subject_rfc2253(&[]), None);
    }
}
