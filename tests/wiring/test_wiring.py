"""Static checks of the container wiring: docker/, compose/, k8s/ (no Docker engine needed).

Every env var, flag and probe the manifests hand to one of our binaries is checked against what
the built binary really accepts (its `--help`: every option and its `[env: NAME]`), so a renamed
flag or variable breaks this test instead of a deployment. A missing binary FAILS: wiring for a
binary that does not exist (or was not built) is a defect, not something to skip.

Run after `cargo build --workspace` (scripts/test does): .venv/bin/python -m pytest tests/wiring -q
The binaries are read from $COQUELICOT_BIN_DIR, else $CARGO_TARGET_DIR/debug, else target/debug.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

# Compose's merge tags in override files (`!reset null` drops a base value): plain YAML here.
def _compose_tag(loader, node):
    if isinstance(node, yaml.ScalarNode):
        return None if node.value in ("", "null") else loader.construct_scalar(node)
    return loader.construct_object(node, deep=True)


for _tag in ("!reset", "!override"):
    yaml.SafeLoader.add_constructor(_tag, _compose_tag)

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
DOCKER = ROOT / "docker"
K8S = ROOT / "k8s"
BINARIES = ("mongo-rs-init", "mongo-rs-probe", "rc-bootstrap", "rc-probe", "mongo-rs-follow", "net-probe")
# Hubot and Rocket.Chat read plain variables only, so these reach them as env values. Anything
# matching this must be a ${VAR} interpolation, a file path (*_FILE) or a Secret reference.
SECRET_KEY = re.compile(r"PASS|PASSWORD|TOKEN|SECRET", re.IGNORECASE)
INTERPOLATION = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?:(?::?[-?])[^}]*)?\}$")


# ---------------------------------------------------------------------------------------------
# Sources of truth: the built binaries' --help
# ---------------------------------------------------------------------------------------------


def bin_dir() -> Path:
    if os.environ.get("COQUELICOT_BIN_DIR"):
        return Path(os.environ["COQUELICOT_BIN_DIR"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    return (target if target.is_absolute() else ROOT / target) / "debug"


class Cli:
    """What one binary accepts, read from its `--help` (clap renders every option with its
    `[env: NAME]`; the Usage line lists the required options)."""

    def __init__(self, name: str, help_text: str):
        self.name = name
        self.env: set[str] = set()
        self.flags: set[str] = {"help", "version"}
        self.required_env: set[str] = set()
        usage = next((l for l in help_text.splitlines() if l.startswith("Usage: ")), "")
        required = set(re.findall(r"(?<![\[|])--([a-z0-9-]+) <", usage))
        options = help_text.split("\nOptions:\n", 1)[1] if "\nOptions:\n" in help_text else ""
        current = None
        for line in options.splitlines():
            m = re.match(r"^ {2,10}(?:-\w, )?--([a-z0-9-]+)", line)
            if m:
                current = m.group(1)
                self.flags.add(current)
                continue
            e = re.match(r"^\s+\[env: ([A-Z0-9_]+)", line)
            if e and current:
                self.env.add(e.group(1))
                if current in required:
                    self.required_env.add(e.group(1))


@lru_cache(maxsize=None)
def cli(binary: str) -> Cli:
    path = bin_dir() / binary
    assert path.is_file(), f"{path} is missing: the manifests wire a binary that does not exist (or run `cargo build --workspace` first)"
    out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=30, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    assert out.returncode == 0, f"{binary} --help: exit {out.returncode}: {out.stderr}"
    c = Cli(binary, out.stdout)
    assert c.env, f"{binary} --help shows no `[env: ...]`: cannot check its wiring"
    return c


def test_every_binary_source_exists_and_is_parsed():
    for b in BINARIES:
        c = cli(b)
        assert "timeout" in c.flags, f"{b}: no --timeout flag found in its clap definition"


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def parse_duration(text: str) -> float:
    """`500ms`, `2s`, `1m30s`, `3` (seconds) -> seconds.

    Reads two grammars that agree on what appears here: our binaries' flags and env values
    (`--timeout 2s`, MONGO_RS_FOLLOW_INTERVAL), whose grammar is crates/sidecar/src/duration.rs
    (= sims/sim-util: a bare number is seconds), and Docker/compose healthcheck durations
    (Go's time.ParseDuration, which needs a unit; `us`/`ns` never appear in our files).
    """
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    assert parts and "".join(n + u for n, u in parts) == text, f"unparsable duration {text!r}"
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(n) * scale[u] for n, u in parts)


def flag_value(argv: list[str], flag: str) -> str | None:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None


def check_argv(binary: str, argv: list[str], where: str) -> None:
    """Every --flag given to one of our binaries is one it declares."""
    accepted = cli(binary).flags
    for a in argv:
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            assert name in accepted, f"{where}: {binary} has no flag --{name} (accepted: {sorted(accepted)})"


def binary_of(path_or_image: str) -> str | None:
    """Which of our binaries an image reference or an executable path is."""
    last = path_or_image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return last if last in BINARIES else None


def resolve_defaults(text: str) -> str:
    """Compose interpolation with the file's own defaults (`${X:-d}` -> d, `${X}` -> <X>)."""

    def sub(m: re.Match) -> str:
        name, op, rest = m.group(1), m.group(2), m.group(3)
        return rest if op in (":-", "-") else f"<{name}>"

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}", sub, text)


