"""Scenario 11: the replica set with TLS only (compose/mongo-tls.yaml): certificates made by
docker/mongo-tls-certs.sh, given as compose secrets; mongo healthy through its HEALTHCHECK's
mongo-rs-probe over TLS, mongo-rs-init initiating over TLS, and a plaintext connection refused.
Only mongo, mongo-rs-init and rocketchat (which `up --wait` needs to depend on the one-shot
init): the rest of the stack does not touch MongoDB."""

import json
import subprocess

import pytest

from stack import ROOT, TAG, Stack, run, timings

SERVICES = ["mongo", "mongo-rs-init", "rocketchat"]


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls") / "certs"
    run([str(ROOT / "docker" / "mongo-tls-certs.sh"), str(d)], timeout=60)
    other = tmp_path_factory.mktemp("tls") / "other"
    run([str(ROOT / "docker" / "mongo-tls-certs.sh"), str(other)], timeout=60)
    return d, other


@pytest.fixture(scope="module")
def stack(certs):
    s = Stack("coq-engine-tls", files=("docker-compose.yml", "emulated.yaml", "mongo-tls.yaml"),
              extra_env={"MONGO_TLS_DIR": str(certs[0])})
    s.down()
    yield s
    s.down()


def probe(stack, ca, *uri_options):
    """mongo-rs-probe's image on the stack's network, as another client would reach mongod."""
    uri = "mongodb://mongo:27017/?replicaSet=rs0" + "".join("&" + o for o in uri_options)
    return run(["docker", "run", "--rm", "--network", stack.network(), "-v", f"{ca}:/ca.pem:ro",
                f"coquelicot/mongo-rs-probe:{TAG}", "--uri", uri, "--timeout", "5s"],
               timeout=60, check=False)


def test_11_replica_set_with_tls_only(stack, certs):
    took = stack.up(*SERVICES)
    print(f"\n[11] TLS only: up --wait {took:.1f}s")
    for svc, t in timings(stack, SERVICES).items():
        print(f"[11]   {svc}: {t}")
    assert stack.health("mongo") == "healthy"
    init = stack.inspect("mongo-rs-init")
    assert init["State"]["ExitCode"] == 0, stack.logs("mongo-rs-init")
    # The HEALTHCHECK's last verdict is the TLS probe's (MONGO_TLS + MONGO_TLS_CA_FILE).
    last = stack.inspect("mongo")["State"]["Health"]["Log"][-1]
    assert last["ExitCode"] == 0, last
    assert "PRIMARY" in last["Output"], last
    ca, other_ca = certs[0] / "ca.pem", certs[1] / "ca.pem"
    ok = probe(stack, ca, "tls=true", "tlsCAFile=/ca.pem")
    assert ok.returncode == 0, ok.stderr
    # Plaintext: mongod (requireTLS) ends the connection; the probe fails, retryable (exit 1).
    plain = probe(stack, ca)
    print(f"[11]   plaintext probe: exit {plain.returncode}: {plain.stderr.strip()}")
    assert plain.returncode == 1 and "connection reset by the server" in plain.stderr, plain
    assert "The server is configured to only allow SSL connections" in stack.logs("mongo")
    # A CA that did not sign mongod's certificate: refused for good (exit 3), named.
    wrong = probe(stack, other_ca, "tls=true", "tlsCAFile=/ca.pem")
    print(f"[11]   untrusted CA: exit {wrong.returncode}: {wrong.stderr.strip()}")
    assert wrong.returncode == 3 and "not signed by the tlsCAFile CA" in wrong.stderr, wrong


def test_11_mongod_needs_a_certificate_with_require_tls():
    """mongod's own start-up check, kept by the emulator image: requireTLS without a key file."""
    p = subprocess.run(["docker", "run", "--rm", "--network", "none", f"coquelicot/mongo-sim:{TAG}",
                        "mongod", "--replSet", "rs0", "--tlsMode", "requireTLS"],
                       capture_output=True, text=True, timeout=60)
    # As mongod: exit 1 (ExitCode::fail, not badOptions) and a fatal JSON log line on stdout.
    assert p.returncode == 1, p
    line = json.loads(p.stdout.strip().splitlines()[-1])
    assert line["msg"] == "Error during global initialization", line
    assert line["attr"]["error"]["codeName"] == "BadValue", line
    assert line["attr"]["error"]["errmsg"] == \
        "need tlsCertificateKeyFile or certificateSelector when TLS is enabled", line
