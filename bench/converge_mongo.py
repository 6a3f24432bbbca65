#!/usr/bin/env python3
"""Convergence of mongo-rs-init: time from "server ready" (the emulator's own log timestamp of
"Transition to primary complete; database writes are now permitted") to mongo-rs-init's exit,
over fresh 3-member sets that start listening late (--listen-delay), plus the requests it sent
(every command the emulator received during the run, --log-commands), per run and per second.

Each case runs the current mongo-rs-init and the baseline side by side: issue 10 asks for "no
more requests to the server per second than today", today being the polling waits before the
awaitable-hello change (the parent of commit 84209f3), built once from git into
$CARGO_TARGET_DIR/baseline-84209f3p (or --baseline-bin PATH).

Run by bench/bench.py; alone: python3 bench/converge_mongo.py [--runs N] [--init-bin PATH]
[--baseline-bin PATH]. Figures are printed, never asserted.
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

import from_git

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
DEBUG = os.path.join(TARGET, "debug")
DIST = os.path.join(TARGET, "x86_64-unknown-linux-gnu", "release")
READY = "Transition to primary complete; database writes are now permitted"
COMMAND = "Command received (mongo-sim)"
BASELINE_REV = "84209f3^"


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


def baseline_bin():
    """The baseline mongo-rs-init, built from git in its own target dir (never the tree's)."""
    return from_git.binary_at(BASELINE_REV, "mongo-rs-init", "baseline-84209f3p")


def figures(results):
    lat = sorted(r[0] for r in results)
    p95 = lat[max(0, int(len(lat) * 0.95 + 0.5) - 1)]
    return {
        "median": statistics.median(lat),
        "p95": p95,
        "rps": statistics.median(r[1] for r in results),
        "per_run": statistics.median(r[3] for r in results),
        "run_s": statistics.median(r[2] for r in results),
    }


def bench(init_bin, runs, listen_delay="500ms", extra=(), label="", baseline=None):
    """One case, the baseline (if given) and the current binary interleaved run by run so that
    machine load falls on both alike."""
    sides = [("baseline", baseline), ("now", init_bin)] if baseline else [("now", init_bin)]
    got = {name: [] for name, _ in sides}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            for name, binary in sides:
                r = one_run(binary, tmp, f"{name}-{i}", listen_delay, list(extra))
                if r:
                    got[name].append(r)
    print(f"\nmongo-rs-init convergence (fresh 3-member set, listen after {listen_delay}{label})")
    print(f"  {'':9} {'runs ok':>8} {'ready->exit median':>19} {'p95':>7} {'requests/s':>11} {'requests/run':>13} {'run':>7}")
    for name, _ in sides:
        if not got[name]:
            print(f"  {name:9} {'0/' + str(runs):>8}  no successful run")
            continue
        f = figures(got[name])
        print(
            f"  {name:9} {f'{len(got[name])}/{runs}':>8} {f['median']:>16.0f} ms {f['p95']:>4.0f} ms"
            f" {f['rps']:>11.1f} {f['per_run']:>13.0f} {f['run_s']:>6.2f}s"
        )


def main_with(runs, init_bin=os.path.join(DIST, "mongo-rs-init"), baseline=None):
    if baseline is None:
        try:
            baseline = baseline_bin()
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"mongo-rs-init convergence: no baseline ({e}); current binary only")
    bench(init_bin, runs, baseline=baseline, label=", election after 300ms (mongo-sim default)")
    # mongod's own election timing is seconds, not 300 ms: the wait dominates, and what the
    # client costs the server while it waits shows.
    bench(init_bin, runs, extra=["--election-delay", "3s"], label=", election after 3s", baseline=baseline)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--init-bin", default=os.path.join(DIST, "mongo-rs-init"))
    parser.add_argument("--baseline-bin", default=None, help="default: built from git " + BASELINE_REV)
    args = parser.parse_args()
    main_with(args.runs, args.init_bin, args.baseline_bin)


if __name__ == "__main__":
    main()
