//! Test certificates generated at test time (rcgen): a private CA, server certificates for
//! the emulators (right name, wrong name, expired, from an unknown CA) and a client
//! certificate for MONGODB-X509. Written as PEM files into a fresh temp dir; never committed.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
};
use std::path::PathBuf;

/// The subject of [`Pki::client`], as mongod names the X.509 user (RFC 2253).
pub const CLIENT_SUBJECT: &str = "CN=rs-init,OU=Ops,O=Coquelicot";

pub struct Ca {
    cert: Certificate,
    key: KeyPair,
    pub pem: PathBuf,
}

/// Everything the TLS tests need, in one temp dir.
pub struct Pki {
    pub dir: PathBuf,
    pub ca: Ca,
    /// localhost + 127.0.0.1, signed by `ca` (certificate and key in one PEM, as mongod takes).
    pub server: PathBuf,
    /// Valid only for `mongo.example`, signed by `ca`.
    pub wrong_name: PathBuf,
    /// Expired in 2021, signed by `ca`.
    pub expired: PathBuf,
    /// Signed by a CA nobody trusts.
    pub unknown_ca: PathBuf,
    /// Client certificate with [`CLIENT_SUBJECT`], signed by `ca`.
    pub client: PathBuf,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("e2e-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = ca(&dir, "ca", "Coquelicot Test CA");
        let other = ca_cert("Somebody Else's CA");
        let leaf = |file: &str, names: &[&str], issuer: (&Certificate, &KeyPair), expired: bool| {
            let mut p =
                CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            p.distinguished_name = dn(&[(DnType::CommonName, names[0])]);
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            write_leaf(&dir, file, p, issuer)
        };
        let server = leaf(
            "server.pem",
            &["localhost", "127.0.0.1"],
            (&ca.cert, &ca.key),
            false,
        );
        let wrong_name = leaf(
            "wrong-name.pem",
            &["mongo.example"],
            (&ca.cert, &ca.key),
            false,
        );
        let expired = leaf(
            "expired.pem",
            &["localhost", "127.0.0.1"],
            (&ca.cert, &ca.key),
            true,
        );
        let unknown_ca = leaf(
            "unknown-ca.pem",
            &["localhost", "127.0.0.1"],
            (&other.0, &other.1),
            false,
        );
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = dn(&[
            (DnType::OrganizationName, "Coquelicot"),
            (DnType::OrganizationalUnitName, "Ops"),
            (DnType::CommonName, "rs-init"),
        ]);
        let client = write_leaf(&dir, "client.pem", p, (&ca.cert, &ca.key));
        Pki {
            dir,
            ca,
            server,
            wrong_name,
            expired,
            unknown_ca,
            client,
        }
    }
}

impl Pki {
    /// A server certificate (+ key) for `names` (DNS names or IP addresses), signed by `ca`.
    pub fn server_for(&self, file: &str, names: &[&str]) -> PathBuf {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.distinguished_name = dn(&[(DnType::CommonName, names[0])]);
        write_leaf(&self.dir, file, p, (&self.ca.cert, &self.ca.key))
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (t, v) in parts {
        dn.push(t.clone(), *v);
    }
    dn
}

fn ca_cert(cn: &str) -> (Certificate, KeyPair) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name = dn(&[(DnType::CommonName, cn)]);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    (cert, key)
}

fn ca(dir: &std::path::Path, file: &str, cn: &str) -> Ca {
    let (cert, key) = ca_cert(cn);
    let pem = dir.join(format!("{file}.pem"));
    std::fs::write(&pem, cert.pem()).unwrap();
    Ca { cert, key, pem }
}

fn write_leaf(
    dir: &std::path::Path,
    file: &str,
    params: CertificateParams,
    (issuer, issuer_key): (&Certificate, &KeyPair),
) -> PathBuf {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer, issuer_key).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, format!("{}{}", cert.pem(), key.serialize_pem())).unwrap();
    path
}
