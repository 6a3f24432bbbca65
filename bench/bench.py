#!/usr/bin/env python3
"""Side-by-side figures for the probes: wall time, CPU time and peak RSS per run, against the
baselines an operator would otherwise use (a pymongo one-liner, mongosh when installed, a
rocketchat_API script), on the same emulators, plus each shipped binary's size.

Run: bench/run (builds the static binaries and the emulators, then calls this script).
Figures are printed, never asserted: performance is measured here, not in tests.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
DIST = os.path.join(TARGET, "x86_64-unknown-linux-gnu", "release")
DEBUG = os.path.join(TARGET, "debug")
PY = sys.executable


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GNU_TIME = shutil.which("time", path="/usr/bin:/bin")


def peak_rss_kib(cmd, env=None):
    """Peak RSS of one run, read by GNU time. Not from our own wait4: a child forked from this
    Python process inherits its resident pages, and the kernel carries that high-water mark
    across exec, so every command would seem to need at least as much as Python."""
    if not GNU_TIME:
        return None
    out = subprocess.run(
        [GNU_TIME, "-f", "%M", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    return int(out.stderr.strip().splitlines()[-1])


def measure(cmd, runs, env=None):
    """Runs cmd `runs` times; returns per-run wall (ms), CPU (ms), peak RSS (KiB) and exit codes."""
    walls, cpus, codes = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append((time.perf_counter() - start) * 1000)
        cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
        codes.append(os.waitstatus_to_exitcode(status))
    rss = [r for r in (peak_rss_kib(cmd, env) for _ in range(3)) if r is not None]
    return walls, cpus, rss, codes


def measure_interleaved(cmds, runs):
    """Like measure, for several commands run in turns (A B, B A, A B, ...), so that a load
    change on the machine hits all of them alike. cmds: {name: argv}; returns {name: result}."""
    walls = {n: [] for n in cmds}
    cpus = {n: [] for n in cmds}
    codes = {n: [] for n in cmds}
    names = list(cmds)
    for i in range(runs):
        for n in names if i % 2 == 0 else reversed(names):
            start = time.perf_counter()
            proc = subprocess.Popen(cmds[n], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            walls[n].append((time.perf_counter() - start) * 1000)
            cpus[n].append((usage.ru_utime + usage.ru_stime) * 1000)
            codes[n].append(os.waitstatus_to_exitcode(status))
    out = {}
    for n in names:
        rss = [r for r in (peak_rss_kib(cmds[n]) for _ in range(3)) if r is not None]
        out[n] = (walls[n], cpus[n], rss, codes[n])
    return out


def row(name, result):
    walls, cpus, rss, codes = result
    walls_sorted = sorted(walls)
    p95 = walls_sorted[max(0, int(len(walls_sorted) * 0.95) - 1)]
    ok = sum(1 for c in codes if c == 0)
    return (
        f"{name:<34} {statistics.median(walls):>9.1f} {p95:>9.1f} "
        f"{statistics.median(cpus):>9.1f} {(f'{max(rss) / 1024:.1f}' if rss else 'n/a'):>9} {ok:>4}/{len(codes)}"
    )


HEADER = f"{'command':<34} {'wall ms':>9} {'p95 ms':>9} {'cpu ms':>9} {'RSS MiB':>9} {'exit0':>9}"


def wait_line(path, needle, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(path) as f:
                for line in f:
                    if needle in line:
                        return line
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"emulator did not print {needle!r} within {timeout}s (see {path})")


def bench_mongo(runs, tmp):
    port = free_port()
    log = os.path.join(tmp, "mongo.log")
    sim = subprocess.Popen(
        [os.path.join(DEBUG, "mongo-sim"), "--repl-set", "rs0", "--member", f"127.0.0.1:{port}"],
        stdout=open(log, "w"),
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_line(log, "Waiting for connections")
        uri = f"mongodb://127.0.0.1:{port}"
        subprocess.run(
            [os.path.join(DIST, "mongo-rs-init"), "--uri", uri, "--replica-set", "rs0", "--timeout", "30s"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(f"\nMongoDB readiness check against mongo-sim (writable PRIMARY), {runs} runs each")
        print(HEADER)
        print(row("mongo-rs-probe", measure([os.path.join(DIST, "mongo-rs-probe"), "--uri", uri], runs)))
        one_liner = (
            "import sys,pymongo;"
            f"c=pymongo.MongoClient('{uri}',directConnection=True,serverSelectionTimeoutMS=2000);"
            "sys.exit(0 if c.admin.command('hello').get('isWritablePrimary') else 1)"
        )
        print(row("python -c pymongo hello", measure([PY, "-c", one_liner], max(3, runs // 10))))
        mongosh = shutil.which("mongosh")
        if mongosh:
            cmd = [mongosh, "--quiet", uri, "--eval", "db.hello().isWritablePrimary || quit(1)"]
            print(row("mongosh --eval", measure(cmd, max(3, runs // 10))))
        else:
            print(f"{'mongosh --eval':<34} (not installed here: the issue quotes ~0.7 s, 30-130 MiB)")
    finally:
        sim.kill()


def bench_rc(runs, tmp):
    port = free_port()
    log = os.path.join(tmp, "rc.log")
    env = dict(os.environ, ADMIN_USERNAME="boss", ADMIN_PASS="Adm1n-pass-for-bench!", ADMIN_EMAIL="b@example.org")
    # The rate limiter is off so the baseline's timing is measured on successful runs; with
    # Rocket.Chat's default limiter a login-per-run probe fails after 10 logins a minute
    # (tests/e2e/tests/rc_probe.rs shows rc-probe does not).
    sim = subprocess.Popen(
        [os.path.join(DEBUG, "rc-sim"), "--port", str(port), "--setting", "API_Enable_Rate_Limiter=false"],
        stdout=open(log, "w"),
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        wait_line(log, '"listening"')
        url = f"http://127.0.0.1:{port}"
        bot_pw = os.path.join(tmp, "bot-pw")
        admin_pw = os.path.join(tmp, "admin-pw")
        with open(bot_pw, "w") as f:
            f.write("B0t-pass-for-bench-ok!\n")
        with open(admin_pw, "w") as f:
            f.write("Adm1n-pass-for-bench!\n")
        subprocess.run(
            [os.path.join(DIST, "rc-bootstrap"), "--url", url, "--admin-username", "boss",
             "--admin-password-file", admin_pw, "--bot-username", "hubot", "--bot-password-file", bot_pw,
             "--room", "ops", "--timeout", "60s"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cache = os.path.join(tmp, "token")
        probe = [os.path.join(DIST, "rc-probe"), "--url", url, "--user", "hubot", "--password-file", bot_pw,
                 "--room", "ops", "--token-cache", cache,
                 "--presence", "off"]  # no Hubot here: the account-level checks only
        subprocess.run(probe, check=True, stdout=subprocess.DEVNULL)  # warm the token cache
        print(f"\nRocket.Chat readiness check against rc-sim (bot logged in, member, may post), {runs} runs each")
        print(HEADER)
        print(row("rc-probe (cached session)", measure(probe, runs)))
        script = (
            "import sys;from rocketchat_API.rocketchat import RocketChat;"
            f"rc=RocketChat('hubot','B0t-pass-for-bench-ok!',server_url='{url}');"
            "r=rc.channels_info(channel='ops');sys.exit(0 if r.get('success') else 1)"
        )
        print(row("python rocketchat_API login+info", measure([PY, "-c", script], max(3, runs // 10))))
        print("(the rocketchat_API baseline logs in on every run: one more resume token each time, and")
        print(" with Rocket.Chat's default rate limiter it is refused after 10 logins a minute)")
    finally:
        sim.kill()


def sizes():
    print("\nShipped binaries (static, release profile)")
    for name in ["mongo-rs-init", "mongo-rs-probe", "mongo-rs-follow", "rc-bootstrap", "rc-probe"]:
        path = os.path.join(DIST, name)
        size = os.path.getsize(path)
        print(f"{name:<34} {size / 1e6:>9.2f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_mongo(args.runs, tmp)
        bench_rc(args.runs, tmp)
    # Convergence: >= 20 fresh sets however many probe runs were asked for.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import converge_mongo

    converge_mongo.main_with(max(20, min(args.runs, 40)))
    import rc_convergence

    rc_convergence.main_with(max(20, min(args.runs, 40)))
    import tls_probe

    tls_probe.main_with(args.runs)
    sizes()


if __name__ == "__main__":
    main()