def git_ignored(rel: str) -> bool:
    r = subprocess.run(["git", "check-ignore", "-q", "--no-index", rel], cwd=ROOT)
    return r.returncode == 0


# ---------------------------------------------------------------------------------------------
# YAML: everything parses
# ---------------------------------------------------------------------------------------------


def yaml_files() -> list[Path]:
    files = [p for d in (ROOT / "compose", K8S) for p in d.rglob("*") if p.suffix in (".yml", ".yaml")]
    return sorted(files)


def test_every_yaml_file_parses():
    files = yaml_files()
    assert COMPOSE_FILE in files and (K8S / "base" / "kustomization.yaml") in files
    for f in files:
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d is not None]
        assert docs, f"{f.relative_to(ROOT)} holds no YAML document"
        for d in docs:
            assert isinstance(d, dict), f"{f.relative_to(ROOT)}: a document is not a mapping"


# ---------------------------------------------------------------------------------------------
# Dockerfiles
# ---------------------------------------------------------------------------------------------


class Stage:
    def __init__(self, base: str, name: str | None):
        self.base, self.name = base, name
        self.instructions: list[tuple[str, str]] = []

    def all(self, kw: str) -> list[str]:
        return [rest for k, rest in self.instructions if k == kw]


def dockerfile_stages(path: Path) -> list[Stage]:
    lines, buf = [], ""
    for raw in path.read_text().splitlines():
        if re.match(r"^\s*#", raw):  # comments (also inside continuations) are dropped by Docker
            continue
        if raw.rstrip().endswith("\\"):
            buf += raw.rstrip()[:-1] + " "
            continue
        buf += raw
        if buf.strip():
            lines.append(buf.strip())
        buf = ""
    stages: list[Stage] = []
    for line in lines:
        kw, _, rest = line.partition(" ")
        kw = kw.upper()
        if kw == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif stages:
            stages[-1].instructions.append((kw, rest.strip()))
    return stages


# emulators.Dockerfile: test-only images of the emulators, from binaries built outside (no cargo).
DOCKERFILES = sorted(p for p in DOCKER.glob("*Dockerfile") if p.name != "emulators.Dockerfile")


def test_dockerfiles_exist():
    names = {p.name for p in DOCKERFILES}
    assert {"Dockerfile", "mongo.Dockerfile", "hubot.Dockerfile"} <= names


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_rust_builds_are_static_locked_and_targeted(path):
    runs = [r for s in dockerfile_stages(path) for r in s.all("RUN") if "cargo build" in r]
    assert runs, f"{path.name}: no cargo build"
    for r in runs:
        assert "+crt-static" in r, f"{path.name}: cargo build without -C target-feature=+crt-static"
        assert "--locked" in r and "--release" in r, f"{path.name}: cargo build must be --release --locked"
        # --target keeps RUSTFLAGS off build scripts and proc-macros (host artifacts).
        assert "--target x86_64-unknown-linux-gnu" in r, f"{path.name}: cargo build without --target"


