#!/usr/bin/env python3
"""Convergence of mongo-rs-init: time from "server ready" (the emulator's own log timestamp of
"Transition to primary complete; database writes are now permitted") to mongo-rs-init's exit,
over fresh 3-member sets that start listening late (--listen-delay), plus the requests it sent
per second (every command the emulator received during the run, --log-commands).

Run by bench/bench.py; alone: python3 bench/converge_mongo.py [--runs N] [--init-bin PATH].
Figures are printed, never asserted.
"""

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
DEBUG = os.path.join(TARGET, "debug")
DIST = os.path.join(TARGET, "x86_64-unknown-linux-gnu", "release")
READY = "Transition to primary complete; database writes are now permitted"
COMMAND = "Command received (mongo-sim)"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_time(line):
    stamp = json.loads(line)["t"]["$date"]
    return datetime.datetime.fromisoformat(stamp).timestamp()


def one_run(init_bin, tmp, i, listen_delay, extra):
    ports = [free_port() for _ in range(3)]
    log = os.path.join(tmp, f"converge-{i}.log")
    members = [f"127.0.0.1:{p}" for p in ports]
    cmd = [os.path.join(DEBUG, "mongo-sim"), "--repl-set", "rs0", "--log-commands", "--listen-delay", listen_delay, *extra]
    for m in members:
        cmd += ["--member", m]
    with open(log, "w") as out:
        sim = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
    try:
        uri = "mongodb://" + ",".join(members) + "/?replicaSet=rs0"
        start = time.time()
        init = subprocess.run(
            [init_bin, "--uri", uri, "--timeout", "30s"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "")},
        )
        end = time.time()
        time.sleep(0.05)
    finally:
        sim.kill()
        sim.wait()
    with open(log) as f:
        lines = f.readlines()
    ready = [log_time(l) for l in lines if READY in l]
    commands = [log_time(l) for l in lines if COMMAND in l]
    sent = sum(1 for t in commands if start <= t <= end + 0.001)
    if init.returncode != 0 or not ready:
        return None
    return (end - ready[0]) * 1000, sent / max(end - start, 1e-3), end - start, sent


def bench(init_bin, runs, listen_delay="500ms", extra=(), label=""):
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            r = one_run(init_bin, tmp, i, listen_delay, list(extra))
            if r:
                results.append(r)
    if not results:
        print("mongo-rs-init convergence: no successful run")
        return
    lat = sorted(r[0] for r in results)
    rps = [r[1] for r in results]
    total = [r[2] for r in results]
    p95 = lat[max(0, int(len(lat) * 0.95 + 0.5) - 1)]
    print(
        f"\nmongo-rs-init convergence (fresh 3-member set, listen after {listen_delay}{label}; {len(results)}/{runs} runs ok)\n"
        f"  ready -> exit: median {statistics.median(lat):.0f} ms, p95 {p95:.0f} ms, max {lat[-1]:.0f} ms\n"
        f"  requests to the emulator: median {statistics.median(rps):.1f}/s, {statistics.median(r[3] for r in results):.0f} per run, over a median run of {statistics.median(total):.2f} s"
    )


def main_with(runs, init_bin=os.path.join(DIST, "mongo-rs-init")):
    bench(init_bin, runs)
    # mongod's own election timing is seconds, not 300 ms: the wait dominates, and what the
    # client costs the server while it waits shows.
    bench(init_bin, runs, extra=["--election-delay", "3s"], label=", election after 3s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--init-bin", default=os.path.join(DIST, "mongo-rs-init"))
    args = parser.parse_args()
    main_with(args.runs, args.init_bin)


if __name__ == "__main__":
    main()
