"""Policies selecting one node → that node's SriovNetworkNodeState ``spec``.

Upstream's algorithm (see docs/policy-engine.md): policies are applied from the
lowest priority (highest number) to the highest; a later policy replaces the VF
groups it collides with (same resourceName or overlapping VF range) and keeps
the others; when it kept some, or the priorities are equal, numVfs and mtu take
the larger value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.selection import CompiledPolicy, VfRange


@dataclass(frozen=True)
class PlannedVfGroup:
    resource_name: str
    device_type: str
    vf_range: VfRange
    policy_name: str
    mtu: int | None
    is_rdma: bool
    vdpa_type: str | None

    def overlaps(self, other: PlannedVfGroup) -> bool:
        return ranges_overlap(self.vf_range, other.vf_range)

    def to_k8s(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "resourceName": self.resource_name,
            "deviceType": self.device_type,
            "vfRange": f"{self.vf_range[0]}-{self.vf_range[1]}",
            "policyName": self.policy_name,
        }
        if self.mtu:
            data["mtu"] = self.mtu
        if self.is_rdma:
            data["isRdma"] = True
        if self.vdpa_type:
            data["vdpaType"] = self.vdpa_type
        return data


@dataclass
class PlannedInterface:
    pci_address: str
    name: str | None
    num_vfs: int
    mtu: int | None
    link_type: str | None
    e_switch_mode: str | None
    externally_managed: bool
    vf_groups: list[PlannedVfGroup] = field(default_factory=list)

    def to_k8s(self) -> dict[str, Any]:
        """Upstream JSON (field names and omitempty as SriovNetworkNodeState.spec.interfaces[])."""
        data: dict[str, Any] = {"pciAddress": self.pci_address}
        optional: dict[str, Any] = {
            "numVfs": self.num_vfs,
            "mtu": self.mtu,
            "name": self.name,
            "linkType": self.link_type,
            "eSwitchMode": self.e_switch_mode,
            "vfGroups": [g.to_k8s() for g in sorted(self.vf_groups, key=lambda g: g.vf_range)],
            "externallyManaged": self.externally_managed,
        }
        data.update((key, value) for key, value in optional.items() if value)
        return data


def ranges_overlap(a: VfRange, b: VfRange) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _larger(a: int | None, b: int | None) -> int | None:
    return max(a or 0, b or 0) or None


def _planned(policy: CompiledPolicy, iface: InterfaceExt) -> PlannedInterface:
    spec = policy.policy.spec
    group = PlannedVfGroup(
        resource_name=policy.resource_name,
        device_type=spec.device_type,
        vf_range=policy.vf_range_for(iface),
        policy_name=policy.name,
        mtu=spec.mtu,
        is_rdma=spec.is_rdma,
        vdpa_type=spec.vdpa_type,
    )
    return PlannedInterface(
        pci_address=iface.pci_address,
        name=iface.name,
        num_vfs=policy.num_vfs,
        mtu=spec.mtu,
        link_type=spec.link_type,
        e_switch_mode=spec.e_switch_mode,
        externally_managed=spec.externally_managed,
        vf_groups=[group],
    )


def merge_policies(
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]],
) -> dict[str, PlannedInterface]:
    """Planned PFs by PCI address; ``selections`` are (policy, PFs it selects) in apply order.

    A policy with ``numVfs: 0`` adds nothing (it neither creates nor removes VFs).
    """
    planned: dict[str, PlannedInterface] = {}
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
                incoming = new.vf_groups[0]
                kept = [
                    g
                    for g in old.vf_groups
                    if g.resource_name != incoming.resource_name and not g.overlaps(incoming)
                ]
                new.vf_groups.extend(kept)
                if equal_priority or kept:
                    new.mtu = _larger(old.mtu, new.mtu)
                    new.num_vfs = max(old.num_vfs, new.num_vfs)
            planned[iface.pci_address] = new
    return planned


def node_state_spec(planned: dict[str, PlannedInterface], rdma_mode: str | None) -> dict[str, Any]:
    """SriovNetworkNodeState.spec in upstream JSON; interfaces sorted by PCI address."""
    spec: dict[str, Any] = {}
    if planned:
        spec["interfaces"] = [planned[pci].to_k8s() for pci in sorted(planned)]
    if rdma_mode:
        spec["system"] = {"rdmaMode": rdma_mode}
    return spec