def test_sidecar_dockerfile_final_stage_is_scratch_nonroot():
    stages = dockerfile_stages(DOCKER / "Dockerfile")
    final = stages[-1]
    assert final.base == "scratch", "docker/Dockerfile: the default (last) stage must be FROM scratch"
    users = final.all("USER")
    assert users and users[-1].split(":")[0] not in ("0", "root"), "final stage must set a non-root USER"
    assert re.fullmatch(r"\d+(:\d+)?", users[-1]), "scratch has no /etc/passwd: USER must be numeric"
    entry = final.all("ENTRYPOINT")
    assert entry and entry[-1].startswith("["), "ENTRYPOINT must be exec form (scratch has no shell)"
    assert "$" not in entry[-1], "exec-form ENTRYPOINT does not expand ARG/ENV"
    labels = " ".join(final.all("LABEL"))
    for key in ("title", "description", "source", "licenses", "version", "revision"):
        assert f"org.opencontainers.image.{key}=" in labels, f"missing label org.opencontainers.image.{key}"
    # BIN builds any of the four, and the build refuses anything else.
    builder = stages[0]
    assert "BIN" in builder.all("ARG")
    assert any('-p "${BIN}"' in r or "-p $BIN" in r or '-p "$BIN"' in r for r in builder.all("RUN"))
    guard = " ".join(builder.all("RUN"))
    for b in BINARIES:
        assert b in guard, f"the BIN guard does not list {b}"
    # Both origins of the binary (builder, prebuilt from the context) go through ONE layout stage.
    by_name = {st.name: st for st in stages}
    assert "BIN_FROM" in " ".join(stages[0].all("ARG")) or "prebuilt" in by_name
    assert any("bin/${BIN}" in c for c in by_name["prebuilt"].all("COPY"))
    guard = " ".join(by_name["layout"].all("RUN"))
    # rc-probe's token cache needs a world-writable sticky /tmp; the entry name is created.
    assert "chmod 1777" in guard and "/out/tmp" in guard
    assert "/out/entrypoint" in guard and entry[-1] == '["/entrypoint"]'
    assert "dynamically linked" in guard and "-eq 3" in guard, "the build must refuse a binary with PT_INTERP"
    # Every stage that ends up as an image runs as non-root.
    for s in (by_name["install"], final):
        assert s.all("USER"), f"stage {s.name} has no USER"


@pytest.mark.parametrize("name,binary", [("mongo.Dockerfile", "mongo-rs-probe"), ("hubot.Dockerfile", "rc-probe")])
def test_derived_images_healthcheck_with_our_probe(name, binary):
    final = dockerfile_stages(DOCKER / name)[-1]
    assert final.base != "scratch"
    copies = " ".join(final.all("COPY"))
    assert f"/usr/local/bin/{binary}" in copies, f"{name}: {binary} is not copied into the image"
    hc = final.all("HEALTHCHECK")
    assert len(hc) == 1, f"{name}: exactly one HEALTHCHECK expected"
    m = re.match(r"(?P<opts>(?:--[a-z-]+=\S+\s+)*)CMD\s+(?P<cmd>\[.*\])$", hc[0])
    assert m, f"{name}: HEALTHCHECK must be `[--opts] CMD [exec form]`: {hc[0]}"
    opts = dict(re.findall(r"--([a-z-]+)=(\S+)", m.group("opts")))
    for o in ("interval", "timeout", "start-period", "retries"):
        assert o in opts, f"{name}: HEALTHCHECK without --{o} (Docker's defaults: 30s interval, 0s start)"
    argv = yaml.safe_load(m.group("cmd"))
    assert argv[0] == f"/usr/local/bin/{binary}"
    check_argv(binary, argv[1:], name)
    t = flag_value(argv, "--timeout")
    assert t, f"{name}: give the probe an explicit --timeout below the HEALTHCHECK --timeout"
    assert parse_duration(t) < parse_duration(opts["timeout"]), f"{name}: probe --timeout {t} >= HEALTHCHECK --timeout"


def test_root_dockerignore():
    assert not (DOCKER / ".dockerignore").exists(), "docker/.dockerignore is never read: use the root one"
    rules = (ROOT / ".dockerignore").read_text().split()
    for r in ("target/", ".venv/"):
        assert r in rules, f".dockerignore lacks {r}"
    assert any("node_modules" in r for r in rules)
    for secret_path in ("compose/.env", "compose/secrets/", "k8s/**/secrets/"):
        assert secret_path in rules, f".dockerignore must keep {secret_path} out of the build context"


