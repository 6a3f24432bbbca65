#!/usr/bin/env python3
"""rc-bootstrap convergence (issue 10): time from "the server is ready" — rc-sim's own log
timestamp (`ts_ms` of its `listening` line, or of its `admin created` line) — to rc-bootstrap's
exit, over N runs, for a late listen (--listen-delay) and a late admin (--admin-delay): on 7.10
(the default; Meteor 3 listens only after initialData created the admin, see
sims/rc-sim/src/startup.rs) and on 6.13 (Meteor 2: the admin appears after the server answers).
Also counts the requests rc-bootstrap sent while waiting (rc-sim logs one line per request) and
the rate of those that reached the server before it was ready.

Each scenario runs the baseline and the current rc-bootstrap interleaved, side by side: the
baseline is rc-bootstrap before issue 10: 977a59d, the last commit before 593e805 (which brought
the /api/info wait) at which rc-bootstrap builds (48ada23 and c4c416b changed rc-client under it),
built once from git in release into $CARGO_TARGET_DIR/baseline-977a59d (or --baseline-bin PATH;
--no-baseline skips it).

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

import from_git

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
BASELINE_REV = "977a59d"


def baseline_bin():
    """The baseline rc-bootstrap, built from git in its own target dir (never the tree's)."""
    return from_git.binary_at(BASELINE_REV, "rc-bootstrap", f"baseline-{BASELINE_REV}", release=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(bootstrap, sim_args, ready_msg, wait_first=False):
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
        r = subprocess.run([bootstrap, "--timeout", "60s"], env=boot_env, capture_output=True,
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
    waiting = sum(1 for l in requests if l["path"] in ("/api/info", "/api/v1/login", "/websocket"))
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
    print(f"{name:<42} median {statistics.median(lags):7.1f} ms  p95 {p95:7.1f} ms  "
          f"max {lags[-1]:7.1f} ms  (info+login+websocket requests per run, median {reqs:.0f}; n={len(lags)})")
    print(f"{'  of which: ready -> noticed':<42} median {statistics.median(noticed):7.1f} ms  p95 {n95:7.1f} ms")
    print(f"{'  requests before ready':<42} median {statistics.median(s[4] for s in samples):7.2f} /s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--baseline-bin", default=None, help="default: built from git " + BASELINE_REV)
    ap.add_argument("--no-baseline", action="store_true")
    a = ap.parse_args()
    main_with(a.runs, baseline=False if a.no_baseline else a.baseline_bin)


def main_with(runs, baseline=None):
    """The figures for `runs` runs of each scenario (bench/run calls this); `baseline`: a path,
    None (build it from git) or False (none)."""
    if baseline is None:
        try:
            baseline = baseline_bin()
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"rc-bootstrap convergence: no baseline ({e}); current binary only")
            baseline = False
    sides = [("now", BOOTSTRAP)] + ([("baseline", baseline)] if baseline else [])
    if baseline and "/debug/" in BOOTSTRAP:
        print("warning: the current rc-bootstrap is a debug build, the baseline a release one")
    print(f"rc-bootstrap {BOOTSTRAP}\nbaseline     {baseline or 'none'}\nrc-sim       {SIM}")
    # The work itself (a ready server, started before rc-bootstrap): the floor of the figures below.
    base = [one_run(BOOTSTRAP, [], "listening", wait_first=True)[2] for _ in range(runs)]
    print(f"{'ready server: whole run (floor)':<42} median {statistics.median(base):7.1f} ms")
    # Readiness spread over the polling interval: delays 300..1250 ms; both sides get the same
    # delays, run by run, interleaved (the machine's load is shared alike).
    scenarios = [
        ("late listen -> exit", lambda i: ["--listen-delay", f"{300 + 50 * (i % 20)}ms"], "listening"),
        ("late admin (7.10) -> exit", lambda i: ["--admin-delay", f"{300 + 50 * (i % 20)}ms"], "admin created"),
        ("late admin (6.13) -> exit",
         lambda i: ["--version", "6.13.0", "--admin-delay", f"{300 + 50 * (i % 20)}ms"], "admin created"),
    ]
    for name, args, ready in scenarios:
        results = {side: [] for side, _ in sides}
        for i in range(runs):
            # Alternate who goes first, so neither side always meets a warmer machine.
            for side, binary in (sides if i % 2 == 0 else sides[::-1]):
                results[side].append(one_run(binary, args(i), ready))
        for side, _ in sides:
            summary(f"{name} [{side}]", results[side])


if __name__ == "__main__":
    main()
