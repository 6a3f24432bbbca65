"""The Pod Security Standards' "restricted" profile (which includes "baseline"), as a checker of
pod specs: one function per control, each returning the violations it finds.

Source: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the Baseline and
Restricted tables: each control's restricted fields and allowed values), as enforced by the
PodSecurity admission controller (k8s.io/pod-security-admission, policy/check_*.go). Controls
that only concern Windows or annotations we never set are checked too, so that a later edit
cannot slip one in.
"""

from __future__ import annotations

# Baseline "Capabilities": adding any other capability is forbidden.
BASELINE_CAPS = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
# Baseline "Sysctls": the safe set.
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
# Baseline "SELinux": allowed types.
SELINUX_TYPES = {"container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
# Restricted "Volume Types": the only volume sources allowed.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}


def containers(spec: dict):
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for c in spec.get(kind) or []:
            yield kind, c


def violations(spec: dict, annotations: dict | None = None) -> list[str]:
    """Every restricted-profile violation of one pod spec, as 'control: where: what'."""
    annotations = annotations or {}
    out: list[str] = []
    psc = spec.get("securityContext") or {}

    def bad(control: str, where: str, what: str) -> None:
        out.append(f"{control}: {where}: {what}")

    # --- Baseline -------------------------------------------------------------------------
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        bad("HostProcess", "pod", "windowsOptions.hostProcess is true")
    for ns in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(ns):
            bad("Host Namespaces", "pod", f"{ns} is true")
    for v in spec.get("volumes") or []:
        if "hostPath" in v:
            bad("HostPath Volumes", f"volume {v['name']}", "hostPath")
        source = [k for k in v if k != "name"]
        if not set(source) <= RESTRICTED_VOLUMES:
            bad("Volume Types", f"volume {v['name']}", f"{source} is not among {sorted(RESTRICTED_VOLUMES)}")
    for s in psc.get("sysctls") or []:
        if s.get("name") not in SAFE_SYSCTLS:
            bad("Sysctls", "pod", f"sysctl {s.get('name')} is not in the safe set")
    for key, value in annotations.items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            bad("AppArmor", "pod", f"annotation {key}={value}")

    def selinux(where: str, opts: dict | None) -> None:
        opts = opts or {}
        if opts.get("type") not in (None, "", *SELINUX_TYPES):
            bad("SELinux", where, f"type {opts['type']}")
        for f in ("user", "role"):
            if opts.get(f):
                bad("SELinux", where, f"{f} must not be set")

    def apparmor(where: str, prof: dict | None) -> None:
        if prof and prof.get("type") not in ("RuntimeDefault", "Localhost"):
            bad("AppArmor", where, f"appArmorProfile.type {prof.get('type')}")

    selinux("pod", psc.get("seLinuxOptions"))
    apparmor("pod", psc.get("appArmorProfile"))

    # --- Restricted: pod-level defaults that containers may inherit ------------------------
    pod_non_root = psc.get("runAsNonRoot")
    pod_seccomp = (psc.get("seccompProfile") or {}).get("type")
    if psc.get("runAsUser") == 0:
        bad("Running as Non-root user", "pod", "runAsUser is 0")
    if pod_seccomp == "Unconfined":
        bad("Seccomp", "pod", "seccompProfile Unconfined")

    for kind, c in containers(spec):
        where = f"{kind[:-1]} {c['name']}"
        sc = c.get("securityContext") or {}
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            bad("HostProcess", where, "windowsOptions.hostProcess is true")
        if sc.get("privileged"):
            bad("Privileged Containers", where, "privileged is true")
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                bad("Host Ports", where, f"hostPort {p['hostPort']}")
        if sc.get("procMount") not in (None, "Default"):
            bad("/proc Mount Type", where, f"procMount {sc['procMount']}")
        selinux(where, sc.get("seLinuxOptions"))
        apparmor(where, sc.get("appArmorProfile"))
        caps = sc.get("capabilities") or {}
        added = set(caps.get("add") or [])
        if not added <= BASELINE_CAPS:
            bad("Capabilities (baseline)", where, f"adds {sorted(added - BASELINE_CAPS)}")
        # Restricted controls.
        if sc.get("allowPrivilegeEscalation") is not False:
            bad("Privilege Escalation", where, "allowPrivilegeEscalation must be false")
        non_root = sc.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            bad("Running as Non-root", where, "runAsNonRoot must be true (pod or container)")
        if sc.get("runAsUser") == 0:
            bad("Running as Non-root user", where, "runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type", pod_seccomp)
        if seccomp not in ("RuntimeDefault", "Localhost"):
            bad("Seccomp", where, f"seccompProfile must be RuntimeDefault or Localhost (is {seccomp})")
        if "ALL" not in (caps.get("drop") or []):
            bad("Capabilities", where, "capabilities.drop must include ALL")
        if not added <= {"NET_BIND_SERVICE"}:
            bad("Capabilities", where, f"may add only NET_BIND_SERVICE, adds {sorted(added)}")
    return out
