#!/usr/bin/env python3
"""rc-bootstrap convergence (issue 10): time from "the server is ready" — rc-sim's own log
timestamp (`ts_ms` of its `listening` line, or of its `admin created` line) — to rc-bootstrap's
exit, over N runs, for a late listen (--listen-delay) and a late admin (--admin-delay): on 7.10
(the default; Meteor 3 listens only after initialData created the admin, see
sims/rc-sim/src/startup.rs) and on 6.13 (Meteor 2: the admin appears after the server answers).
Also counts the requests rc-bootstrap sent while waiting (rc-sim logs one line per request) and
the rate of those that reached the server before it was ready.

Run: python3 bench/rc_convergence.py [--runs 20] (after `cargo dist` and
`cargo build -p rc-sim`; bench/run builds both). Figures are printed, never asserted.
Binaries: $RC_BOOTSTRAP_BIN (default the static release build, else target/debug) and
$RC_SIM_BIN (default target/debug/rc-sim).
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def pick(env, *paths):
    if os.environ.get(env):
        return os.environ[env]
    for p in paths:
        if os.path.isfile(p):
            return p
    sys.exit(f"{env}: no binary at {paths}; build it first (bench/run does)")


BOOTSTRAP = pick("RC_BOOTSTRAP_BIN",
                 os.path.join(TARGET, "x86_64-unknown-linux-gnu", "release", "rc-bootstrap"),
                 os.path.join(TARGET, "debug", "rc-bootstrap"))
SIM = pick("RC_SIM_BIN", os.path.join(TARGET, "debug", "rc-sim"))
ADMIN, ADMIN_PASS = "root", "Adm1n-Passw0rd!xq"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(sim_args, ready_msg, wait_first=False):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADMIN_", "ROCKETCHAT_", "RC_"))}
    sim_env = dict(env, ADMIN_USERNAME=ADMIN, ADMIN_PASS=ADMIN_PASS)
    sim = subprocess.Popen([SIM, "--port", str(port), *sim_args], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=sim_env)
    logs = {"out": [], "err": []}
    readers = [threading.Thread(target=lambda s=s, k=k: logs[k].extend(s), daemon=True)
               for s, k in ((sim.stdout, "out"), (sim.stderr, "err"))]
    for t in readers:
        t.start()
    while wait_first and not logs["out"]:
        time.sleep(0.01)
    boot_env = dict(env, ROCKETCHAT_URL=f"http://127.0.0.1:{port}", ADMIN_USERNAME=ADMIN,
                    ADMIN_PASS=ADMIN_PASS, ROCKETCHAT_USER="hubot",
                    ROCKETCHAT_PASSWORD="B0t-Passw0rd!xyzw", ROCKETCHAT_ROOM="ops")
    try:
        start_ms = time.time() * 1000
        r = subprocess.run([BOOTSTRAP, "--timeout", "60s"], env=boot_env, capture_output=True,
                           text=True, timeout=90)
        end_ms = time.time() * 1000
        if r.returncode != 0:
            raise RuntimeError(f"rc-bootstrap exit {r.returncode}: {r.stderr.strip()[-300:]}")
    finally:
        sim.kill()
        sim.wait(10)
        for t in readers:
            t.join(5)
    lines = [json.loads(l) for l in logs["out"] + logs["err"] if l.startswith("{")]
    ready = next(l["ts_ms"] for l in lines if l.get("msg") == ready_msg)
    requests = [l for l in lines if l.get("msg") == "request"]
    waiting = sum(1 for l in requests if l["path"] in ("/api/info", "/api/v1/login"))
    # Requests the server received before it was ready, per second of its startup (sim start -> ready).
    early = sum(1 for l in requests if l["ts_ms"] < ready)
    rate = early / max((ready - start_ms) / 1000, 0.001)
    # The wait alone: ready -> the first request that succeeds on what was awaited.
    awaited = "/api/info" if ready_msg == "listening" else "/api/v1/login"
    first = next((l["ts_ms"] for l in requests
                  if l["path"] == awaited and l["status"] == 200 and l["ts_ms"] >= ready), ready)
    return end_ms - ready, waiting, end_ms - start_ms, first - ready, rate


def summary(name, samples):
    lags = sorted(s[0] for s in samples)
    p95 = lags[min(len(lags) - 1, int(round(0.95 * (len(lags) - 1))))]
    reqs = statistics.median(s[1] for s in samples)
    noticed = sorted(s[3] for s in samples)
    n95 = noticed[min(len(noticed) - 1, int(round(0.95 * (len(noticed) - 1))))]
    print(f"{name:<34} median {statistics.median(lags):7.1f} ms  p95 {p95:7.1f} ms  "
          f"max {lags[-1]:7.1f} ms  (info+login requests per run, median {reqs:.0f}; n={len(lags)})")
    print(f"{'  of which: ready -> noticed':<34} median {statistics.median(noticed):7.1f} ms  p95 {n95:7.1f} ms")
    print(f"{'  requests before ready':<34} median {statistics.median(s[4] for s in samples):7.2f} /s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    main_with(ap.parse_args().runs)


def main_with(runs):
    """The figures for `runs` runs of each scenario (bench/run calls this)."""
    print(f"rc-bootstrap {BOOTSTRAP}\nrc-sim       {SIM}")
    # The work itself (a ready server, started before rc-bootstrap): the floor of the figures below.
    base = [one_run([], "listening", wait_first=True)[2] for _ in range(runs)]
    print(f"{'ready server: whole run (floor)':<34} median {statistics.median(base):7.1f} ms")
    # Readiness spread over the polling interval: listen delays 300..1250 ms.
    late_listen = [one_run(["--listen-delay", f"{300 + 50 * (i % 20)}ms"], "listening")
                   for i in range(runs)]
    summary("late listen -> exit", late_listen)
    late_admin = [one_run(["--admin-delay", f"{300 + 50 * (i % 20)}ms"], "admin created")
                  for i in range(runs)]
    summary("late admin (7.10) -> exit", late_admin)
    late_admin_6 = [one_run(["--version", "6.13.0", "--admin-delay", f"{300 + 50 * (i % 20)}ms"],
                            "admin created") for i in range(runs)]
    summary("late admin (6.13) -> exit", late_admin_6)


if __name__ == "__main__":
    main()
