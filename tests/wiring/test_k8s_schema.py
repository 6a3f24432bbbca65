"""Every Kubernetes object that k8s/ builds to (base and every overlay, through the real
`kubectl kustomize`) is valid for the API server, not just valid YAML: checked strictly against
the OpenAPI schemas of two Kubernetes releases (bundled by the kubernetes-validate package, no
cluster needed), so a misspelt or misplaced field fails here and not at `kubectl apply` time."""

import kubernetes_validate
import pytest

from k8s_build import build, kustomizations

# The oldest minor release still commonly run (fields newer than it would break those
# clusters), and a current one (fields it removed or renamed would break new clusters).
KUBERNETES_VERSIONS = ("1.30.0", "1.33.0")


def test_there_is_a_base_and_overlays():
    ks = kustomizations()
    assert "base" in ks and any(k.startswith("overlays/") for k in ks), ks


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("kustomization", kustomizations())
def test_built_objects_match_the_kubernetes_schema(kustomization, version):
    objs = build(kustomization)
    assert len(objs) >= 10, f"k8s/{kustomization} builds only {len(objs)} objects"
    for doc in objs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(
                f"k8s/{kustomization} @ {version}: {doc.get('kind')}/{doc['metadata'].get('name')}: "
                f"{e.message} at {list(e.path)}"
            )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_a_misspelt_field_is_caught(version):
    # The check itself must be able to fail: a typo in a probe field is rejected in strict mode.
    sts = next(o for o in build("overlays/default") if o["kind"] == "StatefulSet")
    import copy

    doc = copy.deepcopy(sts)
    probe = doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]
    probe["periodSecond"] = probe.pop("periodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, version, strict=True)
