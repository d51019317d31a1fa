"""Policies selecting one node → that node's SriovNetworkNodeState ``spec``.

Upstream's algorithm (see docs/policy-engine.md): policies are applied from the
lowest priority (highest number) to the highest; a later policy replaces the VF
groups it collides with (same resourceName or overlapping VF range) and keeps
the others; when it kept some, or the priorities are equal, numVfs and mtu take
the larger value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sriov_operator.api.models import (
    Interface,
    InterfaceExt,
    RdmaMode,
    SriovNetworkNodeStateSpec,
    System,
    VfGroup,
)
from sriov_operator.engine.selection import CompiledPolicy, VfRange


def ranges_overlap(a: VfRange, b: VfRange) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _larger(a: int | None, b: int | None) -> int | None:
    return max(a or 0, b or 0) or None


def _vf_range(group: VfGroup) -> VfRange:
    """The range of a group the merge made (always ``a-b``)."""
    first, _, last = (group.vf_range or "").partition("-")
    return int(first), int(last)


def _planned(policy: CompiledPolicy, iface: InterfaceExt) -> Interface:
    """The policy's wish for one PF, as the NodeState spec entry (built from validated policy fields)."""
    spec = policy.policy.spec
    first, last = policy.vf_range_for(iface)
    group = VfGroup.model_construct(
        resource_name=policy.resource_name,
        device_type=spec.device_type,
        vf_range=f"{first}-{last}",
        policy_name=policy.name,
        mtu=spec.mtu,
        is_rdma=spec.is_rdma,
        vdpa_type=spec.vdpa_type,
    )
    return Interface.model_construct(
        pci_address=iface.pci_address,
        num_vfs=policy.num_vfs,
        mtu=spec.mtu,
        name=iface.name,
        link_type=spec.link_type,
        e_switch_mode=spec.e_switch_mode,
        vf_groups=[group],
        externally_managed=spec.externally_managed,
    )


def merge_policies(
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]],
) -> dict[str, Interface]:
    """NodeState spec entries by PCI address; ``selections`` are (policy, PFs it selects) in apply order.

    A policy with ``numVfs: 0`` adds nothing (it neither creates nor removes VFs).
    Each entry's vfGroups are in VF order.
    """
    planned: dict[str, Interface] = {}
    previous_priority: int | None = None
    for policy, selected in selections:
        equal_priority = policy.priority == previous_priority
        previous_priority = policy.priority
        if policy.num_vfs == 0:
            continue
        for iface in selected:
            new = _planned(policy, iface)
            old = planned.get(iface.pci_address)
            if old is not None:
                groups = new.vf_groups or []
                incoming, incoming_range = groups[0], _vf_range(groups[0])
                kept = [
                    g
                    for g in old.vf_groups or []
                    if g.resource_name != incoming.resource_name
                    and not ranges_overlap(_vf_range(g), incoming_range)
                ]
                groups.extend(kept)
                if equal_priority or kept:
                    new.mtu = _larger(old.mtu, new.mtu)
                    new.num_vfs = max(old.num_vfs or 0, new.num_vfs or 0)
            planned[iface.pci_address] = new
    for interface in planned.values():
        interface.vf_groups = sorted(interface.vf_groups or [], key=_vf_range)
    return planned


def node_state_spec(planned: dict[str, Interface], rdma_mode: RdmaMode | None) -> dict[str, Any]:
    """SriovNetworkNodeState.spec in upstream JSON; interfaces sorted by PCI address."""
    spec = SriovNetworkNodeStateSpec.model_construct(
        interfaces=[planned[pci] for pci in sorted(planned)] or None,
        system=System.model_construct(rdma_mode=rdma_mode) if rdma_mode else None,
    )
    return spec.to_k8s()
