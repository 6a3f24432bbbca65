#!/usr/bin/env python3
"""mongo-rs-probe with and without TLS against the same mongo-sim set-up, beside pymongo with
TLS: the cost of the one handshake per run. Test certificates are generated with the openssl
CLI in a temp dir. Called by bench.py (bench/run); runnable alone after `cargo dist` and
`cargo build -p mongo-sim`: bench/tls_probe.py [--runs N]. Figures printed, never asserted.
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import DEBUG, DIST, HEADER, PY, free_port, measure, row, wait_line  # noqa: E402


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_pki(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Bench CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=d)
    with open(os.path.join(d, "server.pem"), "w") as out:
        for part in ("server.crt", "server.key"):
            with open(os.path.join(d, part)) as f:
                out.write(f.read())


# The emulator's side of the handshake is crypto too: MONGO_SIM_BIN may point at a release build
# (cargo build --release -p mongo-sim) so the debug build's slow ring does not dominate.
SIM = os.environ.get("MONGO_SIM_BIN") or os.path.join(DEBUG, "mongo-sim")


def start_sim(tmp, name, extra):
    port = free_port()
    log = os.path.join(tmp, f"{name}.log")
    sim = subprocess.Popen(
        [SIM, "--repl-set", "rs0", "--member", f"127.0.0.1:{port}", *extra],
        stdout=open(log, "w"),
        stderr=subprocess.DEVNULL,
    )
    wait_line(log, "Waiting for connections")
    return sim, port


def main_with(runs):
    with tempfile.TemporaryDirectory() as tmp:
        make_pki(tmp)
        ca = os.path.join(tmp, "ca.pem")
        plain, plain_port = start_sim(tmp, "plain", [])
        tls, tls_port = start_sim(tmp, "tls", ["--tls-cert-key-file", os.path.join(tmp, "server.pem"),
                                             "--tls-ca-file", ca, "--tls-allow-connections-without-certificates"])
        try:
            plain_uri = f"mongodb://127.0.0.1:{plain_port}/?replicaSet=rs0"
            tls_uri = f"mongodb://127.0.0.1:{tls_port}/?replicaSet=rs0&tls=true&tlsCAFile={ca}"
            for uri in (plain_uri, tls_uri):
                subprocess.run([os.path.join(DIST, "mongo-rs-init"), "--uri", uri, "--timeout", "30s"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            print(f"\nmongo-rs-probe with and without TLS (ECDSA P-256 test CA), {runs} runs each")
            print(HEADER)
            probe = os.path.join(DIST, "mongo-rs-probe")
            print(row("mongo-rs-probe (plain)", measure([probe, "--uri", plain_uri], runs)))
            print(row("mongo-rs-probe (tls=true)", measure([probe, "--uri", tls_uri], runs)))
            one_liner = (
                "import sys,pymongo;"
                f"c=pymongo.MongoClient('{tls_uri}',directConnection=True,serverSelectionTimeoutMS=2000);"
                "sys.exit(0 if c.admin.command('hello').get('isWritablePrimary') else 1)"
            )
            print(row("python -c pymongo hello (tls)", measure([PY, "-c", one_liner], max(3, runs // 10))))
        finally:
            plain.kill()
            tls.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    main_with(parser.parse_args().runs)
