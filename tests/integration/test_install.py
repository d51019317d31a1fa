"""docs/install.md on a real kube-apiserver, with real helm and kubectl.

The commands of the document run as written (``helm`` and ``kubectl`` are the ones
controlplane/tools.py builds, put first on PATH; ``KUBECONFIG`` names an API server of
this module's own). Helm and kustomize installs are real; each preview is a server-side
dry run in which the API server must accept every rendered object. No pod runs (there
is no kubelet): what is checked is that the cluster takes every object as rendered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import yaml

from sriov_operator.api.supported_nics import DEFAULT_SUPPORTED_NICS
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.controlplane.tools import DeployTools
from sriov_operator.install.values import version_tag
from tests.docs_examples import example
from tests.integration.conftest import own_control_plane
from tests.integration.install_support import Shell, shell_for

pytestmark = pytest.mark.integration

NAMESPACE = "sriov-network-operator"
OPENSHIFT_NAMESPACE = "openshift-sriov-network-operator"
CHART = "deploy/helm/sriov-fdp-operator"
IMAGE = f"ghcr.io/sriov-fdp/sriov-fdp-operator:{version_tag()}"
NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"


@pytest.fixture(scope="module")
def install_plane() -> Iterator[ControlPlane]:
    """An API server of its own: the installs create cluster-wide objects other tests also name."""
    yield from own_control_plane()


@pytest.fixture(scope="module")
def shell(tools: DeployTools, install_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Shell:
    return shell_for(tools, install_plane, tmp_path_factory.mktemp("install"))


def _deployment_image(shell: Shell, namespace: str) -> str:
    deployment = shell.get("deployment", "sriov-network-operator", namespace)
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def test_helm_lint_passes_with_both_value_sets(shell: Shell) -> None:
    assert "0 chart(s) failed" in shell.run(f"helm lint --strict {CHART}")
    assert "0 chart(s) failed" in shell.run(f"helm lint --strict {CHART} -f {CHART}/values-openshift.yaml")


def test_helm_preview_install_upgrade_and_uninstall(shell: Shell) -> None:
    shell.block(example("install-namespace"))
    *_, output = shell.block(example("install-helm-preview"))
    shell.dry_run("helm", output)

    shell.block(example("install-helm"))
    assert _deployment_image(shell, NAMESPACE) == IMAGE
    assert shell.exists("crd", "sriovnetworknodepolicies.sriovnetwork.openshift.io")
    assert shell.exists("crd", NAD_CRD)
    assert shell.get("sriovoperatorconfig", "default", NAMESPACE)["spec"]["enableOperatorWebhook"] is True
    assert shell.get("configmap", "supported-nic-ids", NAMESPACE)["data"] == DEFAULT_SUPPORTED_NICS
    assert shell.exists("validatingadmissionpolicy", "sriov-config-daemon-node-scope")

    shell.block(example("upgrade-helm"))
    status = json.loads(shell.run(f"helm status sriov-fdp-operator --namespace {NAMESPACE} -o json"))
    assert status["version"] == 2 and status["info"]["status"] == "deployed"

    shell.block(example("uninstall-helm"))
    assert not shell.exists("deployment", "sriov-network-operator", NAMESPACE)
    assert not shell.exists("clusterrole", "sriov-network-operator")
    assert shell.exists("crd", "sriovnetworknodepolicies.sriovnetwork.openshift.io"), "helm keeps CRDs"


def test_helm_install_with_openshift_values(shell: Shell) -> None:
    shell.block(example("install-openshift-helm"))
    assert _deployment_image(shell, OPENSHIFT_NAMESPACE) == IMAGE
    manifest = shell.run(f"helm get manifest sriov-fdp-operator --namespace {OPENSHIFT_NAMESPACE}")
    assert NAD_CRD not in manifest, "OpenShift brings Multus's CRD"
    binding = shell.get("clusterrolebinding", "sriov-network-operator-privileged-scc")
    assert {(s["name"], s["namespace"]) for s in binding["subjects"]} == {
        ("sriov-network-config-daemon", OPENSHIFT_NAMESPACE),
        ("sriov-device-plugin", OPENSHIFT_NAMESPACE),
    }
    shell.block(example("uninstall-helm"), {NAMESPACE: OPENSHIFT_NAMESPACE})
    assert not shell.exists("deployment", "sriov-network-operator", OPENSHIFT_NAMESPACE)

    shell.run(
        f"helm template sriov-fdp-operator {CHART} --namespace {OPENSHIFT_NAMESPACE} "
        f"-f {CHART}/values-openshift.yaml --include-crds > openshift.yaml"
    )
    output = shell.run("kubectl apply --server-side --dry-run=server -f openshift.yaml")
    shell.dry_run("helm, OpenShift values", output, "openshift.yaml")


def test_kustomize_preview_and_install(shell: Shell) -> None:
    _, output = shell.block(example("install-kustomize-preview"))
    shell.dry_run("kustomize base", output)

    shell.block(example("install-kustomize"))
    assert _deployment_image(shell, NAMESPACE) == IMAGE
    labels = shell.get("namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "privileged"
    rendered = yaml.safe_load_all(shell.run("kubectl kustomize deploy/kustomize/base"))
    assert NAD_CRD not in {doc["metadata"]["name"] for doc in rendered if doc}, "not ours to own"
    pod = shell.get("deployment", "sriov-network-operator", NAMESPACE)["spec"]["template"]["spec"]
    variables = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert variables["SRIOV_OPERATOR_OPERATOR_IMAGE"] == IMAGE


def test_kustomize_install_of_the_openshift_overlay(shell: Shell) -> None:
    shell.run("kubectl kustomize deploy/kustomize/openshift > openshift-kustomize.yaml")
    rendered = yaml.safe_load_all((shell.cwd / "openshift-kustomize.yaml").read_text())
    assert NAD_CRD not in {doc["metadata"]["name"] for doc in rendered if doc}
    output = shell.run("kubectl apply --server-side --dry-run=server -f openshift-kustomize.yaml")
    shell.dry_run("kustomize openshift", output, "openshift-kustomize.yaml")

    shell.block(example("install-openshift-kustomize"))
    assert _deployment_image(shell, OPENSHIFT_NAMESPACE) == IMAGE
    binding = shell.get("clusterrolebinding", "sriov-network-operator")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "sriov-network-operator", "namespace": OPENSHIFT_NAMESPACE}
    ]
    print(f"\nserver-side dry run, objects accepted: {shell.dry_runs}")


def test_an_overlay_changing_the_image_changes_it_for_the_operator_and_its_workloads(shell: Shell) -> None:
    overlay = shell.cwd / "mirror"
    overlay.mkdir()
    text = example("install-kustomize-image-overlay").text
    (overlay / "kustomization.yaml").write_text(
        text.replace("../sriov-fdp-operator/deploy/kustomize/base", "../deploy/kustomize/base")
    )
    rendered = [doc for doc in yaml.safe_load_all(shell.run("kubectl kustomize mirror")) if doc]
    deployment = next(d for d in rendered if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    mirror = f"registry.example.com/mirror/sriov-fdp-operator:{version_tag()}"
    assert container["image"] == mirror
    assert {"name": "SRIOV_OPERATOR_OPERATOR_IMAGE", "value": mirror} in container["env"]


def test_pull_secrets_and_the_webhooks_tls_values_reach_the_operator_and_its_pods(shell: Shell) -> None:
    out = shell.run(
        f"helm template x {CHART} --namespace ns --set 'imagePullSecrets={{mirror,backup}}' "
        "--set webhook.tlsMinVersion=1.3 --set webhook.tlsCiphers=ECDHE-RSA-AES128-GCM-SHA256"
    )
    pods = {
        doc["kind"]: doc["spec"].get("template", {}).get("spec", doc["spec"])
        for doc in yaml.safe_load_all(out)
        if doc and doc["kind"] in ("Deployment", "Pod")
    }
    for spec in pods.values():  # the operator and the helm test pod
        assert spec["imagePullSecrets"] == [{"name": "mirror"}, {"name": "backup"}]
    env = {e["name"]: e.get("value") for e in pods["Deployment"]["containers"][0]["env"]}
    assert env["SRIOV_OPERATOR_IMAGE_PULL_SECRETS"] == "mirror,backup"  # for every pod it runs
    assert env["SRIOV_OPERATOR_WEBHOOK_TLS_MIN_VERSION"] == "1.3"
    assert env["SRIOV_OPERATOR_WEBHOOK_TLS_CIPHERS"] == "ECDHE-RSA-AES128-GCM-SHA256"
