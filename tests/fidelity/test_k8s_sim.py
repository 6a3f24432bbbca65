"""k8s-sim's answers are shaped as the Kubernetes API documents them: the StatefulSet and every
error Status are validated strictly against the OpenAPI schemas that kubernetes-validate ships
(1.30, 1.33 and 1.35: the sim emulates a 1.35 API server), fetched over HTTPS by a real client (requests) trusting only the sim's CA, as a
pod trusts only its service account's ca.crt.

Binary: $K8S_SIM_BIN, default <target dir>/debug/k8s-sim (build: cargo build -p k8s-sim).
"""

import json
import os
import pathlib
import subprocess
import tempfile

import jsonschema
import kubernetes_validate
import pytest
import requests
from referencing import Registry, Resource

REPO = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
SIM = pathlib.Path(os.environ.get("K8S_SIM_BIN", TARGET / "debug" / "k8s-sim"))
SCHEMAS = pathlib.Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
VERSIONS = ("1.30.0", "1.33.0", "1.35.0")
TOKEN = "fidelity-token"


@pytest.fixture(scope="module")
def api():
    if not SIM.is_file():
        pytest.fail(f"{SIM} is missing: cargo build -p k8s-sim, or set K8S_SIM_BIN", pytrace=False)
    d = pathlib.Path(tempfile.mkdtemp(prefix="k8s-sim-"))
    (d / "token").write_text(TOKEN + "\n")
    (d / "replicas").write_text("3")
    proc = subprocess.Popen(
        [str(SIM), "--ca-out", str(d / "ca.crt"), "--token-file", str(d / "token"),
         "--replicas-file", str(d / "replicas"), "--namespace", "chat"],
        stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    port = json.loads(line)["port"]
    yield f"https://127.0.0.1:{port}", d
    proc.kill()
    proc.wait(timeout=10)


def get(api, path, token=TOKEN, scheme="Bearer", method="GET"):
    base, d = api
    headers = {"Authorization": f"{scheme} {token}"} if token is not None else {}
    return requests.request(method, base + path, headers=headers, verify=str(d / "ca.crt"),
                            timeout=10)


def validate_status(body, version):
    """metav1.Status against the strict schema, its $refs resolved as kubernetes_validate
    resolves them (its _definitions.json in a referencing Registry)."""
    d = SCHEMAS / f"v{version}-local-strict"
    schema = json.loads((d / "status-meta-v1.json").read_text())
    defs = json.loads((d / "_definitions.json").read_text())
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    jsonschema.validators.Draft202012Validator(schema, registry=registry).validate(body)


STS = "/apis/apps/v1/namespaces/chat/statefulsets/mongo"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_statefulset_is_a_valid_apps_v1_object(api, version):
    r = get(api, STS)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    sts = r.json()
    kubernetes_validate.validate(sts, version, strict=True)
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == "mongo"
    assert sts["metadata"]["namespace"] == "chat"
    # 1.35+: MaxUnavailableStatefulSet is Beta (on), so maxUnavailable is defaulted to 1.
    assert sts["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 0, "maxUnavailable": 1}


def test_reads_do_not_move_the_resource_version(api):
    a, b = get(api, STS).json(), get(api, STS).json()
    assert a["metadata"]["resourceVersion"] == b["metadata"]["resourceVersion"]
    assert a["metadata"]["generation"] == b["metadata"]["generation"]


def test_bearer_scheme_is_case_insensitive_and_head_is_get(api):
    assert get(api, STS, scheme="bearer").status_code == 200
    r = get(api, STS, method="HEAD")
    assert r.status_code == 200 and r.content == b""


def test_scaling_changes_replicas_and_generation(api):
    _, d = api
    before = get(api, STS).json()
    (d / "replicas").write_text("5")
    after = get(api, STS).json()
    (d / "replicas").write_text("3")
    assert after["spec"]["replicas"] == 5
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "path,token,code,reason",
    [
        # No token, or an empty one: system:anonymous (--anonymous-auth defaults to true), 403.
        (STS, None, 403, "Forbidden"),
        (STS, "", 403, "Forbidden"),
        (STS, "wrong", 401, "Unauthorized"),
        ("/apis/apps/v1/namespaces/chat/statefulsets/other", TOKEN, 403, "Forbidden"),
        ("/apis/apps/v1/namespaces/kube-system/statefulsets/mongo", TOKEN, 403, "Forbidden"),
        ("/api/v1/namespaces/chat/secrets", TOKEN, 403, "Forbidden"),
    ],
)
def test_errors_are_valid_status_objects(api, version, path, token, code, reason):
    r = get(api, path, token)
    assert r.status_code == code
    body = r.json()
    validate_status(body, version)
    assert (body["kind"], body["apiVersion"], body["status"], body["reason"], body["code"]) == (
        "Status", "v1", "Failure", reason, code)
    if code == 401:
        assert body["message"] == "Unauthorized" and "details" not in body
    else:
        # NewForbidden always sets details (kind = the resource, name when one is named).
        assert "details" in body and body["message"].count(" is forbidden: User ") == 1


def test_anonymous_and_resource_forbidden_wording(api):
    body = get(api, STS, token=None).json()
    assert body["message"] == (
        'statefulsets.apps "mongo" is forbidden: User "system:anonymous" cannot get resource '
        '"statefulsets" in API group "apps" in the namespace "chat"')
    body = get(api, "/api/v1/namespaces/chat/secrets").json()
    assert body["message"] == (
        'secrets is forbidden: User "system:serviceaccount:chat:mongo-rs-follow" cannot list '
        'resource "secrets" in API group "" in the namespace "chat"')
    assert body["details"] == {"kind": "secrets"}


def test_a_missing_statefulset_is_404_not_found(api):
    _, d = api
    (d / "replicas").unlink()
    try:
        r = get(api, STS)
    finally:
        (d / "replicas").write_text("3")
    assert r.status_code == 404
    body = r.json()
    validate_status(body, "1.33.0")
    assert body["message"] == 'statefulsets.apps "mongo" not found'
    assert body["details"] == {"name": "mongo", "group": "apps", "kind": "statefulsets"}


def test_only_the_sims_ca_is_trusted(api):
    base, _ = api
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(base + STS, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
