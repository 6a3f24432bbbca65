"""The Kubernetes manifests as `kubectl kustomize` builds them, for the k8s tests.

k8s/ is copied to a temporary directory where every secretGenerator file gets a placeholder
value (the real ones are git-ignored and absent from a clone), then each kustomization (base
and every overlay) is built by the real kustomize that kubectl embeds. kubectl missing is a
failure, not a skip: these checks are part of the test command.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"


def kustomizations() -> list[str]:
    """Every directory holding a kustomization, relative to k8s/: base, overlays/*."""
    return sorted(p.parent.relative_to(K8S).as_posix() for p in K8S.rglob("kustomization.yaml"))


def overlays() -> list[str]:
    return [k for k in kustomizations() if k.startswith("overlays/")]


@lru_cache(maxsize=None)
def _tree() -> Path:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with its embedded kustomize) is needed to build k8s/: install kubectl"
    tmp = Path(tempfile.mkdtemp(prefix="k8s-build-")) / "k8s"
    shutil.copytree(K8S, tmp, ignore=shutil.ignore_patterns("secrets"))
    for k in kustomizations():
        doc = yaml.safe_load((tmp / k / "kustomization.yaml").read_text())
        for g in doc.get("secretGenerator", []):
            for f in g.get("files", []):
                rel = f.split("=", 1)[-1]
                path = tmp / k / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"placeholder-{path.name}")
    return tmp


@lru_cache(maxsize=None)
def build_text(kustomization: str) -> str:
    r = subprocess.run(
        ["kubectl", "kustomize", str(_tree() / kustomization)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, f"kubectl kustomize k8s/{kustomization} failed: {r.stderr.strip()}"
    return r.stdout


@lru_cache(maxsize=None)
def build(kustomization: str) -> tuple:
    return tuple(d for d in yaml.safe_load_all(build_text(kustomization)) if d)


def pod_templates(objs) -> list[tuple[dict, dict]]:
    """(workload, pod spec) of every object that makes pods."""
    out = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
            out.append((o, o["spec"]["template"]["spec"]))
        elif o["kind"] == "CronJob":
            out.append((o, o["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif o["kind"] == "Pod":
            out.append((o, o["spec"]))
    return out
