"""Every pod that k8s/ makes is admitted by a Pod Security "restricted" namespace: each pod
template of each built overlay is checked against the profile's controls (pss.py, written from
the Pod Security Standards page), and the checker is shown to catch each kind of violation."""

import copy

import pytest

from k8s_build import build, kustomizations, pod_templates
from pss import violations


@pytest.mark.parametrize("kustomization", kustomizations())
def test_every_pod_template_is_restricted(kustomization):
    pods = pod_templates(build(kustomization))
    assert len(pods) >= 4, [o["metadata"]["name"] for o, _ in pods]
    for o, spec in pods:
        ann = o["spec"]["template"].get("metadata", {}).get("annotations")
        found = violations(spec, ann)
        assert not found, f"k8s/{kustomization} {o['kind']}/{o['metadata']['name']}: {found}"


@pytest.mark.parametrize("overlay", [k for k in kustomizations() if k.startswith("overlays/")])
def test_the_namespace_enforces_restricted(overlay):
    (ns,) = [o for o in build(overlay) if o["kind"] == "Namespace"]
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    others = {o["metadata"].get("namespace") for o in build(overlay) if o["kind"] != "Namespace"}
    assert others == {ns["metadata"]["name"]}, f"{overlay}: objects outside the restricted namespace: {others}"


def _good():
    (sts,) = [o for o in build("overlays/default") if o["kind"] == "StatefulSet"]
    return copy.deepcopy(sts["spec"]["template"]["spec"])


@pytest.mark.parametrize(
    "control,breaks",
    [
        ("Host Namespaces", lambda s: s.update(hostNetwork=True)),
        ("HostPath Volumes", lambda s: s["volumes"].append({"name": "h", "hostPath": {"path": "/"}})),
        ("Volume Types", lambda s: s["volumes"].append({"name": "n", "nfs": {"server": "x", "path": "/"}})),
        ("Privileged Containers", lambda s: s["containers"][0]["securityContext"].update(privileged=True)),
        ("Host Ports", lambda s: s["containers"][0]["ports"][0].update(hostPort=27017)),
        ("Privilege Escalation", lambda s: s["initContainers"][0]["securityContext"].pop("allowPrivilegeEscalation")),
        ("Running as Non-root", lambda s: s["securityContext"].pop("runAsNonRoot")),
        ("Running as Non-root user", lambda s: s["containers"][0]["securityContext"].update(runAsUser=0)),
        ("Seccomp", lambda s: s["securityContext"].pop("seccompProfile")),
        ("Seccomp", lambda s: s["containers"][0]["securityContext"].update(seccompProfile={"type": "Unconfined"})),
        ("Capabilities", lambda s: s["containers"][0]["securityContext"]["capabilities"].update(drop=["NET_RAW"])),
        ("Capabilities", lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["CHOWN"])),
        ("Capabilities (baseline)", lambda s: s["containers"][0]["securityContext"]["capabilities"].update(add=["SYS_ADMIN"])),
        ("Sysctls", lambda s: s["securityContext"].update(sysctls=[{"name": "kernel.msgmax", "value": "1"}])),
        ("SELinux", lambda s: s["securityContext"].update(seLinuxOptions={"type": "spc_t"})),
        ("/proc Mount Type", lambda s: s["containers"][0]["securityContext"].update(procMount="Unmasked")),
        ("HostProcess", lambda s: s["securityContext"].update(windowsOptions={"hostProcess": True})),
        ("AppArmor", lambda s: s["securityContext"].update(appArmorProfile={"type": "Unconfined"})),
    ],
)
def test_the_checker_catches_each_control(control, breaks):
    spec = _good()
    assert violations(spec) == []
    breaks(spec)
    found = violations(spec)
    assert any(v.startswith(control + ":") for v in found), found
