"""Every Kubernetes manifest under k8s/ is valid for the API server, not just valid YAML:
checked against the OpenAPI schemas of a Kubernetes release (bundled by the kubernetes-validate
package, no cluster needed), strictly, so a misspelt or misplaced field fails here and not at
`kubectl apply` time."""

import pathlib

import kubernetes_validate
import pytest
import yaml

K8S = pathlib.Path(__file__).resolve().parents[2] / "k8s"
# The oldest minor release still commonly run; fields newer than it would break those clusters.
KUBERNETES_VERSION = "1.30.0"

MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def test_there_are_manifests_to_check():
    names = {p.name for p in MANIFESTS}
    assert {"mongo.yaml", "mongo-rs-init-job.yaml", "rocketchat.yaml", "hubot.yaml"} <= names, names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_matches_the_kubernetes_schema(path):
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    assert documents, f"{path.name} holds no resource"
    for doc in documents:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}: {e.message} at {list(e.path)}")


def test_a_misspelt_field_is_caught():
    # The check itself must be able to fail: a typo in a probe field is rejected in strict mode.
    doc = yaml.safe_load((K8S / "mongo-rs-init-job.yaml").read_text())
    doc["spec"]["backoffLimitt"] = doc["spec"].pop("backoffLimit", 4)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
