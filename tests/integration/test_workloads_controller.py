"""SriovOperatorConfig -> workloads on the real API server: applied, reported Ready, removed when disabled.

The DaemonSet and Deployment controllers are real; no kubelet runs their pods, so the
test reports the pods Running and Ready as a kubelet would. The static operator RBAC
(deploy/kustomize/base/rbac.yaml) is proven sufficient by running the controller as the
operator's ServiceAccount: Kubernetes refuses to let it grant roles it does not itself hold.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.crds import all_crds
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.install.objects import operator_rbac
from sriov_operator.kube.objects import KubeObjects, served
from sriov_operator.kube.resources import (
    CLUSTER_ROLE_BINDINGS,
    CLUSTER_ROLES,
    CUSTOM_RESOURCE_DEFINITIONS,
    DAEMON_SETS,
    DEPLOYMENTS,
    NAMESPACES,
    OVS_NETWORKS,
    ROLE_BINDINGS,
    ROLES,
    SERVICE_ACCOUNTS,
    SERVICE_MONITORS,
    SERVICES,
    SRIOV_OPERATOR_CONFIGS,
    Resource,
)
from sriov_operator.kube.session import api_session
from sriov_operator.operator.crd_upgrade import DIGEST_ANNOTATION, upgrade_crds
from sriov_operator.operator.workloads.settings import WorkloadSettings
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import condition, play_rollouts
from tests.integration.operator_support import eventually, operator_settings, running_operator
from tests.kube_client import api_client, kube_objects

pytestmark = pytest.mark.integration

WEBHOOK = "sriov-operator-webhook"
OPERATOR_NAMESPACE = "sriov-network-operator"


@pytest.fixture
async def objects(control_plane: ControlPlane, kube: Any) -> AsyncIterator[KubeObjects]:
    async with api_client(control_plane.kubeconfig) as api:
        yield kube_objects(api)


@pytest.fixture(autouse=True)
def _log_level_restored() -> Iterator[None]:
    """The in-process operator sets the process's level from the config's logLevel."""
    level = logging.getLogger().level
    yield
    logging.getLogger().setLevel(level)


@contextlib.asynccontextmanager
async def operator(kubeconfig: Path, namespace: str) -> AsyncIterator[None]:
    """The whole operator: the workloads controller applies, the operator-config controller reports Ready."""
    workloads = WorkloadSettings(operator_image="registry.test/operator:v0.1.0")
    async with running_operator(operator_settings(kubeconfig, namespace, workloads=workloads)):
        yield


async def create_config(objects: KubeObjects, namespace: str, spec: dict[str, Any]) -> None:
    body = {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": spec,
    }
    await objects.create(SRIOV_OPERATOR_CONFIGS, body, namespace=namespace)


async def ready(objects: KubeObjects, namespace: str) -> dict[str, Any] | None:
    config = await objects.get(SRIOV_OPERATOR_CONFIGS, "default", namespace)
    return condition(config, "Ready")


async def components(objects: KubeObjects, namespace: str) -> dict[str, Any]:
    config = await objects.get(SRIOV_OPERATOR_CONFIGS, "default", namespace)
    status = (config or {}).get("status") or {}
    return {key: status.get(key) for key in ("injector", "operatorWebhook")}


async def test_log_level_changes_reach_the_operator_itself(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """logLevel reached the daemons and the webhook, never the operator's own log."""
    namespace = await make_namespace(None)
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    await create_config(objects, namespace, {"logLevel": 1, "configDaemonNodeSelector": {"sriov": "true"}})
    async with operator(control_plane.kubeconfig, namespace):
        await eventually(lambda: root.level == logging.DEBUG, what="the operator logging at DEBUG")
        await objects.patch(SRIOV_OPERATOR_CONFIGS, "default", {"spec": {"logLevel": 0}}, namespace)
        await eventually(lambda: root.level == logging.INFO, what="the operator back at INFO")


