"""Static checks of the Kubernetes wiring, on the objects `kubectl kustomize` builds for every
overlay (k8s_build.py): every env var and flag handed to one of our binaries is one its clap
definition declares (test_wiring.cli), probes fit their timeouts, the replica set's shape
(members by FQDN, PDB, anti-affinity, keyfile, probes), the follower's least-privilege RBAC,
the NetworkPolicy, hashed config names, and no immutable Job template."""

from __future__ import annotations

import re

import pytest
import yaml

from k8s_build import K8S, build, overlays, pod_templates
from test_wiring import (
    BINARIES,
    SECRET_KEY,
    cli,
    compose_binary,
    env_of,
    flag_value,
    git_ignored,
    parse_duration,
    services,
)

# mongo-rs-follow ships in k8s/ only (no compose service).
K8S_BINARIES = BINARIES

# Flags/env the manifests use that another helper is adding to a binary in parallel. Each entry
# must disappear once the binary declares it (test_pending_flags_are_still_pending says so).
# Flags a manifest may use before the binary declares them (a merge in flight): none now.
PENDING: dict[str, dict[str, set[str]]] = {}

OVERLAYS = overlays()


def binary_of(image_or_path: str) -> str | None:
    last = image_or_path.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    return last if last in K8S_BINARIES else None


def accepted_flags(binary: str) -> set[str]:
    return cli(binary).flags | PENDING.get(binary, {}).get("flags", set())


def tls_env(binary: str) -> set[str]:
    """The MONGO_TLS_* twins (mongo-wire's ENV_VARS, not clap's): read by every binary whose
    lib.rs calls mongo_rs::client::tls_setup."""
    lib = (K8S.parent / "crates" / binary / "src" / "lib.rs").read_text()
    if "tls_setup(" not in lib:
        return set()
    tls = (K8S.parent / "crates" / "mongo-wire" / "src" / "tls.rs").read_text()
    table = tls[tls.index("pub const ENV_VARS"):].split("];", 1)[0]
    return set(re.findall(r'"(MONGO_TLS\w*)"', table))


def accepted_env(binary: str) -> set[str]:
    return cli(binary).env | tls_env(binary) | PENDING.get(binary, {}).get("env", set())


def check_argv(binary: str, argv: list[str], where: str) -> None:
    for a in argv:
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            assert name in accepted_flags(binary), f"{where}: {binary} has no flag --{name}"


def objs(overlay):
    return build(overlay)


def obj(overlay, kind, name):
    for o in objs(overlay):
        if o["kind"] == kind and o["metadata"]["name"] == name:
            return o
    raise AssertionError(f"{overlay}: no {kind}/{name}")


def generated(overlay, kind, base_name):
    """The generated ConfigMap/Secret whose name is base_name + '-' + hash."""
    found = [o for o in objs(overlay) if o["kind"] == kind and re.fullmatch(base_name + r"-[a-z0-9]{10}", o["metadata"]["name"])]
    assert len(found) == 1, f"{overlay}: {kind} {base_name} is not generated with a content hash"
    return found[0]


def config(overlay) -> dict:
    return generated(overlay, "ConfigMap", "coquelicot-config")["data"]


def workload(overlay, kind, name):
    o = obj(overlay, kind, name)
    return o, o["spec"]["template"]["spec"]


def all_containers(overlay):
    for o, spec in pod_templates(objs(overlay)):
        for kind in ("initContainers", "containers"):
            for c in spec.get(kind, []):
                yield o, spec, c


def container_env(overlay, c) -> dict[str, str | None]:
    """Env of a container, ConfigMap references resolved; Secret and field references -> None."""
    cm = generated(overlay, "ConfigMap", "coquelicot-config")
    secrets = {o["metadata"]["name"]: o for o in objs(overlay) if o["kind"] == "Secret"}
    out = {}
    for e in c.get("env", []):
        if "value" in e:
            out[e["name"]] = str(e["value"])
            continue
        ref = e["valueFrom"]
        if "configMapKeyRef" in ref:
            r = ref["configMapKeyRef"]
            assert r["name"] == cm["metadata"]["name"] and r["key"] in cm["data"], f"dangling {r}"
            out[e["name"]] = cm["data"][r["key"]]
        elif "secretKeyRef" in ref:
            r = ref["secretKeyRef"]
            assert r["name"] in secrets and r["key"] in secrets[r["name"]]["data"], f"dangling secret ref {r}"
            out[e["name"]] = None
        else:
            assert "fieldRef" in ref, ref
            out[e["name"]] = None
    return out


