import os
import shutil
import subprocess

import pytest


def pytest_collection_modifyitems(config, items):
    # Not a skip: without an engine the suite must fail (CI runs it through scripts/engine).
    if not os.environ.get("DOCKER_HOST") or shutil.which("docker") is None:
        raise pytest.UsageError("tests/engine needs a Docker engine: run it through scripts/engine (tests/engine/run)")
    p = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise pytest.UsageError(f"no Docker engine at {os.environ['DOCKER_HOST']}: {p.stderr.strip()}")
    # Every image the stack runs must exist (scripts/images builds them): `up` would otherwise try
    # a registry, or a build, and fail late with a less clear message.
    tag = os.environ.get("COQUELICOT_TAG", "dev")
    for image in ("mongo-sim", "rc-sim", "hubot", "mongo-rs-init", "rc-bootstrap", "busybox"):
        p = subprocess.run(["docker", "image", "inspect", f"coquelicot/{image}:{tag}"], capture_output=True, timeout=20)
        if p.returncode != 0:
            raise pytest.UsageError(f"image coquelicot/{image}:{tag} is missing: build the images with scripts/images (tests/engine/run does)")
