"""The TLS variants of the wiring: k8s/overlays/tls (as `kubectl kustomize` builds it) and
compose/mongo-tls.yaml. mongod gets its certificate and the CA from a Secret, every client of
ours and Rocket.Chat turn TLS on with a CA that is mounted where their URI says, the key stays in
the mongo pods, and new certificates roll the pods (hashed Secret name)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import yaml

from k8s_build import build
from test_k8s import binary_of, config, container_env, generated, workload
from test_wiring import ROOT, flag_value

OVERLAY = "overlays/tls"


def tls_options(uri: str) -> dict[str, str]:
    q = parse_qs(urlsplit(uri).query)
    return {k: v[-1] for k, v in q.items() if k.lower().startswith("tls")}


def mounted_key(spec, c, path) -> tuple[dict, str]:
    """(Secret volume, key) that `path` resolves to in container c, or an assertion."""
    mount = next((m for m in c.get("volumeMounts", []) if path.startswith(m["mountPath"] + "/")), None)
    assert mount, f"{c['name']}: nothing mounted at {path}"
    vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert "secret" in vol, f"{c['name']}: {path} is not from a Secret"
    key = path[len(mount["mountPath"]) + 1:]
    items = vol["secret"].get("items")
    if items:
        key = next((i["key"] for i in items if i["path"] == key), None)
        assert key, f"{c['name']}: {path} is not among the Secret's items"
    return vol, key


def test_mongod_serves_tls_from_the_secret_and_its_probes_use_it():
    sec = generated(OVERLAY, "Secret", "mongo-tls")
    assert set(sec["data"]) == {"ca.pem", "mongo.pem"}
    _, spec = workload(OVERLAY, "StatefulSet", "mongo")
    (c,) = spec["containers"]
    args = c["args"]
    # Every client speaks TLS, mongo-rs-follow included: nothing plain is let in.
    assert flag_value(args, "--tlsMode") == "requireTLS"
    assert "--tlsAllowConnectionsWithoutCertificates" in args
    assert flag_value(args, "--keyFile"), "the base's internal authentication is kept"
    for flag, key in (("--tlsCertificateKeyFile", "mongo.pem"), ("--tlsCAFile", "ca.pem")):
        vol, got = mounted_key(spec, c, flag_value(args, flag))
        assert got == key and vol["secret"]["secretName"] == sec["metadata"]["name"], (flag, vol)
    for which in ("readinessProbe", "livenessProbe", "startupProbe"):
        argv = c[which]["exec"]["command"]
        assert binary_of(argv[0]) == "mongo-rs-probe"
        opts = tls_options(flag_value(argv, "--uri"))
        assert opts.get("tls") == "true", f"{which}: {argv}"
        assert mounted_key(spec, c, opts["tlsCAFile"])[1] == "ca.pem"


def test_rocketchat_and_its_init_trust_the_ca_and_never_see_the_key():
    sec = generated(OVERLAY, "Secret", "mongo-tls")
    _, spec = workload(OVERLAY, "Deployment", "rocketchat")
    (init,) = spec["initContainers"]
    (main,) = spec["containers"]
    seeds = container_env(OVERLAY, init)["MONGO_URL"]
    assert seeds == config(OVERLAY)["MONGO_SEEDS_URL"]
    urls = [(init, seeds)] + [(main, container_env(OVERLAY, main)[k]) for k in ("MONGO_URL", "MONGO_OPLOG_URL")]
    for c, url in urls:
        opts = tls_options(url)
        assert opts.get("tls") == "true", f"{c['name']}: {url}"
        vol, key = mounted_key(spec, c, opts["tlsCAFile"])
        assert key == "ca.pem" and vol["secret"]["secretName"] == sec["metadata"]["name"]
    # The authentication of the default overlay is kept.
    assert "authSource=admin" in container_env(OVERLAY, main)["MONGO_URL"]
    for v in spec["volumes"]:
        if v.get("secret", {}).get("secretName") == sec["metadata"]["name"]:
            assert [i["key"] for i in v["secret"]["items"]] == ["ca.pem"], "mongod's key outside the mongo pods"


def test_mongo_rs_follow_reaches_the_members_over_tls_trusting_the_ca_only():
    sec = generated(OVERLAY, "Secret", "mongo-tls")
    _, spec = workload(OVERLAY, "Deployment", "mongo-rs-follow")
    (c,) = spec["containers"]
    env = container_env(OVERLAY, c)
    assert env["MONGO_TLS"] == "true"
    vol, key = mounted_key(spec, c, env["MONGO_TLS_CA_FILE"])
    assert key == "ca.pem" and vol["secret"]["secretName"] == sec["metadata"]["name"]
    mount = next(m for m in c["volumeMounts"] if m["name"] == vol["name"])
    assert mount.get("readOnly") is True
    assert [i["key"] for i in vol["secret"]["items"]] == ["ca.pem"], "mongod's key outside the mongo pods"
    # The base's wiring is kept (the patch adds, never replaces).
    assert env["MONGO_PASSWORD_FILE"] and env["MONGO_RS_FOLLOW_STATEFULSET"] == "mongo"
    # The names it dials are the ones the wildcard certificate covers (the default pattern).
    assert "MONGO_RS_FOLLOW_MEMBER_HOST" not in env


def test_only_the_tls_overlay_turns_tls_on():
    _, spec = workload("overlays/default", "StatefulSet", "mongo")
    assert not any(a.startswith("--tls") for a in spec["containers"][0]["args"])
    assert not [o for o in build("overlays/default") if o["metadata"]["name"].startswith("mongo-tls")]
    _, follow = workload("overlays/default", "Deployment", "mongo-rs-follow")
    assert not any(e["name"].startswith("MONGO_TLS") for e in follow["containers"][0]["env"])


def compose_tls() -> dict:
    return yaml.safe_load((ROOT / "compose" / "mongo-tls.yaml").read_text())


def test_compose_tls_overlay_requires_tls_and_wires_the_ca():
    doc = compose_tls()
    secrets = doc["secrets"]
    assert set(secrets) == {"mongo_tls_ca", "mongo_tls_pem"}
    assert all(re.fullmatch(r"\$\{MONGO_TLS_DIR:-\./tls\}/(ca|mongo)\.pem", s["file"]) for s in secrets.values())
    mongo = doc["services"]["mongo"]
    cmd = mongo["command"]
    assert cmd[:2] == ["mongod", "--replSet"] and "--bind_ip_all" in cmd
    assert flag_value(cmd, "--tlsMode") == "requireTLS"
    assert flag_value(cmd, "--tlsCertificateKeyFile") == "/run/secrets/mongo_tls_pem"
    assert flag_value(cmd, "--tlsCAFile") == "/run/secrets/mongo_tls_ca"
    assert set(mongo["secrets"]) == {"mongo_tls_ca", "mongo_tls_pem"}
    # The HEALTHCHECK's probe (localhost by default) through its environment twins.
    assert mongo["environment"] == {"MONGO_TLS": "true", "MONGO_TLS_CA_FILE": "/run/secrets/mongo_tls_ca"}
    for name, keys in (("mongo-rs-init", ["MONGO_URL"]), ("rocketchat", ["MONGO_URL", "MONGO_OPLOG_URL"])):
        svc = doc["services"][name]
        assert svc["secrets"] == ["mongo_tls_ca"], f"{name}: only the CA, never mongod's key"
        for k in keys:
            assert tls_options(svc["environment"][k]) == {"tls": "true", "tlsCAFile": "/run/secrets/mongo_tls_ca"}, k


def test_certificates_are_never_committed():
    from test_wiring import git_ignored

    assert git_ignored("compose/tls/ca.pem") and git_ignored("compose/tls/mongo.pem")
    assert git_ignored("k8s/overlays/tls/secrets/tls/mongo.pem")