# ---------------------------------------------------------------------------------------------


def test_pending_flags_are_still_pending():
    for binary, p in PENDING.items():
        for f in p["flags"]:
            assert f not in cli(binary).flags, f"{binary} now declares --{f}: remove it from PENDING"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_env_and_flags_passed_to_our_binaries_are_accepted(overlay):
    checked = 0
    for o, spec, c in all_containers(overlay):
        binary = binary_of(c["image"])
        if not binary:
            continue
        env = container_env(overlay, c)
        for k in env:
            assert k in accepted_env(binary), f"{o['metadata']['name']}/{c['name']}: {binary} does not read {k}"
            checked += 1
        for k in cli(binary).required_env:
            assert k in env, f"{o['metadata']['name']}/{c['name']}: {binary} requires {k}"
        check_argv(binary, c.get("args", []), f"{o['metadata']['name']}/{c['name']}")
        # *_FILE secrets point into a mounted Secret volume that holds that key.
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        for k, v in env.items():
            if k.endswith("_FILE") and SECRET_KEY.search(k):
                mount = next((m for m in c.get("volumeMounts", []) if v.startswith(m["mountPath"] + "/")), None)
                assert mount and "secret" in vols[mount["name"]], f"{c['name']}: {k}={v} is not in a mounted Secret"
                sec = obj(overlay, "Secret", vols[mount["name"]]["secret"]["secretName"])
                assert v.rsplit("/", 1)[1] in sec["data"], f"{k}: no key {v}"
    assert checked >= 15


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_exec_probes_are_ours_fit_their_timeouts_and_are_installed(overlay):
    found = 0
    for o, spec, c in all_containers(overlay):
        for which in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = c.get(which, {})
            if "exec" not in probe:
                continue
            argv = probe["exec"]["command"]
            binary = binary_of(argv[0])
            assert binary, f"{c['name']} {which}: exec probe runs {argv[0]}, not one of our probes"
            found += 1
            check_argv(binary, argv[1:], f"{c['name']} {which}")
            t = flag_value(argv, "--timeout")
            assert t, f"{c['name']} {which}: pass --timeout (the default may exceed timeoutSeconds)"
            assert parse_duration(t) < probe.get("timeoutSeconds", 1), f"{c['name']} {which}: --timeout {t}"
            # The stock image does not contain the probe: an init container copies it in.
            mount = next(m for m in c["volumeMounts"] if argv[0].startswith(m["mountPath"] + "/"))
            vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
            assert "emptyDir" in vol
            inst = [i for i in spec.get("initContainers", []) if any(m["name"] == mount["name"] for m in i.get("volumeMounts", []))]
            assert inst and inst[0]["image"].split(":")[0].endswith("-install"), f"{c['name']}: nothing copies {argv[0]}"
            assert binary_of(inst[0]["args"][0]) == binary
    assert found >= 4


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mongo_members_by_fqdn_pdb_spread_and_probes(overlay):
    sts, spec = workload(overlay, "StatefulSet", "mongo")
    ns = sts["metadata"]["namespace"]
    svc = obj(overlay, "Service", sts["spec"]["serviceName"])
    assert svc["spec"].get("clusterIP") == "None" and svc["spec"].get("publishNotReadyAddresses") is True
    assert sts["spec"].get("podManagementPolicy") == "OrderedReady", "scale-down must stop one pod at a time"
    # Members advertised by fully qualified names in this overlay's namespace.
    want = [f"mongo-{i}.{svc['metadata']['name']}.{ns}.svc.cluster.local:27017" for i in range(sts["spec"]["replicas"])]
    assert config(overlay)["MONGO_HOSTS"].split(",") == want
    seeds = re.match(r"mongodb://([^/]+)/", config(overlay)["MONGO_SEEDS_URL"]).group(1).split(",")
    assert seeds == want
    rs = config(overlay)["MONGO_REPLICA_SET"]
    assert f"replicaSet={rs}" in config(overlay)["MONGO_SEEDS_URL"]
    (c,) = spec["containers"]
    argv = c.get("command", []) + c.get("args", [])
    assert flag_value(argv, "--replSet") == rs and "--bind_ip_all" in argv
    # Readiness PRIMARY|SECONDARY; liveness a command round trip in any state; startup budget.
    ready = c["readinessProbe"]["exec"]["command"]
    assert binary_of(ready[0]) == "mongo-rs-probe" and "--allow-secondary" in ready
    for which in ("livenessProbe", "startupProbe"):
        cmd = c[which]["exec"]["command"]
        assert binary_of(cmd[0]) == "mongo-rs-probe" and "--alive" in cmd, f"{which}: hello round trip, any state"
    start = c["startupProbe"]
    assert start["failureThreshold"] * start["periodSeconds"] >= 15 * 60, "journal recovery budget"
    # PodDisruptionBudget over the same pods, soft anti-affinity by node.
    (pdb,) = [o for o in objs(overlay) if o["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": sts["spec"]["selector"]}
    terms = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert terms[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert terms[0]["podAffinityTerm"]["labelSelector"] == sts["spec"]["selector"]
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in spec["affinity"]["podAntiAffinity"]
    assert spec.get("automountServiceAccountToken") is False, "mongod needs no API token"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_mongo_internal_auth_keyfile_and_root_user(overlay):
    sts, spec = workload(overlay, "StatefulSet", "mongo")
    (c,) = spec["containers"]
    keyfile = flag_value(c["args"], "--keyFile")
    assert keyfile, "members must authenticate each other (--keyFile)"
    mount = next(m for m in c["volumeMounts"] if keyfile.startswith(m["mountPath"] + "/"))
    vols = {v["name"]: v for v in spec["volumes"]}
    assert "emptyDir" in vols[mount["name"]], "the keyfile is a private copy, not the group-readable Secret file"
    (inst,) = [i for i in spec["initContainers"] if any(m["name"] == mount["name"] for m in i["volumeMounts"])]
    cmd = inst["command"]
    assert cmd[:3] == ["install", "-m", "0400"] and cmd[-1] == keyfile, cmd
    src_mount = next(m for m in inst["volumeMounts"] if cmd[3].startswith(m["mountPath"] + "/"))
    assert vols[src_mount["name"]]["secret"]["secretName"].startswith("mongo-keyfile-")
    # The copy runs as the user mongod runs as (the pod's), so 0400 is readable by mongod.
    assert "runAsUser" not in inst.get("securityContext", {}) and spec["securityContext"]["runAsUser"] == 999
    env = container_env(overlay, c)
    assert env["MONGO_INITDB_ROOT_USERNAME"] == config(overlay)["MONGO_USERNAME"]
    assert env["MONGO_INITDB_ROOT_PASSWORD_FILE"].startswith("/run/secrets/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_follower_reads_only_its_statefulset(overlay):
    d, spec = workload(overlay, "Deployment", "mongo-rs-follow")
    assert d["spec"]["replicas"] == 1 and d["spec"]["strategy"]["type"] == "Recreate", "one writer"
    sa = spec["serviceAccountName"]
    assert obj(overlay, "ServiceAccount", sa)
    (c,) = spec["containers"]
    assert binary_of(c["image"]) == "mongo-rs-follow"
    env = container_env(overlay, c)
    sts_name = env["MONGO_RS_FOLLOW_STATEFULSET"]
    assert obj(overlay, "StatefulSet", sts_name)
    assert env["MONGO_REPLICA_SET"] == config(overlay)["MONGO_REPLICA_SET"]
    assert env["MONGO_USERNAME"] == config(overlay)["MONGO_USERNAME"] and "MONGO_PASSWORD_FILE" in env
    assert parse_duration(env["MONGO_RS_FOLLOW_INTERVAL"]) <= 10, "the mongod preStop pause must outlast a pass interval"
    # RBAC: exactly `get` on that one StatefulSet, bound to this service account only.
    binding = obj(overlay, "RoleBinding", "mongo-rs-follow")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": d["metadata"]["namespace"]}]
    role = obj(overlay, "Role", binding["roleRef"]["name"])
    assert role["rules"] == [
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "resourceNames": [sts_name], "verbs": ["get"]}
    ]
    # mongod's preStop pause gives the follower a pass before the next pod stops.
    _, mspec = workload(overlay, "StatefulSet", sts_name)
    pre = mspec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre[0] == "sleep" and int(pre[1]) >= 2 * parse_duration(env["MONGO_RS_FOLLOW_INTERVAL"])
    assert int(pre[1]) < mspec["terminationGracePeriodSeconds"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policy_admits_only_rocketchat_and_our_pods(overlay):
    (np,) = [o for o in objs(overlay) if o["kind"] == "NetworkPolicy"]
    sts, _ = workload(overlay, "StatefulSet", "mongo")
    assert np["spec"]["podSelector"] == sts["spec"]["selector"] and np["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = np["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 27017}]
    (peer,) = rule["from"]
    (expr,) = peer["podSelector"]["matchExpressions"]
    allowed = set(expr["values"])
    assert expr["key"] == "app.kubernetes.io/name" and expr["operator"] == "In"
    assert allowed == {"mongo", "mongo-rs-follow", "rocketchat"}
    # Exactly the pods that talk to mongod carry an allowed label (the members replicate from
    # each other); hubot does not.
    for o, spec in pod_templates(objs(overlay)):
        name = o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
        talks = o is sts or any(
            k in ("MONGO_URL", "MONGO_HOSTS", "MONGO_RS_FOLLOW_STATEFULSET")
            for c in spec["containers"] + spec.get("initContainers", [])
            for k in container_env(overlay, c)
        )
        assert talks == (name in allowed), f"{name}: talks to mongod={talks}, allowed={name in allowed}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_job_and_config_changes_roll_the_pods(overlay):
    kinds = {o["kind"] for o in objs(overlay)}
    assert "Job" not in kinds, "a Job's pod template is immutable: re-applying a new image tag fails"
    # Generated names carry a hash, and every reference uses the generated name.
    names = {o["metadata"]["name"] for o in objs(overlay) if o["kind"] in ("ConfigMap", "Secret")}
    generated(overlay, "ConfigMap", "coquelicot-config")
    generated(overlay, "Secret", "coquelicot-secrets")
    generated(overlay, "Secret", "mongo-keyfile")
    text = yaml.safe_dump_all(list(objs(overlay)))
    for ref in re.findall(r"(?:secretName|name): (coquelicot-\S+|mongo-keyfile\S*)", text):
        if ref.startswith(("coquelicot-config", "coquelicot-secrets", "mongo-keyfile")):
            assert ref in names, f"{overlay}: reference to {ref}, not a generated name"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rocketchat_waits_for_a_primary_and_authenticates(overlay):
    _, spec = workload(overlay, "Deployment", "rocketchat")
    (init,) = spec["initContainers"]
    assert binary_of(init["image"]) == "mongo-rs-init"
    assert "--wait-only" in init["args"], "Rocket.Chat must never initiate nor reconfigure, only wait"
    env = container_env(overlay, init)
    assert not {"MONGO_RS_INIT_MEMBERS", "MONGO_RS_INIT_RECONCILE"} & set(env)
    assert env["MONGO_URL"] == config(overlay)["MONGO_SEEDS_URL"]
    (main,) = spec["containers"]
    env = container_env(overlay, main)
    names = [e["name"] for e in main["env"]]
    for url in ("MONGO_URL", "MONGO_OPLOG_URL"):
        u = env[url]
        assert "authSource=admin" in u and "$(MONGO_PASSWORD)" in u and "$(MONGO_HOSTS)" in u
        # $(VAR) expands only variables defined EARLIER in the list.
        for ref in re.findall(r"\$\((\w+)\)", u):
            assert names.index(ref) < names.index(url), f"{url} uses $({ref}) before it is defined"
    assert env["MONGO_PASSWORD"] is None, "the password comes from the Secret"
    assert env["OVERWRITE_SETTING_Show_Setup_Wizard"] == "completed"
    live = main.get("livenessProbe", {})
    assert "exec" not in live and "httpGet" not in live, "Rocket.Chat liveness must not depend on MongoDB"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_hubot_waits_for_bootstrap_and_caches_on_an_emptydir(overlay):
    d, spec = workload(overlay, "Deployment", "hubot")
    inits = [binary_of(i["image"].split(":")[0].removesuffix("-install")) for i in spec["initContainers"]]
    assert inits[-1] == "rc-bootstrap"
    (main,) = spec["containers"]
    assert binary_of(main["readinessProbe"]["exec"]["command"][0]) == "rc-probe"
    env = container_env(overlay, main)
    for k in cli("rc-probe").required_env | {"ROCKETCHAT_USER", "ROCKETCHAT_PASSWORD"}:
        assert k in env
    cache = env["RC_PROBE_TOKEN_CACHE"]
    mount = next(m for m in main["volumeMounts"] if cache.startswith(m["mountPath"] + "/"))
    vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "emptyDir" in vol, "rc-probe's token cache lives on a private emptyDir"
    boot = spec["initContainers"][-1]
    path = container_env(overlay, boot)["RC_BOOTSTRAP_WEBHOOK_URL_FILE"]
    mount = next(m for m in boot["volumeMounts"] if path.startswith(m["mountPath"] + "/"))
    vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "persistentVolumeClaim" in vol
    assert d["spec"]["strategy"]["type"] == "Recreate"


# Containers whose image writes to its own filesystem at run time (reason in the manifest).
WRITABLE_ROOT = {("rocketchat", "rocketchat"), ("hubot", "hubot")}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_has_limits_and_a_read_only_root_where_possible(overlay):
    for o, spec, c in all_containers(overlay):
        where = f"{o['metadata']['name']}/{c['name']}"
        res = c.get("resources", {})
        for k in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(res.get(k, {})), f"{where}: {k} for cpu and memory"
        sc = c.get("securityContext", {})
        if (o["metadata"]["name"], c["name"]) in WRITABLE_ROOT:
            assert sc.get("readOnlyRootFilesystem") is False, where
        else:
            assert sc.get("readOnlyRootFilesystem") is True, f"{where}: read-only root filesystem"
        if c["image"].startswith("coquelicot/"):
            uid = sc.get("runAsUser", spec.get("securityContext", {}).get("runAsUser"))
            assert uid == 65534, f"{where}: our sidecars run as nobody"


def test_kustomizations_list_every_manifest_and_secrets_are_ignored():
    for k in [p.parent for p in K8S.rglob("kustomization.yaml")]:
        doc = yaml.safe_load((k / "kustomization.yaml").read_text())
        local = {r for r in doc.get("resources", []) if not r.startswith("..")}
        # Patch files are listed under patches (overlays/tls), not resources.
        local |= {p["path"] for p in doc.get("patches", []) if "path" in p}
        present = {p.name for p in k.glob("*.yaml")} - {"kustomization.yaml"}
        assert local == present, f"{k.relative_to(K8S)}: resources {sorted(local)} != files {sorted(present)}"
        for g in doc.get("secretGenerator", []):
            assert not g.get("literals"), "secretGenerator literals would commit secret values"
            for f in g["files"]:
                rel = (k / f.split("=", 1)[1]).relative_to(K8S.parent).as_posix()
                assert git_ignored(rel), f"{rel} holds a secret value and must be git-ignored"
    for overlay in OVERLAYS:
        images = {o["image"] for _, _, o in all_containers(overlay)}
        for i in images:
            if i.startswith("coquelicot/"):
                assert ":" in i, f"{overlay}: {i} is not tagged through kustomize images"


def test_compose_and_k8s_wire_the_same_rc_env():
    """rc-bootstrap and rc-probe get the same variable names in both deployments (one doc)."""
    by_bin = {}
    for svc in services().values():
        b = compose_binary(svc)
        if b in ("rc-bootstrap",):
            by_bin[b] = set(env_of(svc))
    assert by_bin
    for o, spec, c in all_containers("overlays/default"):
        b = binary_of(c["image"])
        if b in by_bin:
            got = set(container_env("overlays/default", c))
            assert got == by_bin[b], f"{b}: compose and k8s differ on {sorted(got ^ by_bin[b])}"
