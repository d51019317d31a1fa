"""Policies selecting one node → that node's SriovNetworkNodeState ``spec``.

Upstream's algorithm (see docs/policy-engine.md): policies are applied from the
lowest priority (highest number) to the highest; a later policy replaces the VF
groups it collides with (same resourceName or overlapping VF range) and keeps
the others; when it kept some, or the priorities are equal, numVfs and mtu take
the larger value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass
class _Taken:
    """One PF while merging: the last policy that took it, the VF groups it keeps, numVfs and mtu."""

    policy: CompiledPolicy
    iface: InterfaceExt
    num_vfs: int
    mtu: int | None
    groups: list[tuple[VfRange, CompiledPolicy]]

    def interface(self) -> Interface:
        """The NodeState spec entry; vfGroups in VF order."""
        spec = self.policy.policy.spec
        return Interface(
            pci_address=self.iface.pci_address,
            num_vfs=self.num_vfs,
            mtu=self.mtu,
            name=self.iface.name,
            link_type=spec.link_type,
            e_switch_mode=spec.e_switch_mode,
            vf_groups=[_vf_group(owner, vf_range) for vf_range, owner in sorted(self.groups, key=_range_of)],
            externally_managed=spec.externally_managed,
        )


def _range_of(group: tuple[VfRange, CompiledPolicy]) -> VfRange:
    return group[0]


def _vf_group(policy: CompiledPolicy, vf_range: VfRange) -> VfGroup:
    spec = policy.policy.spec
    return VfGroup(
        resource_name=policy.resource_name,
        device_type=spec.device_type,
        vf_range=f"{vf_range[0]}-{vf_range[1]}",
        policy_name=policy.name,
        mtu=spec.mtu,
        is_rdma=spec.is_rdma,
        vdpa_type=spec.vdpa_type,
        need_vhost_net=spec.need_vhost_net,
    )


def merge_policies(
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]],
) -> dict[str, Interface]:
    """NodeState spec entries by PCI address; ``selections`` are (policy, PFs it selects) in apply order.

    A policy with ``numVfs: 0`` adds nothing (it neither creates nor removes VFs).
    """
    taken: dict[str, _Taken] = {}
    previous_priority: int | None = None
    for policy, selected in selections:
        equal_priority = policy.priority == previous_priority
        previous_priority = policy.priority
        if policy.num_vfs == 0:
            continue
        for iface in selected:
            vf_range = policy.vf_range_for(iface)
            new = _Taken(policy, iface, policy.num_vfs, policy.policy.spec.mtu, [(vf_range, policy)])
            old = taken.get(iface.pci_address)
            if old is not None:
                kept = [
                    (kept_range, owner)
                    for kept_range, owner in old.groups
                    if owner.resource_name != policy.resource_name
                    and not ranges_overlap(kept_range, vf_range)
                ]
                new.groups.extend(kept)
                if equal_priority or kept:
                    new.mtu = _larger(old.mtu, new.mtu)
                    new.num_vfs = max(old.num_vfs, new.num_vfs)
            taken[iface.pci_address] = new
    return {pci: entry.interface() for pci, entry in taken.items()}


def node_state_spec(planned: dict[str, Interface], rdma_mode: RdmaMode | None) -> dict[str, Any]:
    """SriovNetworkNodeState.spec in upstream JSON; interfaces sorted by PCI address."""
    spec = SriovNetworkNodeStateSpec.model_construct(
        interfaces=[planned[pci] for pci in sorted(planned)] or None,
        system=System.model_construct(rdma_mode=rdma_mode) if rdma_mode else None,
    )
    return spec.to_k8s()
