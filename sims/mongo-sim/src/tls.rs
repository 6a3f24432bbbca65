//! TLS as mongod serves it (net.tls.mode requireTLS): `--tls-cert-key-file` is
//! net.tls.certificateKeyFile (certificate and key in one PEM), `--tls-ca-file` is
//! net.tls.CAFile: client certificates are then verified against it and REQUIRED unless
//! `--tls-allow-connections-without-certificates` (net.tls.allowConnectionsWithoutCertificates).
//! The verified client certificate's subject, in RFC 2253 order (last RDN first, as
//! ssl_manager.cpp's SSLX509Name::toString prints it), is the MONGODB-X509 user name.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use std::path::Path;
use std::sync::Arc;

pub fn server_config(
    cert_key: &Path,
    ca: Option<&Path>,
    allow_without_cert: bool,
) -> Result<Arc<ServerConfig>, String> {
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
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let v = if allow_without_cert {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        }
    };
    builder
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| format!("--tls-cert-key-file {shown}: {e}"))
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