# ---------------------------------------------------------------------------------------------
# Compose
# ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict:
    return compose()["services"]


def env_of(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def depends(svc: dict) -> dict[str, str]:
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: (v or {}).get("condition", "service_started") for k, v in d.items()}


def compose_binary(svc: dict) -> str | None:
    """Our binary a compose service runs as its main process (built from docker/Dockerfile)."""
    b = svc.get("build")
    if isinstance(b, dict) and b.get("dockerfile") == "docker/Dockerfile":
        return (b.get("args") or {}).get("BIN")
    return None


def compose_healthcheck(name: str) -> list[str] | None:
    svc = services()[name]
    if "healthcheck" in svc:
        return svc["healthcheck"]["test"]
    b = svc.get("build")
    if isinstance(b, dict):
        hc = dockerfile_stages(ROOT / b["dockerfile"])[-1].all("HEALTHCHECK")
        if hc:
            return ["CMD"] + yaml.safe_load(hc[0].split("CMD", 1)[1].strip())
    return None


def test_compose_dependency_graph():
    s = services()
    # Rocket.Chat crashes on a MongoDB that is not an initiated replica set with a PRIMARY.
    # mongo-rs-init too: `up --wait` fails on a one-shot nobody depends on (docker/compose#10596).
    assert depends(s["rocketchat"]) == {"mongo": "service_healthy", "mongo-rs-init": "service_completed_successfully"}
    # The initiator must NOT wait for mongo healthy: mongo is healthy only after initiation.
    assert depends(s["mongo-rs-init"]) == {"mongo": "service_started"}
    assert depends(s["rc-bootstrap"]).get("rocketchat") in ("service_started", "service_healthy")
    # The bot user and room exist only once rc-bootstrap exited 0.
    assert depends(s["hubot"]) == {"rc-bootstrap": "service_completed_successfully"}
    assert s["gitlab"].get("profiles") == ["gitlab"]
    assert depends(s["gitlab"]) == {"hubot": "service_healthy"}


def test_compose_init_containers_are_one_shot_and_restart_on_failure():
    for name in ("mongo-rs-init", "rc-bootstrap"):
        restart = str(services()[name].get("restart", ""))
        assert re.fullmatch(r"on-failure(:\d+)?", restart), f"{name}: restart must be on-failure, got {restart!r}"
    for name in ("mongo", "rocketchat", "hubot"):
        assert services()[name].get("restart") in ("unless-stopped", "always"), f"{name}: long-running service without restart policy"


def test_compose_conditions_are_satisfiable():
    s = services()
    for name, svc in s.items():
        for dep, cond in depends(svc).items():
            assert dep in s, f"{name} depends on unknown service {dep}"
            assert cond in ("service_started", "service_healthy", "service_completed_successfully")
            if cond == "service_healthy":
                hc = compose_healthcheck(dep)
                assert hc, f"{name} waits for {dep} healthy, but {dep} has no healthcheck: it never becomes healthy"
                assert not str(s[dep].get("restart", "")).startswith("on-failure"), (
                    f"{name} waits for one-shot {dep} to be healthy: use service_completed_successfully"
                )
            if cond == "service_completed_successfully":
                assert str(s[dep].get("restart", "")).startswith("on-failure"), (
                    f"{name} waits for {dep} to complete, but {dep} is not a one-shot (restart: on-failure) service"
                )
            # A profiled service must not be required by an always-on one.
            if s[dep].get("profiles"):
                assert set(s[dep]["profiles"]) <= set(svc.get("profiles") or []), f"{name} depends on profiled {dep}"
    # No cycle.
    state: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        assert state.get(n) != 1, f"depends_on cycle: {' -> '.join(path + [n])}"
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in depends(s[n]):
            visit(d, path + [n])
        state[n] = 2

    for n in s:
        visit(n, [])


