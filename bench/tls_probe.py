#!/usr/bin/env python3
"""mongo-rs-probe with and without TLS against the same mongo-sim set-up, beside the official
driver (a prototype on the `mongodb` crate, built by driver_proto.py in a temp dir) and pymongo
with TLS: wall/CPU time, connections per run (the emulator's log), binary size. Interleaved runs.
Test certificates are generated with the openssl CLI in a temp dir. Called by bench.py
(bench/run); runnable alone after `cargo dist` and `cargo build -p mongo-sim`:
bench/tls_probe.py [--runs N]. Figures printed, never asserted.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver_proto  # noqa: E402
from bench import DEBUG, DIST, HEADER, PY, free_port, measure, measure_interleaved, row, wait_line  # noqa: E402


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
    return sim, port, log


def connections_per_run(cmd, log, runs=5):
    """Connections the emulator accepted per run of cmd (its "Connection accepted" log lines)."""

    def count():
        with open(log) as f:
            return sum(1 for line in f if '"Connection accepted"' in line)

    before = count()
    for _ in range(runs):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    # The emulator logs from its accept thread: let the last lines land.
    time.sleep(0.2)
    return (count() - before) / runs


def main_with(runs):
    with tempfile.TemporaryDirectory() as tmp:
        make_pki(tmp)
        ca = os.path.join(tmp, "ca.pem")
        plain, plain_port, plain_log = start_sim(tmp, "plain", [])
        tls, tls_port, tls_log = start_sim(tmp, "tls", ["--tls-cert-key-file", os.path.join(tmp, "server.pem"),
                                             "--tls-ca-file", ca, "--tls-allow-connections-without-certificates"])
        try:
            plain_uri = f"mongodb://127.0.0.1:{plain_port}/?replicaSet=rs0"
            tls_uri = f"mongodb://127.0.0.1:{tls_port}/?replicaSet=rs0&tls=true&tlsCAFile={ca}"
            for uri in (plain_uri, tls_uri):
                subprocess.run([os.path.join(DIST, "mongo-rs-init"), "--uri", uri, "--timeout", "30s"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            probe = os.path.join(DIST, "mongo-rs-probe")
            driver, build_s, crates = driver_proto.build()
            print(f"\nmongo-rs-probe beside the official driver (`mongodb` {driver_proto.DRIVER_VERSION} crate, the same"
                  f" probe as a prototype built in a temp dir: {crates} crates, cargo build {build_s:.0f} s"
                  f" with the cache in {driver_proto.CACHE}) and pymongo,")
            print(f"with and without TLS (ECDSA P-256 test CA), same mongo-sim ({os.path.basename(SIM)}"
                  f" {'release' if '/release/' in SIM else 'debug'}), {runs} interleaved runs each")
            print(HEADER + f" {'conn/run':>9}")
            # The driver waits up to serverSelectionTimeoutMS for a server: 2 s, as our --timeout.
            sel = "&serverSelectionTimeoutMS=2000"
            for label, uri, log in (("plain", plain_uri, plain_log), ("tls", tls_uri, tls_log)):
                cmds = {f"mongo-rs-probe ({label})": [probe, "--uri", uri],
                        f"mongodb {driver_proto.DRIVER_VERSION} prototype ({label})": [driver, uri + sel]}
                for name, result in measure_interleaved(cmds, runs).items():
                    print(row(name, result) + f" {connections_per_run(cmds[name], log):>9.1f}")
            one_liner = (
                "import sys,pymongo;"
                f"c=pymongo.MongoClient('{tls_uri}',directConnection=True,serverSelectionTimeoutMS=2000);"
                "sys.exit(0 if c.admin.command('hello').get('isWritablePrimary') else 1)"
            )
            py = [PY, "-c", one_liner]
            print(row("python -c pymongo hello (tls)", measure(py, max(3, runs // 10)))
                  + f" {connections_per_run(py, tls_log):>9.1f}")
            print("\nbinary                               size MB  linkage")
            for name, path in (("mongo-rs-probe", probe), (f"mongodb {driver_proto.DRIVER_VERSION} prototype", driver)):
                print(f"{name:<34} {os.path.getsize(path) / 1e6:>9.2f}  {driver_proto.linkage(path)}")
        finally:
            plain.kill()
            tls.kill()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    main_with(parser.parse_args().runs)
