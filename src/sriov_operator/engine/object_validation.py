"""Rules for the other kinds: SriovOperatorConfig, SriovNetworkPoolConfig and the network kinds."""

from __future__ import annotations

from collections.abc import Mapping

from sriov_operator.api.constants import SYNC_IN_PROGRESS
from sriov_operator.api.models import SriovNetworkPoolConfig, SriovOperatorConfig
from sriov_operator.api.refs import ObjectRef
from sriov_operator.engine.nad import Network, RawJsonError, cni_config, object_ref
from sriov_operator.engine.problems import Problem, error, warning


def validate_operator_config_update(
    old: SriovOperatorConfig | None, new: SriovOperatorConfig, sync_status_by_node: Mapping[str, str | None]
) -> list[Problem]:
    """Turning disableDrain on while a node is mid-configuration could leave it half drained."""
    if not new.spec.disable_drain or (old is not None and old.spec.disable_drain):
        return []
    busy = sorted(node for node, status in sync_status_by_node.items() if status == SYNC_IN_PROGRESS)
    if not busy:
        return []
    return [
        error(
            ObjectRef(kind=new.kind, namespace=new.namespace, name=new.name),
            "spec.disableDrain",
            f"cannot be turned on while node(s) {', '.join(busy)} are InProgress; wait until their "
            "SriovNetworkNodeState syncStatus is Succeeded or Failed",
        )
    ]


def validate_operator_config(config: SriovOperatorConfig) -> list[Problem]:
    """Upstream warns when draining is off; a reconfiguration then takes devices from running pods."""
    if not config.spec.disable_drain:
        return []
    return [
        warning(
            ObjectRef(kind=config.kind, namespace=config.namespace, name=config.name),
            "spec.disableDrain",
            "true: nodes are not drained before their NICs are reconfigured, so pods using the devices "
            "may lose them; meant for single-node clusters",
        )
    ]


def validate_pool(pool: SriovNetworkPoolConfig) -> list[Problem]:
    spec, ref = pool.spec, ObjectRef(kind=pool.kind, namespace=pool.namespace, name=pool.name)
    if not spec.ovs_hardware_offload_config:
        return []
    return [
        error(ref, field, "cannot be combined with ovsHardwareOffloadConfig; use a separate pool")
        for field, value in (
            ("spec.maxUnavailable", spec.max_unavailable),
            ("spec.nodeSelector", spec.node_selector),
        )
        if value is not None
    ]


def validate_network(
    network: Network, operator_namespace: str, provided_resources: set[str]
) -> list[Problem]:
    ref = object_ref(network)
    problems = []
    if network.spec.network_namespace and network.namespace != operator_namespace:
        problems.append(
            error(
                ref,
                "spec.networkNamespace",
                f"{network.spec.network_namespace!r} is only allowed for networks in the operator namespace "
                f"{operator_namespace!r}; leave it empty and the NAD is created in {network.namespace!r}",
            )
        )
    try:
        cni_config(network)
    except RawJsonError as exc:
        problems.append(error(ref, exc.field, str(exc)))
    if network.spec.resource_name not in provided_resources:
        problems.append(
            warning(
                ref,
                "spec.resourceName",
                f"{network.spec.resource_name} is the resourceName of no SriovNetworkNodePolicy in the "
                f"operator namespace {operator_namespace}; pods using this network will wait for a device",
            )
        )
    return problems


def pool_membership_problems(pools_by_node: Mapping[str, list[str]], namespace: str) -> list[Problem]:
    """A node may belong to one pool only; report each offending pool once, with its nodes."""
    nodes_by_pool: dict[str, list[str]] = {}
    for node, pools in pools_by_node.items():
        if len(pools) > 1:
            for pool in pools:
                nodes_by_pool.setdefault(pool, []).append(node)
    return [
        error(
            ObjectRef(kind=SriovNetworkPoolConfig.KIND, namespace=namespace, name=pool),
            "spec.nodeSelector",
            f"selects node(s) that other pools select too: {', '.join(sorted(nodes))}; a node may belong to "
            "one pool only (its rdmaMode is not applied there, and drains use the default pool)",
        )
        for pool, nodes in sorted(nodes_by_pool.items())
    ]