def test_compose_healthchecks_use_our_probes():
    for name, binary in (("mongo", "mongo-rs-probe"), ("hubot", "rc-probe")):
        svc = services()[name]
        test = compose_healthcheck(name)
        assert test and test[0] == "CMD", f"{name}: healthcheck must be exec form ['CMD', ...] (no shell wrapper that could always exit 0)"
        assert binary_of(test[1]) == binary, f"{name}: healthcheck must run {binary}, got {test[1]}"
        check_argv(binary, test[2:], f"compose {name} healthcheck")
        hc = svc.get("healthcheck", {})
        t = flag_value(test, "--timeout")
        assert t and "timeout" in hc, f"{name}: explicit probe --timeout and healthcheck timeout required"
        assert parse_duration(t) < parse_duration(hc["timeout"]), f"{name}: probe --timeout {t} >= healthcheck timeout {hc['timeout']}"
        assert "start_period" in hc, f"{name}: without start_period the first failures count as unhealthy"
        # The probe binary is really in that image.
        dockerfile = ROOT / svc["build"]["dockerfile"]
        assert f"/usr/local/bin/{binary}" in " ".join(dockerfile_stages(dockerfile)[-1].all("COPY"))


def test_compose_builds_reference_real_dockerfiles_and_binaries():
    for name, svc in services().items():
        b = svc.get("build")
        if not b:
            continue
        assert b.get("context") == "..", f"{name}: build context must be the repository root (Cargo workspace)"
        df = ROOT / b["dockerfile"]
        assert df.is_file(), f"{name}: {b['dockerfile']} does not exist"
        if "target" in b:
            assert b["target"] in {s.name for s in dockerfile_stages(df)}, f"{name}: no stage {b['target']}"
        binary = compose_binary(svc)
        if b["dockerfile"] == "docker/Dockerfile":
            assert binary in BINARIES, f"{name}: BIN={binary!r} is not one of {BINARIES}"
            cli(binary)  # fails if the source is missing


def test_compose_env_passed_to_our_binaries_is_accepted():
    checked = 0
    for name, svc in services().items():
        env = env_of(svc)
        binary = compose_binary(svc)
        if binary:
            c = cli(binary)
            for k in env:
                assert k in c.env, f"compose {name}: {binary} does not read {k} (it reads {sorted(c.env)})"
                checked += 1
            for k in c.required_env:
                assert k in env, f"compose {name}: {binary} requires {k}"
            check_argv(binary, svc.get("command") or [], f"compose {name} command")
        # Shared containers: variables aimed at the probe (its own prefix) must exist.
        test = compose_healthcheck(name)
        probe = binary_of(test[1]) if test else None
        if probe:
            prefix = {"mongo-rs-probe": "MONGO_RS_PROBE_", "rc-probe": "RC_PROBE_"}[probe]
            for k in env:
                if k.startswith(prefix):
                    assert k in cli(probe).env, f"compose {name}: {probe} does not read {k}"
            for k in cli(probe).required_env:
                if k != "MONGO_URL":  # mongo-rs-probe defaults to localhost inside mongod's container
                    assert k in env, f"compose {name}: its healthcheck {probe} requires {k}"
    assert checked >= 10, "too few env vars checked: is the compose file wired to our images?"


def test_compose_file_secrets_are_mounted_files():
    top = compose().get("secrets") or {}
    for name, svc in services().items():
        mounted = {s if isinstance(s, str) else s["source"] for s in svc.get("secrets") or []}
        for m in mounted:
            assert m in top, f"{name} uses undeclared secret {m}"
        for k, v in env_of(svc).items():
            if k.endswith("_FILE") and SECRET_KEY.search(k):
                assert v.startswith("/run/secrets/"), f"{name}: {k} must point into /run/secrets"
                assert v.rsplit("/", 1)[1] in mounted, f"{name}: {k}={v} but secret {v.rsplit('/', 1)[1]} is not mounted"
    for name, spec in top.items():
        assert ("file" in spec) != ("environment" in spec), f"secret {name}: exactly one of file / environment"
        if "file" in spec:
            rel = (COMPOSE_FILE.parent / spec["file"]).resolve().relative_to(ROOT).as_posix()
            assert git_ignored(rel), f"secret file {rel} is not git-ignored"


