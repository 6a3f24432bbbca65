"""Scenario 9: the same cold start with MongoDB authentication on (compose/mongo-auth.yaml):
key file + root user from secrets, mongo-rs-init authenticating, and every credential only in
secret files inside the containers."""

import io
import json
import os
import tarfile
import time

import pytest

from stack import TAG, Stack, run, timings

PASSWORD = "R00tEngineSuitePass"
KEYFILE = "c2VjcmV0LWtleS1maWxlLWZvci10aGUtZW5naW5lLXN1aXRl"


@pytest.fixture(scope="module")
def stack():
    s = Stack("coq-engine-auth", files=("docker-compose.yml", "emulated.yaml", "mongo-auth.yaml"),
              extra_env={"MONGO_ROOT_PASSWORD": PASSWORD, "MONGO_KEYFILE": KEYFILE})
    s.down()
    yield s
    s.down()


def secret_stat(stack, service, name, path=None):
    """Owner and mode of /run/secrets/NAME as the engine wrote it (docker cp, no shell needed)."""
    tar = run_bytes(["docker", "cp", f"{stack.cid(service)}:{path or '/run/secrets/' + name}", "-"])
    info = tarfile.open(fileobj=io.BytesIO(tar)).getmembers()[0]
    return info.uid, info.mode & 0o777


def run_bytes(args):
    import subprocess
    p = subprocess.run(args, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_9_cold_start_with_auth(stack):
    took = stack.up()
    print(f"\n[9] auth on: cold up --wait {took:.1f}s")
    for svc, t in timings(stack, ["mongo", "mongo-rs-init", "rocketchat", "rc-bootstrap", "hubot"]).items():
        print(f"[9]   {svc}: {t}")
    mongo_log = stack.logs("mongo")
    assert '"Authentication succeeded"' in mongo_log or "Authentication succeeded" in mongo_log
    init = stack.inspect("mongo-rs-init")
    assert init["State"]["ExitCode"] == 0
    # What Compose gives (an environment-sourced secret), and the copy mongod gets: its user's,
    # not readable by group/others.
    given = secret_stat(stack, "mongo", "mongo_keyfile")
    print(f"[9]   key file secret as Compose wrote it: uid {given[0]}, mode {given[1]:o}")
    assert secret_stat(stack, "mongo", "", "/tmp/mongo-keyfile/keyfile") == (999, 0o400)
    # uid 65534 (our scratch images' user) read the secrets it needs: the welders exited 0
    # through *_FILE, and the files are world-readable where they are mounted.
    uid, mode = secret_stat(stack, "mongo-rs-init", "mongo_root_password")
    assert mode & 0o004, f"mongo-rs-init's password file mode {mode:o}: uid 65534 cannot read it"
    assert stack.inspect("rc-bootstrap")["State"]["ExitCode"] == 0
    assert secret_stat(stack, "rc-bootstrap", "admin_pass")[1] & 0o004
    # No credential in any container's configuration (docker inspect): only file paths.
    for svc in ("mongo", "mongo-rs-init", "rocketchat", "rc-bootstrap"):
        cfg = json.dumps(stack.inspect(svc)["Config"])
        assert PASSWORD not in cfg and KEYFILE not in cfg, f"{svc}: a secret in docker inspect"


@pytest.mark.parametrize("mode,refusal", [(0o444, "permissions on /k are too open"), (0o400, None)])
def test_9_key_file_rules_of_the_mongo_image(tmp_path, mode, refusal):
    """The rule the entry point works around: a key file readable by others is refused (a
    bind-mounted, file-sourced secret keeps the host's mode); 0400 for mongod's uid is accepted."""
    key = tmp_path / "k"
    key.write_text(KEYFILE + "\n")
    os.chown(key, 999, 999)
    key.chmod(mode)
    c = run(["docker", "run", "-d", "--network", "none", "-v", f"{key}:/k:ro",
             "-e", "MONGO_INITDB_ROOT_USERNAME=root", "-e", f"MONGO_INITDB_ROOT_PASSWORD={PASSWORD}",
             f"coquelicot/mongo-sim:{TAG}", "mongod", "--replSet", "rs0", "--keyFile", "/k"]).stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = json.loads(run(["docker", "inspect", c]).stdout)[0]["State"]
            logs = run(["docker", "logs", c])
            if st["Status"] == "exited" or "Waiting for connections" in logs.stdout:
                break
            time.sleep(0.2)
        if refusal:
            assert (st["Status"], st["ExitCode"]) == ("exited", 1) and refusal in logs.stderr, (st, logs.stderr)
        else:
            assert "Waiting for connections" in logs.stdout, (st, logs.stderr)
    finally:
        run(["docker", "rm", "-f", c], check=False)
