"""Install, upgrade and remove the operator the way users do, each on a fresh control plane of its own
with the real controllers (garbage collector, namespace controller, DaemonSet/Deployment controllers).

The operator and the webhook run as processes with the installed Deployment's environment and the
operator's ServiceAccount token (no kubelet runs pods here); the operator is stopped when the
uninstall begins, as its pod would be. What must hold:

- Multus's NetworkAttachmentDefinition CRD is installed only where absent, and a user's NAD made
  before the install survives the uninstall;
- after ``helm uninstall`` or ``kubectl delete -k``, nothing of ours remains but our CRDs and the
  users' objects (what the operator created is garbage-collected through its ownerReferences);
- one ``kubectl apply --server-side -k deploy/kustomize/base`` works on a fresh cluster;
- upgrading from the chart as it was before this lifecycle work loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sriov_operator.api.constants import WEBHOOK_CA_SECRET, WEBHOOK_SERVING_SECRET
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.controlplane.tools import DeployTools
from sriov_operator.sandbox.cluster import service_account_kubeconfig
from tests.docs_examples import example
from tests.integration.conftest import own_control_plane
from tests.integration.install_support import OPERATOR, Processes, Shell, processes, shell_for
from tests.support import REPO_ROOT
from tests.waiting import eventually_blocking

pytestmark = pytest.mark.integration

NAMESPACE = "sriov-network-operator"
NAD_CRD = "network-attachment-definitions.k8s.cni.cncf.io"
OURS = "app.kubernetes.io/managed-by=sriov-fdp-operator"
OUR_KINDS = (
    "daemonsets,deployments,services,serviceaccounts,secrets,configmaps,roles,rolebindings,pods,"
    "clusterroles,clusterrolebindings,validatingwebhookconfigurations,mutatingwebhookconfigurations"
)
INSTALLED = "app.kubernetes.io/part-of=sriov-fdp-operator"
INSTALLED_KINDS = (
    "deployments,services,serviceaccounts,configmaps,roles,rolebindings,networkpolicies,clusterroles,"
    "clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings"
)
CHART_BEFORE = REPO_ROOT / "tests/fixtures/chart-before-lifecycle/sriov-fdp-operator"
WORKER = "worker-a"
TEST_POD = f"{OPERATOR}-test"


@pytest.fixture
def plane() -> Iterator[ControlPlane]:
    """A fresh API server per test: each installs and removes cluster-wide objects."""
    yield from own_control_plane()


@pytest.fixture
def shell(tools: DeployTools, plane: ControlPlane, tmp_path: Path) -> Shell:
    return shell_for(tools, plane, tmp_path)


def ours(shell: Shell) -> list[str]:
    """Every object the operator created (its label), anywhere."""
    return shell.run(f"kubectl get {OUR_KINDS} -A -l {OURS} -o name").split()


def installed(shell: Shell) -> list[str]:
    """Every object the chart or the kustomize base installed (their label), anywhere."""
    return shell.run(f"kubectl get {INSTALLED_KINDS} -A -l {INSTALLED} -o name").split()


def multus_and_a_users_nad(shell: Shell) -> None:
    """The cluster already runs Multus: its CRD, and a user's NAD in the user's namespace."""
    shell.block(example("install-multus-crd"))
    shell.run("kubectl create namespace apps")
    nad = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "users-own", "namespace": "apps"},
        "spec": {"config": '{"cniVersion": "1.0.0", "type": "macvlan"}'},
    }
    (shell.cwd / "nad.json").write_text(json.dumps(nad))
    shell.run("kubectl apply --server-side -f nad.json")


def worker_node(shell: Shell) -> None:
    """A worker Node (its kubelet is not running): the operator gives it a NodeState, the DaemonSet
    controller a config-daemon pod."""
    node = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": WORKER,
            "labels": {"node-role.kubernetes.io/worker": "", "kubernetes.io/os": "linux"},
        },
    }
    (shell.cwd / "node.json").write_text(json.dumps(node))
    shell.run("kubectl apply --server-side -f node.json")


async def _operator_kubeconfig(plane: ControlPlane, workdir: Path) -> Path:
    return await service_account_kubeconfig(
        plane.kubeconfig, NAMESPACE, OPERATOR, workdir / "operator.kubeconfig"
    )


def start(shell: Shell, plane: ControlPlane, running: Processes) -> None:
    """The operator as its pod would run it, then the webhook once its certificate exists."""
    kubeconfig = asyncio.run(_operator_kubeconfig(plane, running.workdir))
    running.start_operator(kubeconfig)
    running.start_webhook()


def everything_of_the_operator_is_up(shell: Shell, running: Processes, *, owned: bool = True) -> list[str]:
    """Wait until the operator created all it creates; what it created."""
    wanted = {
        "daemonset.apps/sriov-network-config-daemon",
        "daemonset.apps/sriov-device-plugin",
        "deployment.apps/sriov-operator-webhook",
        "service/sriov-operator-webhook",
        f"secret/{WEBHOOK_SERVING_SECRET}",
        f"secret/{WEBHOOK_CA_SECRET}",
        "clusterrole.rbac.authorization.k8s.io/sriov-network-config-daemon",
        "clusterrolebinding.rbac.authorization.k8s.io/sriov-network-config-daemon",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/sriov-operator-webhook-config",
    }

    def up() -> list[str] | None:
        running.check()
        found = ours(shell)
        return found if wanted <= set(found) else None

    found: list[str] = eventually_blocking(up, f"the operator to create {sorted(wanted)}")
    eventually_blocking(
        lambda: shell.exists("sriovnetworknodestate", WORKER, NAMESPACE), "the worker's NodeState"
    )
    eventually_blocking(
        lambda: any(name.startswith("pod/sriov-network-config-daemon-") for name in ours(shell)),
        "the DaemonSet controller's config-daemon pod on the worker",
    )
    if not owned:  # an install from before the operator named its owners
        return found
    daemon_set = shell.get("daemonset", "sriov-network-config-daemon", NAMESPACE)
    owner = daemon_set["metadata"]["ownerReferences"]
    assert [(o["kind"], o["name"]) for o in owner] == [("Deployment", OPERATOR)], owner
    state = shell.get("sriovnetworknodestate", WORKER, NAMESPACE)
    assert [(o["kind"], o["name"]) for o in state["metadata"]["ownerReferences"]] == [
        ("Deployment", OPERATOR)
    ]
    role = shell.get("clusterrole", "sriov-network-config-daemon")
    assert [(o["kind"], o["name"]) for o in role["metadata"]["ownerReferences"]] == [
        ("ClusterRole", OPERATOR)
    ]
    return found


def helm_test_passes(shell: Shell, running: Processes) -> None:
    """``helm test``: its pod's own command, run here as the kubelet would run it (the metrics
    Service's name pointing at the operator process), and its phase reported from the exit code."""
    helm = subprocess.Popen(
        ["bash", "-c", f"helm test sriov-fdp-operator -n {NAMESPACE} --timeout 120s"],
        cwd=shell.cwd,
        env=shell.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        pod = eventually_blocking(lambda: shell.exists("pod", TEST_POD, NAMESPACE), "helm test's pod")
        assert pod
        command = shell.get("pod", TEST_POD, NAMESPACE)["spec"]["containers"][0]["command"]
        assert command[0] == "python"
        url = command[-1].replace(f"{OPERATOR}-metrics:8081", f"127.0.0.1:{running.health_port}")
        ran = subprocess.run(
            [sys.executable, *command[1:-1], url], capture_output=True, text=True, timeout=60, check=False
        )
        phase = "Succeeded" if ran.returncode == 0 else "Failed"
        patch = json.dumps({"status": {"phase": phase}})
        shell.run(
            f"kubectl patch pod {TEST_POD} -n {NAMESPACE} --subresource=status --type=merge -p '{patch}'"
        )
        output, _ = helm.communicate(timeout=150)
    finally:
        if helm.poll() is None:
            helm.kill()
            helm.wait()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert helm.returncode == 0 and "Phase:          Succeeded" in output, output


def nothing_of_ours_remains(shell: Shell) -> None:
    def gone() -> bool:
        return (
            not ours(shell)
            and not installed(shell)
            and not shell.exists("sriovnetworknodestate", WORKER, NAMESPACE)
        )

    eventually_blocking(gone, "the garbage collector to remove it all", 180)


def the_users_objects_remain(shell: Shell) -> None:
    assert shell.exists("crd", NAD_CRD), "Multus's CRD is not ours to delete"
    assert shell.exists("network-attachment-definition", "users-own", "apps")


def test_helm_uninstall_leaves_only_our_crds_and_the_users_objects(
    shell: Shell, plane: ControlPlane, tmp_path: Path
) -> None:
    multus_and_a_users_nad(shell)
    worker_node(shell)
    shell.block(example("install-namespace"))
    shell.block(example("install-helm"))
    crd = shell.get("crd", NAD_CRD)
    assert "meta.helm.sh/release-name" not in crd["metadata"].get("annotations", {}), "the chart adopted it"
    with processes(shell, plane, NAMESPACE, tmp_path) as running:
        start(shell, plane, running)
        everything_of_the_operator_is_up(shell, running)
        helm_test_passes(shell, running)
        running.stop_all()  # helm deletes the operator's Deployment: its pods stop first
        shell.block(example("uninstall-helm"))
    nothing_of_ours_remains(shell)
    the_users_objects_remain(shell)
    assert shell.exists("crd", "sriovnetworknodepolicies.sriovnetwork.openshift.io"), "Helm keeps our CRDs"


def test_helm_installs_the_nad_crd_where_absent_and_keeps_it(shell: Shell) -> None:
    shell.block(example("install-namespace"))
    [notes] = shell.block(example("install-helm"))
    assert f"helm test sriov-fdp-operator -n {NAMESPACE}" in notes, "NOTES.txt says how to check"
    annotations = shell.get("crd", NAD_CRD)["metadata"]["annotations"]
    assert annotations["helm.sh/resource-policy"] == "keep"
    shell.block(example("upgrade-helm"))  # the release installed it: it stays in the release
    manifest = shell.run(f"helm get manifest sriov-fdp-operator -n {NAMESPACE}")
    assert f"name: {NAD_CRD}" in manifest
    shell.block(example("uninstall-helm"))
    assert shell.exists("crd", NAD_CRD), "kept on uninstall: other projects' NADs depend on it"


def test_one_kustomize_apply_on_a_fresh_cluster_then_delete_leaves_nothing_of_ours(
    shell: Shell, plane: ControlPlane, tmp_path: Path
) -> None:
    multus_and_a_users_nad(shell)
    worker_node(shell)
    shell.block(example("install-kustomize"))  # once: Shell.run fails the test on a non-zero exit
    with processes(shell, plane, NAMESPACE, tmp_path) as running:
        start(shell, plane, running)
        everything_of_the_operator_is_up(shell, running)
        config = shell.get("sriovoperatorconfig", "default", NAMESPACE)
        assert config["spec"]["enableOperatorWebhook"] is True, "the operator created the default config"
        running.stop_all()
        shell.block(example("uninstall-kustomize"))
    nothing_of_ours_remains(shell)
    assert not shell.exists("namespace", NAMESPACE)
    the_users_objects_remain(shell)


def test_upgrading_from_the_previous_chart_loses_nothing_and_the_webhook_keeps_serving(
    shell: Shell, plane: ControlPlane, tmp_path: Path
) -> None:
    shutil.copytree(CHART_BEFORE, tmp_path / "previous")
    worker_node(shell)
    shell.block(example("install-namespace"))
    shell.run(f"helm install sriov-fdp-operator previous --namespace {NAMESPACE}")
    assert shell.exists("crd", NAD_CRD), "the previous chart installed Multus's CRD"
    policy: dict[str, Any] = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "dpdk1", "namespace": NAMESPACE},
        "spec": {
            "resourceName": "dpdk1",
            "nodeSelector": {"node-role.kubernetes.io/worker": ""},
            "numVfs": 4,
            "nicSelector": {"pfNames": ["ens1f0"]},
            "deviceType": "vfio-pci",
        },
    }
    network = {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetwork",
        "metadata": {"name": "dpdk1-net", "namespace": NAMESPACE},
        "spec": {"resourceName": "dpdk1", "networkNamespace": "default", "ipam": "{}"},
    }
    (tmp_path / "objects.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": [policy, network]})
    )
    bad = {
        **policy,
        "metadata": {"name": "bad", "namespace": NAMESPACE},
        "spec": {**policy["spec"], "isRdma": True},
    }
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with processes(shell, plane, NAMESPACE, tmp_path) as running:
        start(shell, plane, running)
        everything_of_the_operator_is_up(shell, running, owned=False)
        eventually_blocking(lambda: _webhook_denies(shell), "the webhook to deny a bad policy")
        shell.run("kubectl apply --server-side -f objects.json")
        eventually_blocking(
            lambda: shell.exists("network-attachment-definition", "dpdk1-net", "default"), "the NAD"
        )
        state_before = shell.get("sriovnetworknodestate", WORKER, NAMESPACE)["metadata"]["uid"]

        shell.block(example("upgrade-helm"))
        running.stop("operator")  # the Deployment's new pods replace the old ones
        running.start_operator(running.workdir / "operator.kubeconfig")

        assert json.loads(shell.run(f"helm status sriov-fdp-operator -n {NAMESPACE} -o json"))["version"] == 2
        assert shell.exists("sriovnetworknodepolicy", "dpdk1", NAMESPACE)
        assert shell.exists("sriovnetwork", "dpdk1-net", NAMESPACE)
        assert shell.get("sriovnetworknodestate", WORKER, NAMESPACE)["metadata"]["uid"] == state_before
        assert shell.exists("network-attachment-definition", "dpdk1-net", "default")
        assert shell.exists("crd", NAD_CRD), "the upgrade must not drop Multus's CRD the previous chart made"
        assert _webhook_denies(shell), "the webhook stopped serving across the upgrade"
        env = {e["name"]: e.get("value") for e in _operator_container(shell)["env"]}
        assert env["SRIOV_OPERATOR_UNINSTALL_WITH"] == OPERATOR
        eventually_blocking(
            lambda: _owned(shell.get("daemonset", "sriov-network-config-daemon", NAMESPACE)),
            "the upgraded operator to give its workloads their owner",
        )
        running.check()


def _webhook_denies(shell: Shell) -> bool:
    done = shell.run("kubectl apply --server-side --dry-run=server -f bad.json 2>&1 || true")
    return "denied the request" in done


def _operator_container(shell: Shell) -> dict[str, Any]:
    deployment = shell.get("deployment", OPERATOR, NAMESPACE)
    return dict(deployment["spec"]["template"]["spec"]["containers"][0])


def _owned(obj: dict[str, Any]) -> bool:
    return any(ref["name"] == OPERATOR for ref in obj["metadata"].get("ownerReferences", []))
