"""pymongo with an encrypted client key (tlsCertificateKeyFilePassword, decrypted by OpenSSL
through Python's ssl module) against mongo-sim verifying client certificates and MONGODB-X509:
the same keys, made by the same openssl commands, that tests/e2e/tests/mongo_tls_key.rs gives
mongo-rs-init / mongo-rs-probe (decrypted by RustCrypto pkcs8 there)."""

import pytest
from pymongo import MongoClient
from pymongo.errors import ConfigurationError

# Helpers only (importing test functions would run them twice).
from test_mongo_sim import (  # noqa: F401
    TIMEOUT_MS, X509_SUBJECT, _openssl, free_ports, members_args, pki, rs_config, start_sim)

PASS = "k3y-pass-fidelity"


def encrypted_client(d, name, *scheme):
    _openssl("pkcs8", "-topk8", "-in", "client.key", "-out", f"{name}.key", "-passout", f"pass:{PASS}",
             *scheme, cwd=d)
    key = (d / f"{name}.key").read_text()
    assert key.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    (d / f"{name}.pem").write_text((d / "client.crt").read_text() + key)
    return d / f"{name}.pem"


def client(p, pki, key, password):
    return MongoClient(f"mongodb://localhost:{p}/?directConnection=true&tls=true"
                       f"&tlsCAFile={pki / 'ca.pem'}&tlsCertificateKeyFile={key}"
                       "&authMechanism=MONGODB-X509",
                       tlsCertificateKeyFilePassword=password,
                       serverSelectionTimeoutMS=TIMEOUT_MS, connectTimeoutMS=TIMEOUT_MS)


def test_pymongo_authenticates_with_an_encrypted_client_key(start_sim, pki):
    (p,) = free_ports(1)
    sim = start_sim(*members_args([p]), "--repl-set", "rs0", "--auth",
                    "--tls-cert-key-file", str(pki / "server.pem"), "--tls-ca-file", str(pki / "ca.pem"),
                    "--x509-user", X509_SUBJECT, listeners=1)
    keys = [encrypted_client(pki, "aes256", "-v2", "aes-256-cbc"),
            encrypted_client(pki, "scrypt", "-scrypt"),
            encrypted_client(pki, "sha1", "-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"),
            encrypted_client(pki, "des3", "-v2", "des3")]
    for i, key in enumerate(keys):
        c = client(p, pki, key, PASS)
        try:
            if i == 0:
                c.admin.command("replSetInitiate", rs_config([p]))
            else:
                c.admin.command("replSetGetStatus")
            hits = sim.wait_log(lambda l: l.get("msg") == "Successfully authenticated", count=i + 1)
            assert hits[i]["attr"]["user"] == X509_SUBJECT, key
        finally:
            c.close()
    # A wrong password: refused by the client before any connection, as our binaries (exit 2).
    with pytest.raises(ConfigurationError):
        client(p, pki, keys[0], "not-the-password")
