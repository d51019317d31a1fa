"""Networks → NetworkAttachmentDefinitions on the real API server: create, update, move, delete, conflicts."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.constants import API_VERSION, NAD_FINALIZER, OWNER_REF_ANNOTATION
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    NETWORK_ATTACHMENT_DEFINITIONS,
    OVS_NETWORKS,
    SRIOV_IB_NETWORKS,
    SRIOV_NETWORKS,
    Resource,
)
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_support import (
    TEST_MANAGER,
    eventually,
    operator_settings,
    running_operator,
    select_test_nodes,
)

pytestmark = pytest.mark.integration


def _network(kind: str, name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"resourceName": "dpdk1", **spec},
    }


async def _ready(
    objects: KubeObjects, resource: Resource, name: str, namespace: str
) -> dict[str, Any] | None:
    network = await objects.get(resource, name, namespace)
    conditions = ((network or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), None)


async def _reason(objects: KubeObjects, resource: Resource, name: str, namespace: str, reason: str) -> bool:
    ready = await _ready(objects, resource, name, namespace)
    return ready is not None and ready["reason"] == reason


async def test_network_in_operator_namespace_gets_its_nad_elsewhere_moves_and_cleans_up(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace, apps, other = (
        await make_namespace(None),
        await make_namespace(None),
        await make_namespace(None),
    )
    await select_test_nodes(objects, namespace)
    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await objects.apply(
            SRIOV_NETWORKS,
            _network("SriovNetwork", "net1", namespace, networkNamespace=apps, vlan=10),
            TEST_MANAGER,
        )
        nad = await eventually(
            lambda: objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "net1", apps), what="NAD created"
        )
        assert (
            nad["metadata"]["annotations"][OWNER_REF_ANNOTATION]
            == f"SriovNetwork.sriovnetwork.openshift.io/{namespace}/net1"
        )
        assert nad["metadata"]["annotations"]["k8s.v1.cni.cncf.io/resourceName"] == "openshift.io/dpdk1"
        assert '"vlan":10' in nad["spec"]["config"]
        await eventually(
            lambda: _reason(objects, SRIOV_NETWORKS, "net1", namespace, "NetworkReady"), what="Ready"
        )
        network = await objects.get(SRIOV_NETWORKS, "net1", namespace)
        assert network is not None
        assert network["metadata"]["finalizers"] == [NAD_FINALIZER]

        await objects.apply(
            SRIOV_NETWORKS,
            _network("SriovNetwork", "net1", namespace, networkNamespace=apps, vlan=20),
            TEST_MANAGER,
        )

        async def updated() -> bool:
            nad = await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "net1", apps)
            return nad is not None and '"vlan":20' in nad["spec"]["config"]

        await eventually(updated, what="NAD updated")

        await objects.apply(
            SRIOV_NETWORKS,
            _network("SriovNetwork", "net1", namespace, networkNamespace=other, vlan=20),
            TEST_MANAGER,
        )
        await eventually(
            lambda: objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "net1", other),
            what="NAD in the new namespace",
        )

        async def old_gone() -> bool:
            return await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "net1", apps) is None

        await eventually(old_gone, what="NAD in the old namespace deleted")

        await objects.delete(SRIOV_NETWORKS, "net1", namespace)

        async def all_gone() -> bool:
            nad = await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "net1", other)
            return nad is None and await objects.get(SRIOV_NETWORKS, "net1", namespace) is None

        await eventually(all_gone, what="NAD and network (finalizer released) gone")


async def test_networks_in_their_own_namespace_and_every_kind(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace, apps = await make_namespace(None), await make_namespace(None)
    await select_test_nodes(objects, namespace)
    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await objects.apply(SRIOV_IB_NETWORKS, _network("SriovIBNetwork", "ib1", apps), TEST_MANAGER)
        await objects.apply(
            OVS_NETWORKS, _network("OVSNetwork", "ovs1", apps, bridge="br0", vlan=7), TEST_MANAGER
        )
        ib = await eventually(lambda: objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "ib1", apps), what="IB NAD")
        ovs = await eventually(
            lambda: objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "ovs1", apps), what="OVS NAD"
        )
        assert '"type":"ib-sriov"' in ib["spec"]["config"]
        assert '"type":"ovs","bridge":"br0","vlan":7' in ovs["spec"]["config"]
        assert ib["metadata"]["ownerReferences"][0]["kind"] == "SriovIBNetwork"
        await objects.delete(OVS_NETWORKS, "ovs1", apps)

        async def ovs_nad_gone() -> bool:
            return await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "ovs1", apps) is None

        await eventually(ovs_nad_gone, what="OVS NAD deleted with its network")
        assert await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "ib1", apps) is not None


async def test_foreign_nad_is_never_overwritten_and_missing_namespace_waits(
    control_plane: ControlPlane, objects: KubeObjects, make_namespace: NamespaceFactory
) -> None:
    namespace, apps = await make_namespace(None), await make_namespace(None)
    await select_test_nodes(objects, namespace)
    foreign_config = '{"cniVersion":"1.0.0","name":"taken","type":"macvlan"}'
    foreign: dict[str, Any] = {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "taken", "namespace": apps},
        "spec": {"config": foreign_config},
    }
    await objects.create(NETWORK_ATTACHMENT_DEFINITIONS, foreign)
    later = f"{namespace}-later"
    async with running_operator(operator_settings(control_plane.kubeconfig, namespace)):
        await objects.apply(
            SRIOV_NETWORKS, _network("SriovNetwork", "taken", namespace, networkNamespace=apps), TEST_MANAGER
        )
        await objects.apply(
            SRIOV_NETWORKS, _network("SriovNetwork", "waits", namespace, networkNamespace=later), TEST_MANAGER
        )
        await objects.apply(
            SRIOV_NETWORKS,
            _network("SriovNetwork", "bad", namespace, networkNamespace=apps, ipam="{oops"),
            TEST_MANAGER,
        )
        await eventually(
            lambda: _reason(
                objects, SRIOV_NETWORKS, "taken", namespace, "NetworkAttachmentDefinitionOwnedByOther"
            ),
            what="conflict reported",
        )
        nad = await objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "taken", apps)
        assert nad is not None
        assert nad["spec"]["config"] == foreign_config
        await eventually(
            lambda: _reason(objects, SRIOV_NETWORKS, "waits", namespace, "NamespaceNotFound"), what="waits"
        )
        bad = await eventually(
            lambda: _reason(objects, SRIOV_NETWORKS, "bad", namespace, "NetworkAttachmentDefinitionInvalid"),
            what="invalid",
        )
        assert bad
        ready = await _ready(objects, SRIOV_NETWORKS, "bad", namespace)
        assert ready is not None and ready["message"].startswith("spec.ipam: ")
        await make_namespace(later)
        await eventually(
            lambda: objects.get(NETWORK_ATTACHMENT_DEFINITIONS, "waits", later),
            what="NAD once the namespace exists",
        )
        await eventually(
            lambda: _reason(objects, SRIOV_NETWORKS, "waits", namespace, "NetworkReady"), what="ready"
        )
        for name in ("taken", "waits", "bad"):
            await objects.delete(SRIOV_NETWORKS, name, namespace)
        await eventually(lambda: _no_networks(objects, namespace), what="networks deleted")


async def _no_networks(objects: KubeObjects, namespace: str) -> bool:
    listing = await objects.list(SRIOV_NETWORKS, namespace=namespace)
    return not listing["items"]
