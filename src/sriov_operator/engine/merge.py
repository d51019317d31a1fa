"""Policies selecting one node → that node's SriovNetworkNodeState ``spec``.

Upstream's algorithm (see docs/policy-engine.md): policies are applied from the
lowest priority (highest number) to the highest; a later policy replaces the VF
groups it collides with (same resourceName or overlapping VF range) and keeps
the others; when it kept some, or the priorities are equal, numVfs and mtu take
the larger value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.models import InterfaceExt, RdmaMode
from sriov_operator.engine.selection import CompiledPolicy, VfRange


def ranges_overlap(a: VfRange, b: VfRange) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _larger(a: int | None, b: int | None) -> int | None:
    return max(a or 0, b or 0) or None


def _present(pairs: dict[str, Any]) -> dict[str, Any]:
    """The API's omitempty (see api/base.py): every optional field here has an empty default."""
    return {key: value for key, value in pairs.items() if value}


@dataclass
class PlannedPf:
    """One PF while merging: the last policy that took it, the VF groups it keeps, numVfs and mtu."""

    policy: CompiledPolicy
    iface: InterfaceExt
    num_vfs: int
    mtu: int | None
    groups: list[tuple[VfRange, CompiledPolicy]]

    @property
    def holders(self) -> frozenset[str]:
        """Names of the policies holding a VF group on the PF."""
        return frozenset(owner.name for _, owner in self.groups)

    def to_k8s(self) -> dict[str, Any]:
        """The NodeState spec entry in upstream JSON (an ``Interface``); vfGroups in VF order.

        Written as plain JSON, not through the model, because it runs for every PF of every node.
        """
        spec = self.policy.policy.spec
        return _present(
            {
                "pciAddress": self.iface.pci_address,
                "numVfs": self.num_vfs,
                "mtu": self.mtu,
                "name": self.iface.name,
                "linkType": spec.link_type,
                "eSwitchMode": spec.e_switch_mode,
                "vfGroups": [
                    _vf_group(owner, vf_range) for vf_range, owner in sorted(self.groups, key=_range_of)
                ],
                "externallyManaged": spec.externally_managed,
            }
        )


def _range_of(group: tuple[VfRange, CompiledPolicy]) -> VfRange:
    return group[0]


def _vf_group(policy: CompiledPolicy, vf_range: VfRange) -> dict[str, Any]:
    spec = policy.policy.spec
    return _present(
        {
            "resourceName": policy.resource_name,
            "deviceType": spec.device_type,
            "vfRange": f"{vf_range[0]}-{vf_range[1]}",
            "policyName": policy.name,
            "mtu": spec.mtu,
            "isRdma": spec.is_rdma,
            "vdpaType": spec.vdpa_type,
            "needVhostNet": spec.need_vhost_net,
        }
    )


Applier = tuple[CompiledPolicy, bool]  # a policy, and whether its priority equals the one applied before it


def appliers_by_pf(
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]],
) -> dict[str, tuple[InterfaceExt, list[Applier]]]:
    """Each selected PF by PCI address, with the policies applied to it in order.

    ``selections`` are (policy, PFs it selects) in apply order.  A policy's priority is compared with
    the policy applied just before it on the node, whichever PFs that one took.  A policy with
    ``numVfs: 0`` adds nothing (it neither creates nor removes VFs).
    """
    appliers: dict[str, tuple[InterfaceExt, list[Applier]]] = {}
    previous_priority: int | None = None
    for policy, selected in selections:
        equal_priority = policy.priority == previous_priority
        previous_priority = policy.priority
        if policy.num_vfs == 0:
            continue
        for iface in selected:
            appliers.setdefault(iface.pci_address, (iface, []))[1].append((policy, equal_priority))
    return appliers


def merge_on_pf(iface: InterfaceExt, appliers: Sequence[Applier]) -> PlannedPf:
    """The plan of one PF after applying ``appliers`` (at least one) in order."""
    taken: PlannedPf | None = None
    for policy, equal_priority in appliers:
        vf_range = policy.vf_range_for(iface)
        new = PlannedPf(policy, iface, policy.num_vfs, policy.policy.spec.mtu, [(vf_range, policy)])
        if taken is not None:
            kept = [
                (kept_range, owner)
                for kept_range, owner in taken.groups
                if owner.resource_name != policy.resource_name and not ranges_overlap(kept_range, vf_range)
            ]
            new.groups.extend(kept)
            if equal_priority or kept:
                new.mtu = _larger(taken.mtu, new.mtu)
                new.num_vfs = max(taken.num_vfs, new.num_vfs)
        taken = new
    assert taken is not None, "a PF is planned only when some policy was applied to it"
    return taken


def node_state_spec(
    interfaces: Mapping[str, dict[str, Any]],
    rdma_mode: RdmaMode | None,
    ovs_bridges: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """SriovNetworkNodeState.spec in upstream JSON from the PFs' entries (see :meth:`PlannedPf.to_k8s`)
    by PCI address; interfaces sorted by PCI address; ``ovs_bridges`` from `engine.bridges`."""
    return _present(
        {
            "interfaces": [interfaces[pci] for pci in sorted(interfaces)],
            "bridges": {"ovs": list(ovs_bridges)} if ovs_bridges else None,
            "system": {"rdmaMode": rdma_mode} if rdma_mode else None,
        }
    )