async def test_workloads_are_applied_reported_and_removed_when_disabled(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace = await make_namespace(None)
    await create_config(
        objects,
        namespace,
        {"enableOperatorWebhook": True, "logLevel": 2, "configDaemonNodeSelector": {"sriov": "true"}},
    )
    async with operator(control_plane.kubeconfig, namespace):
        # The webhook's Service is the last object applied.
        await eventually(lambda: objects.get(SERVICES, WEBHOOK, namespace), what="the workloads applied")
        not_ready = await eventually(lambda: ready(objects, namespace), what="a Ready condition")
        daemon = await objects.get(DAEMON_SETS, "sriov-network-config-daemon", namespace)
        assert daemon is not None
        pod = daemon["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == {"sriov": "true"}
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        assert env["SRIOV_OPERATOR_LOG_LEVEL"] == "DEBUG"
        assert await objects.get(DAEMON_SETS, "sriov-device-plugin", namespace) is not None
        assert await objects.get(DEPLOYMENTS, WEBHOOK, namespace) is not None
        assert await objects.get(SERVICES, WEBHOOK, namespace) is not None
        assert await objects.get(ROLES, "sriov-network-config-daemon", namespace) is not None
        assert await objects.get(CLUSTER_ROLES, "sriov-network-config-daemon") is not None

        assert not_ready["status"] == "False"
        assert not_ready["reason"] == "WorkloadsNotReady"
        assert "Deployment sriov-operator-webhook: " in not_ready["message"]  # no pod of it runs yet
        assert await components(objects, namespace) == {"injector": "Disabled", "operatorWebhook": "Starting"}

        await play_rollouts(objects, namespace)

        async def is_ready() -> dict[str, Any] | None:
            current = await ready(objects, namespace)
            return current if current and current["status"] == "True" else None

        done = await eventually(is_ready, what="Ready=True after the rollouts")
        assert done["reason"] == "OperatorConfigReady"
        assert "Deployment sriov-operator-webhook: 1/1 ready" in done["message"]
        # status.injector and .operatorWebhook were never written
        assert await components(objects, namespace) == {"injector": "Disabled", "operatorWebhook": "Running"}

        # A deleted DaemonSet comes back.
        await objects.delete(DAEMON_SETS, "sriov-device-plugin", namespace)
        await eventually(
            lambda: objects.get(DAEMON_SETS, "sriov-device-plugin", namespace),
            what="the device plugin DaemonSet re-created",
        )

        # Turning the webhook off removes its Deployment, Service, account and roles.
        await objects.patch(
            SRIOV_OPERATOR_CONFIGS, "default", {"spec": {"enableOperatorWebhook": False}}, namespace=namespace
        )

        async def webhook_gone() -> bool:
            return all(
                [
                    await objects.get(DEPLOYMENTS, WEBHOOK, namespace) is None,
                    await objects.get(SERVICES, WEBHOOK, namespace) is None,
                    await objects.get(SERVICE_ACCOUNTS, WEBHOOK, namespace) is None,
                    await objects.get(ROLE_BINDINGS, WEBHOOK, namespace) is None,
                    await objects.get(CLUSTER_ROLE_BINDINGS, WEBHOOK) is None,
                ]
            )

        await eventually(webhook_gone, what="the webhook's objects deleted")
        assert await objects.get(DAEMON_SETS, "sriov-network-config-daemon", namespace) is not None


def static_rbac() -> list[dict[str, Any]]:
    """The namespace and the operator's RBAC as installed (deploy/kustomize/base, the chart)."""
    return operator_rbac(OPERATOR_NAMESPACE)


RBAC_RESOURCES = {
    r.kind: r
    for r in (NAMESPACES, SERVICE_ACCOUNTS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS, ROLES, ROLE_BINDINGS)
}


async def service_account_kubeconfig(objects: KubeObjects, control_plane: ControlPlane, path: Path) -> Path:
    """A kubeconfig that authenticates as the operator's ServiceAccount (a TokenRequest token)."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    token = await objects.create(
        Resource("", "v1", "serviceaccounts/sriov-network-operator/token", "TokenRequest", namespaced=True),
        request,
        namespace=OPERATOR_NAMESPACE,
    )
    config = yaml.safe_load(control_plane.kubeconfig.read_text())
    config["users"][0]["user"] = {"token": token["status"]["token"]}
    path.write_text(yaml.safe_dump(config))
    return path


async def test_static_operator_rbac_lets_the_operator_grant_its_workloads_roles(
    control_plane: ControlPlane, objects: KubeObjects, tmp_path: Path
) -> None:
    for document in static_rbac():
        await objects.apply(RBAC_RESOURCES[document["kind"]], document, "test")
    await create_config(objects, OPERATOR_NAMESPACE, {"enableOperatorWebhook": True})
    try:
        kubeconfig = await service_account_kubeconfig(
            objects, control_plane, tmp_path / "operator.kubeconfig"
        )
        async with operator(kubeconfig, OPERATOR_NAMESPACE):
            await eventually(
                lambda: ready(objects, OPERATOR_NAMESPACE), what="the Ready condition, as the operator"
            )
        for resource, name in (
            (ROLES, "sriov-network-config-daemon"),
            (ROLES, WEBHOOK),
            (CLUSTER_ROLES, "sriov-network-config-daemon"),
            (CLUSTER_ROLES, WEBHOOK),
            (DAEMON_SETS, "sriov-network-config-daemon"),
            (DEPLOYMENTS, WEBHOOK),
        ):
            namespace = OPERATOR_NAMESPACE if resource.namespaced else None
            assert await objects.get(resource, name, namespace) is not None, f"{resource.kind}/{name}"

        # and it may upgrade its own CRDs at start (--apply-crds): one marked as from another version
        crd = all_crds()[0]
        name = crd["metadata"]["name"]
        await objects.patch(
            CUSTOM_RESOURCE_DEFINITIONS, name, {"metadata": {"annotations": {DIGEST_ANNOTATION: "older"}}}
        )
        async with api_session(kubeconfig) as session:
            assert await upgrade_crds(KubeObjects(session), [crd]) == [name]
    finally:
        await objects.delete(SRIOV_OPERATOR_CONFIGS, "default", OPERATOR_NAMESPACE)


async def _init_containers(objects: KubeObjects, namespace: str) -> list[str] | None:
    daemon = await objects.get(DAEMON_SETS, "sriov-network-config-daemon", namespace)
    if daemon is None:
        return None
    return [c["name"] for c in daemon["spec"]["template"]["spec"].get("initContainers", [])]


async def test_the_config_daemon_installs_the_ovs_cni_plugin_while_an_ovs_network_exists(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """The rendered init containers, server-side applied and read back; OVS's follows the OVSNetworks."""
    namespace = await make_namespace(None)
    await create_config(objects, namespace, {"configDaemonNodeSelector": {"sriov": "true"}})
    async with operator(control_plane.kubeconfig, namespace):
        installs = await eventually(lambda: _init_containers(objects, namespace), what="the config daemon")
        assert installs[0] == "sriov-cni"
        network = {
            "apiVersion": API_VERSION,
            "kind": "OVSNetwork",
            "metadata": {"name": "ovs-net", "namespace": namespace},
            "spec": {"resourceName": "ovs1", "bridge": "br0", "networkNamespace": namespace},
        }
        await objects.create(OVS_NETWORKS, network, namespace=namespace)

        async def with_ovs() -> list[str] | None:
            found = await _init_containers(objects, namespace)
            return found if found and "ovs-cni" in found else None

        daemon_set = await eventually(with_ovs, what="the ovs CNI plugin's init container")
        assert daemon_set[0] == "sriov-cni"
        await objects.delete(OVS_NETWORKS, "ovs-net", namespace)
        if not (await objects.list(OVS_NETWORKS))["items"]:  # another test's OVSNetwork would keep it

            async def without_ovs() -> bool:
                return "ovs-cni" not in (await _init_containers(objects, namespace) or ["ovs-cni"])

            await eventually(without_ovs, what="the ovs CNI plugin's init container removed")


EXPORTER = "sriov-network-metrics-exporter"
SERVICE_MONITOR_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "names": {"kind": "ServiceMonitor", "listKind": "ServiceMonitorList", "plural": "servicemonitors"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}


async def test_the_metrics_exporter_gate_applies_a_service_monitor_only_where_its_crd_is_served(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    """Server-side applied on the real API server: without the Prometheus operator's CRD the
    exporter and its Service; with it also the ServiceMonitor; gate off removes all three."""
    namespace = await make_namespace(None)
    await create_config(objects, namespace, {"featureGates": {"metricsExporter": True}})
    try:
        async with operator(control_plane.kubeconfig, namespace):
            await eventually(
                lambda: objects.get(SERVICES, EXPORTER, namespace), what="the exporter's Service"
            )
            daemon = await objects.get(DAEMON_SETS, EXPORTER, namespace)
            assert daemon is not None
            assert not await served(objects, SERVICE_MONITORS)

            await objects.apply(CUSTOM_RESOURCE_DEFINITIONS, SERVICE_MONITOR_CRD, "test")
            await eventually(lambda: served(objects, SERVICE_MONITORS), what="the ServiceMonitor CRD served")
            # any change of the config reconciles (so does the periodic re-apply)
            await objects.patch(
                SRIOV_OPERATOR_CONFIGS, "default", {"spec": {"logLevel": 1}}, namespace=namespace
            )
            monitor = await eventually(
                lambda: objects.get(SERVICE_MONITORS, EXPORTER, namespace), what="the ServiceMonitor"
            )
            assert monitor["spec"]["endpoints"][0]["port"] == "sriov-network-metrics"

            await objects.patch(
                SRIOV_OPERATOR_CONFIGS,
                "default",
                {"spec": {"featureGates": {"metricsExporter": False}}},
                namespace=namespace,
            )

            async def exporter_gone() -> bool:
                return all(
                    [
                        await objects.get(DAEMON_SETS, EXPORTER, namespace) is None,
                        await objects.get(SERVICES, EXPORTER, namespace) is None,
                        await objects.get(SERVICE_ACCOUNTS, EXPORTER, namespace) is None,
                        await objects.get(SERVICE_MONITORS, EXPORTER, namespace) is None,
                    ]
                )

            await eventually(exporter_gone, what="the exporter's objects deleted")
            assert await objects.get(DAEMON_SETS, "sriov-network-config-daemon", namespace) is not None
    finally:
        await objects.delete(CUSTOM_RESOURCE_DEFINITIONS, SERVICE_MONITOR_CRD["metadata"]["name"])
