"""A workspace binary as it was at an earlier commit: the baselines of the convergence figures
(converge_mongo.py, rc_convergence.py). Built once from `git archive` in its own target dir
under $CARGO_TARGET_DIR (never the tree's), then reused."""

import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def binary_at(rev, package, dir_name, release=False):
    """Path of `package`'s binary built from `rev` in TARGET/dir_name (debug unless `release`)."""
    out = os.path.join(TARGET, dir_name)
    binary = os.path.join(out, "release" if release else "debug", package)
    if os.path.exists(binary):
        return binary
    src = os.path.join(out, "src")
    os.makedirs(src, exist_ok=True)
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", src], input=archive.stdout, check=True)
    env = dict(os.environ, CARGO_TARGET_DIR=out)
    cmd = ["cargo", "build", "-q", "-p", package] + (["--release"] if release else [])
    subprocess.run(cmd, cwd=src, env=env, check=True)
    return binary
