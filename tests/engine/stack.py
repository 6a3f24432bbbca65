"""The compose stack on the real engine DOCKER_HOST points at (scripts/engine): one project per
test module, the emulated images (compose/emulated.yaml), internal networks (engine.yaml).
Every call has a timeout; waits poll `docker inspect` under a deadline (no fixed sleeps)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
HERE = Path(__file__).resolve().parent
TAG = os.environ.get("COQUELICOT_TAG", "dev")
# hubot is the real image (docker/hubot.Dockerfile, built by scripts/images); conftest.py fails
# the suite when it is missing: there is no stand-in.
CORE = ["mongo", "mongo-rs-init", "rocketchat", "rc-bootstrap", "hubot"]

ENV = {
    "ROOT_URL": "http://localhost:3000",
    "ADMIN_USERNAME": "admin",
    "ADMIN_PASS": "Adm1n-engine-pass",
    "ADMIN_EMAIL": "admin@example.test",
    "ROCKETCHAT_USER": "coquelicot",
    "ROCKETCHAT_PASSWORD": "B0t-engine-pass",
    "ROCKETCHAT_ROOM": "gitlab",
    "GITLAB_ROOT_PASSWORD": "unused-gitlab-pass",
    "COQUELICOT_TAG": TAG,
}


def run(args, timeout=120, check=True, env=None, input=None):
    p = subprocess.run(
        args, capture_output=True, text=True, timeout=timeout, env=env, input=input
    )
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


def ts(text: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) as epoch seconds."""
    if text.startswith("0001-"):
        return 0.0
    head, _, frac = text.rstrip("Z").partition(".")
    base = datetime.fromisoformat(head + "+00:00").timestamp()
    return base + (float("0." + frac[:6]) if frac else 0.0)


class Stack:
    def __init__(self, project: str, files=("docker-compose.yml", "emulated.yaml"), extra_env=None):
        self.project = project
        self.files = [str(COMPOSE / f) for f in files] + [str(HERE / "engine.yaml")]
        self.env = {**os.environ, **ENV, **(extra_env or {})}
        self.overrides: list[str] = []

    def with_override(self, path: Path) -> "Stack":
        self.files.append(str(path))
        return self

    def compose(self, *args, timeout=180, check=True):
        cmd = ["docker", "compose", "-p", self.project]
        for f in self.files:
            cmd += ["-f", f]
        return run(cmd + list(args), timeout=timeout, check=check, env=self.env)

    def up(self, *services, timeout=180):
        t0 = time.monotonic()
        p = self.compose("up", "-d", "--wait", "--wait-timeout", str(timeout - 10),
                         *(services or CORE), timeout=timeout, check=False)
        took = time.monotonic() - t0
        if p.returncode != 0:
            raise AssertionError(f"up --wait -> {p.returncode}\n{p.stderr}\n{self.logs()}")
        return took

    def down(self, volumes=True):
        args = ["down", "--remove-orphans", "-t", "5"] + (["-v"] if volumes else [])
        self.compose(*args, timeout=120, check=False)

    def cid(self, service: str) -> str:
        out = self.compose("ps", "-a", "-q", service).stdout.split()
        assert out, f"no container for {service}"
        return out[0]

    def inspect(self, service: str) -> dict:
        return json.loads(run(["docker", "inspect", self.cid(service)]).stdout)[0]

    def logs(self, *services) -> str:
        p = self.compose("logs", "--no-color", "--no-log-prefix", *services, check=False)
        return p.stdout + p.stderr

    def network(self) -> str:
        return f"{self.project}_default"

    def wait_for(self, what: str, predicate, timeout=60.0, every=0.2):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = predicate()
            if last:
                return last
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")

    def health(self, service: str) -> str:
        st = self.inspect(service)["State"]
        return (st.get("Health") or {}).get("Status", st["Status"])

    def on_net(self, *argv, timeout=30, check=True):
        """A throwaway container on the stack's network (as GitLab would be)."""
        return run(["docker", "run", "--rm", "--network", self.network(),
                    f"coquelicot/busybox:{TAG}", *argv], timeout=timeout, check=check)

    def webhook_url(self) -> str:
        p = run(["docker", "run", "--rm", "-v", f"{self.project}_webhook:/w:ro",
                 f"coquelicot/busybox:{TAG}", "cat", "/w/webhook-url"])
        return p.stdout.strip()


def first_healthy(stack: Stack, service: str) -> float | None:
    """When the engine first reported the container healthy (its health log keeps only 5
    results, the event stream keeps them all)."""
    c = stack.inspect(service)
    ev = run(["docker", "events", "--since", c["Created"], "--until", str(int(time.time()) + 1),
              "--filter", f"container={c['Id']}", "--filter", "event=health_status",
              "--format", "{{.Status}} {{.TimeNano}}"], timeout=30)
    times = [int(line.split()[-1]) / 1e9 for line in ev.stdout.splitlines()
             if line.startswith("health_status: healthy")]
    return min(times) if times else None


def timings(stack: Stack, services) -> dict[str, str]:
    """Per service: seconds from container creation to first healthy, or to its final exit."""
    out = {}
    for s in services:
        c = stack.inspect(s)
        st, created = c["State"], ts(c["Created"])
        if st.get("Health"):
            ok = first_healthy(stack, s)
            out[s] = f"healthy {ok - created:.2f}s after creation" if ok else st["Health"]["Status"]
        elif st["Status"] == "exited":
            out[s] = (f"exit {st['ExitCode']} {ts(st['FinishedAt']) - created:.2f}s after creation"
                      f" ({c['RestartCount']} restarts)")
        else:
            out[s] = f"{st['Status']}, started {ts(st['StartedAt']) - created:.2f}s after creation"
    return out
