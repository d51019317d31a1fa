"""Read what ``why`` walks, once, through the project's one API client (``kube/session.py``)."""

from __future__ import annotations

from pathlib import Path

from sriov_operator.api.constants import (
    DEFAULT_OPERATOR_CONFIG_NAME,
    DEFAULT_OPERATOR_NAMESPACE,
    DEVICE_PLUGIN_CONFIG_FOR_LABEL,
)
from sriov_operator.api.meta import name_of, namespace_of
from sriov_operator.api.names import node_of_device_plugin_configmap
from sriov_operator.commands.diff.live_objects import list_all
from sriov_operator.commands.why.chain import ClusterObjects
from sriov_operator.commands.why.evidence import Events
from sriov_operator.kube.errors import NotFoundError
from sriov_operator.kube.objects import KubeObjects, Object
from sriov_operator.kube.resources import (
    CONFIG_MAPS,
    EVENTS,
    NETWORK_ATTACHMENT_DEFINITIONS,
    NODES,
    OVS_NETWORKS,
    PODS,
    SRIOV_IB_NETWORKS,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_NETWORKS,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.kube.session import api_session


async def _operator_namespace(objects: KubeObjects, given: str | None) -> str:
    """The namespace given, else the one holding SriovOperatorConfig ``default`` (the operator's)."""
    if given:
        return given
    configs = await list_all(objects, SRIOV_OPERATOR_CONFIGS)
    found = sorted(namespace_of(c) or "" for c in configs if name_of(c) == DEFAULT_OPERATOR_CONFIG_NAME)
    return found[0] if len(found) == 1 else DEFAULT_OPERATOR_NAMESPACE


async def _nads(objects: KubeObjects) -> list[Object]:
    """Every NetworkAttachmentDefinition; none when Multus's CRD is not installed."""
    try:
        return await list_all(objects, NETWORK_ATTACHMENT_DEFINITIONS)
    except NotFoundError:
        return []


async def read_cluster(
    kubeconfig: Path, operator_namespace: str | None, pod: tuple[str, str] | None
) -> ClusterObjects:
    async with api_session(kubeconfig) as api:
        objects = KubeObjects(api)
        namespace = await _operator_namespace(objects, operator_namespace)
        pods: dict[tuple[str, str], Object] = {}
        if pod is not None and (found := await objects.get(PODS, pod[1], pod[0])) is not None:
            pods[pod] = {"apiVersion": "v1", "kind": "Pod", **found}
        networks = [
            *await list_all(objects, SRIOV_NETWORKS),
            *await list_all(objects, SRIOV_IB_NETWORKS),
            *await list_all(objects, OVS_NETWORKS),
        ]
        nads = {(namespace_of(n) or "", name_of(n)): n for n in await _nads(objects)}
        configmaps = await objects.list(CONFIG_MAPS, namespace, label_selector=DEVICE_PLUGIN_CONFIG_FOR_LABEL)
        device_plugin = {
            node: item
            for item in configmaps["items"]
            if (node := node_of_device_plugin_configmap(item)) is not None
        }
        event_namespaces = sorted({namespace, "default", *(ns for ns, _ in pods)})
        events = [e for ns in event_namespaces for e in await list_all(objects, EVENTS, ns)]
        return ClusterObjects(
            operator_namespace=namespace,
            nodes={name_of(n): n for n in await list_all(objects, NODES)},
            states={name_of(s): s for s in await list_all(objects, SRIOV_NETWORK_NODE_STATES, namespace)},
            device_plugin_configs=device_plugin,
            policies=await list_all(objects, SRIOV_NETWORK_NODE_POLICIES),
            networks=networks,
            nads=nads,
            operator_config=await objects.get(
                SRIOV_OPERATOR_CONFIGS, DEFAULT_OPERATOR_CONFIG_NAME, namespace
            ),
            events=Events.of(events),
            pods=pods,
        )
