"""``sriov-operator why`` on the real API server: the healthy chain holds, and a break injected at
each step is found at that step, read through the command's own client (``commands/why/fetch.py``).

The objects are written as their writers would (status through the status subresource); no
controller runs for this test's namespaces, so nothing repairs a break before ``why`` reads it.
"""

from __future__ import annotations

import uuid

import pytest

from sriov_operator.commands.why import answer, format_text
from sriov_operator.commands.why.chain import STEPS, Answer
from sriov_operator.commands.why.fetch import read_cluster
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    NETWORK_ATTACHMENT_DEFINITIONS,
    NODES,
    PODS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORKS,
    Resource,
)
from tests.integration.conftest import NamespaceFactory
from tests.integration.operator_harness import ensure_default_service_account
from tests.why_cases import Chain, broken, healthy_chain

pytestmark = pytest.mark.integration
RESOURCES: dict[str, Resource] = {
    "node": NODES,
    "policy": SRIOV_NETWORK_NODE_POLICIES,
    "state": SRIOV_NETWORK_NODE_STATES,
    "configmap": CONFIG_MAPS,
    "network": SRIOV_NETWORKS,
    "nad": NETWORK_ATTACHMENT_DEFINITIONS,
    "pod": PODS,
}


async def _create(objects: KubeObjects, chain: Chain) -> None:
    """Create each object, then its status as its writer would (kubelet, daemon, scheduler)."""
    for key, body in chain.objects.items():
        resource = RESOURCES[key]
        namespace = body["metadata"].get("namespace")
        if key == "pod":
            await ensure_default_service_account(objects, namespace)
        created = await objects.create(resource, {k: v for k, v in body.items() if k != "status"}, namespace)
        if "status" in body:
            await objects.patch(
                resource,
                created["metadata"]["name"],
                {"status": body["status"]},
                namespace,
                subresource="status",
            )


async def _why(control_plane: ControlPlane, chain: Chain) -> Answer:
    view = await read_cluster(
        control_plane.kubeconfig, chain.operator_namespace, (chain.app_namespace, "whypod")
    )
    return answer(view, "pod", "whypod", chain.app_namespace)


@pytest.mark.parametrize("step", [None, *STEPS])
async def test_why_finds_the_break_injected_at_each_step(
    objects: KubeObjects, control_plane: ControlPlane, make_namespace: NamespaceFactory, step: str | None
) -> None:
    run = uuid.uuid4().hex[:8]
    operator_namespace, app_namespace = (
        await make_namespace(f"why-op-{run}"),
        await make_namespace(f"why-app-{run}"),
    )
    chain = healthy_chain(operator_namespace, app_namespace, f"why-node-{run}", run)
    if step is not None:
        chain = broken(chain, step)
    try:
        await _create(objects, chain)
        result = await _why(control_plane, chain)
    finally:
        await objects.delete(NODES, chain.node)
    printed = format_text(result)
    if step is None:
        assert result.holds, printed
        assert [link.step for link in result.links()] == list(STEPS), printed
        return
    assert result.broken is not None and result.broken.step == step, printed
    assert all(link.holds for link in result.links()[:-1]), printed