def test_compose_replica_set_name_is_consistent():
    s = services()
    argv = [resolve_defaults(a) for a in s["mongo"]["command"]]
    rs = flag_value(argv, "--replSet")
    assert rs and "--bind_ip_all" in argv
    for name, svc in s.items():
        for k, v in env_of(svc).items():
            v = resolve_defaults(v)
            if k in ("MONGO_URL", "MONGO_OPLOG_URL"):
                assert f"replicaSet={rs}" in v, f"{name}: {k} lacks replicaSet={rs}"
            if k == "MONGO_REPLICA_SET":
                assert v == rs, f"{name}: MONGO_REPLICA_SET={v} but mongod --replSet {rs}"
    members = resolve_defaults(env_of(s["mongo-rs-init"])["MONGO_RS_INIT_MEMBERS"]).split(",")
    assert members == ["mongo:27017"], "the only member is the mongo service, by its compose name"


def test_compose_webhook_url_lands_in_a_shared_volume():
    s = services()
    path = env_of(s["rc-bootstrap"])["RC_BOOTSTRAP_WEBHOOK_URL_FILE"]
    mount = next(v for v in s["rc-bootstrap"]["volumes"] if path.startswith(v.split(":")[1] + "/"))
    vol = mount.split(":")[0]
    assert vol in (compose().get("volumes") or {}), "the webhook URL must go to a NAMED volume"
    assert any(v.startswith(vol + ":") and v.endswith(":ro") for v in s["gitlab"]["volumes"])


def test_env_example_has_placeholders_only_and_is_complete():
    example = (ROOT / "compose" / ".env.example").read_text()
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line.strip() and not line.startswith("#")
    )
    for k, v in values.items():
        if SECRET_KEY.search(k):
            assert re.fullmatch(r"<[^>]+>", v), f".env.example: {k} must be a <placeholder>, not a value"
    required = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):\?", COMPOSE_FILE.read_text()))
    required |= {spec["environment"] for spec in compose()["secrets"].values() if "environment" in spec}
    missing = required - set(values)
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert git_ignored("compose/.env") and git_ignored("compose/secrets/x")


# ---------------------------------------------------------------------------------------------
# No plain-text secret anywhere in compose/ and k8s/
# ---------------------------------------------------------------------------------------------


def walk_env_pairs(node, where):
    """(key, value, where) for compose environment maps/lists and k8s env lists."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "environment" and isinstance(v, (dict, list)):
                env = v if isinstance(v, dict) else dict(e.split("=", 1) if "=" in e else (e, None) for e in v)
                for ek, ev in env.items():
                    yield ek, ev, where
            elif k == "env" and isinstance(v, list):
                for item in v:
                    yield item["name"], item.get("value"), where
            elif k == "data" and node.get("kind") == "ConfigMap":
                for ek, ev in (v or {}).items():
                    yield ek, ev, where
            else:
                yield from walk_env_pairs(v, where)
    elif isinstance(node, list):
        for v in node:
            yield from walk_env_pairs(v, where)


def test_no_plain_text_secret_values():
    seen = 0
    for f in yaml_files():
        for doc in yaml.safe_load_all(f.read_text()):
            if not doc:
                continue
            where = f.relative_to(ROOT).as_posix()
            assert not (doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData"))), (
                f"{where}: a Secret with values is committed: use the secretGenerator files"
            )
            for k, v, w in walk_env_pairs(doc, where):
                if not SECRET_KEY.search(str(k)):
                    continue
                seen += 1
                if v is None:
                    continue  # k8s valueFrom (secretKeyRef) or a bare compose pass-through
                v = str(v)
                # A file holding the secret (*_FILE, rc-probe's *_TOKEN_CACHE) is named by a path.
                is_path = re.search(r"_(FILE|CACHE)$", str(k)) and v.startswith("/")
                ok = INTERPOLATION.match(v) or is_path
                assert ok, f"{w}: {k} has a literal value: use ${{VAR}} from .env, a *_FILE path or a Secret"
    assert seen >= 8, "expected the password variables of Rocket.Chat, rc-bootstrap and Hubot"


# Kubernetes: tests/wiring/test_k8s.py (on the manifests as kustomize builds them).


def test_readmes_document_the_runs():
    for d in ("compose", "k8s"):
        text = (ROOT / d / "README.md").read_text()
        assert "service_healthy" in text or "publishNotReadyAddresses" in text
    assert shlex.split("docker compose up -d --build")  # the documented command is well-formed
