"""The SR-IOV device plugin's ``resourceList`` for one node.

Differences from upstream (each is a way upstream exposes the wrong devices):
- a policy contributes only where it still owns devices: a netFilter policy that
  matches no interface on the node, or a policy overridden by higher-priority
  policies on every PF it selected, adds nothing — upstream would emit empty
  selectors, which match every device of the node, management NIC included;
- pfNames / rootDevices entries of PFs the policy lost to a higher-priority policy
  are left out;
- policies sharing a resourceName on a node must agree on isRdma, needVhostNet and
  excludeTopology; if they do not, the resource is left out (validation reports it).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.nic_models import NicTable
from sriov_operator.engine.selection import CompiledPolicy, interface_names, pf_name_part

ResourceFlags = tuple[bool, bool, bool, str]
SELECTOR_LISTS = ("vendors", "devices", "pfNames", "rootDevices", "pciAddresses", "linkTypes")
Owned = tuple[CompiledPolicy, list[str]]  # a policy and the PCI addresses where it holds VFs


def resource_flags(policy: CompiledPolicy) -> ResourceFlags:
    """What the device plugin can hold only once per resource: (isRdma, needVhostNet, excludeTopology,
    deviceType). A resource mixing vfio-pci and netdevice VFs would hand a pod either kind."""
    spec = policy.policy.spec
    return (spec.is_rdma, spec.need_vhost_net, spec.exclude_topology, spec.device_type)


def owned_pci_addresses(
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]], holders: Mapping[str, frozenset[str]]
) -> list[Owned]:
    """Each policy (in ``selections`` order) with the PFs where it still has its VF group after the merge;
    ``holders``: PCI address → names of the policies holding VF groups there (see ``PlannedPf.holders``)."""
    return [
        (policy, sorted(iface.pci_address for iface in selected if policy.name in holders[iface.pci_address]))
        for policy, selected in selections
    ]


def _link_type(policy: CompiledPolicy) -> str | None:
    spec = policy.policy.spec
    if not spec.link_type or spec.device_type == "vfio-pci":
        return None
    return "infiniband" if spec.link_type.lower() == "ib" else "ether"


def _device_id(policy: CompiledPolicy, nics: NicTable) -> str | None:
    """The VF model of the selected PF model (a policy with numVfs 0 never gets here: it selects no PF)."""
    if not policy.device_id:
        return None
    return nics.vf_device_id(policy.vendor, policy.device_id)


class _NodeView:
    """Resolves names and PCI addresses of one node's PFs for a policy."""

    def __init__(self, interfaces: Sequence[InterfaceExt]) -> None:
        self.pci_by_name = {
            name: iface.pci_address for iface in interfaces for name in interface_names(iface)
        }
        self.name_by_pci = {iface.pci_address: iface.name for iface in interfaces}
        self.pcis = set(self.name_by_pci)

    def pf_names(self, entries: tuple[tuple[str, str], ...], owned: Sequence[str]) -> tuple[str, ...]:
        """The policy's pfNames ``entries`` (name part, rest) as the device plugin should see them here:
        PFs it lost are left out, an altName becomes the PF's name; names not on the node stay."""
        kept = []
        for name, rest in entries:
            pci = self.pci_by_name.get(name)
            if pci is None:
                kept.append(name + rest)
            elif pci in owned:
                kept.append((self.name_by_pci[pci] or name) + rest)
        return tuple(kept)

    def root_devices(self, policy: CompiledPolicy, owned: Sequence[str]) -> tuple[str, ...]:
        if not policy.root_devices:
            return ()
        return tuple(pci for pci in sorted(policy.root_devices) if pci not in self.pcis or pci in owned)


@dataclass(frozen=True)
class _Fixed:
    """What a policy adds to its resource's selectors on every node it contributes on."""

    flags: ResourceFlags
    vendors: tuple[str, ...]
    devices: tuple[str, ...]
    link_types: tuple[str, ...]
    pf_name_entries: tuple[tuple[str, str], ...]  # each pfNames entry split: (PF name, "#a-b" or "")


def _fixed(policy: CompiledPolicy, nics: NicTable) -> _Fixed:
    device, link_type = _device_id(policy, nics), _link_type(policy)
    return _Fixed(
        resource_flags(policy),
        (policy.vendor,) if policy.vendor else (),
        (device,) if device else (),
        (link_type,) if link_type else (),
        tuple((pf_name_part(entry), entry[len(pf_name_part(entry)) :]) for entry in policy.pf_names),
    )


class ResourceLists:
    """Each node's ``resourceList``; what a policy adds on every node is worked out once per policy."""

    def __init__(self, nics: NicTable, resource_prefix: str, policies: Sequence[CompiledPolicy]) -> None:
        self._resource_prefix = resource_prefix
        self._fixed = {policy.name: _fixed(policy, nics) for policy in policies}
        # entries are the same on every node where the same policies contribute the same values;
        # one dict serves them all (results are read-only)
        self._resources: dict[Hashable, dict[str, Any]] = {}
        self._groups: dict[tuple[str, ...], list[tuple[str, tuple[int, ...]]]] = {}

    def _contribution(
        self, policy: CompiledPolicy, pcis: list[str], view: _NodeView
    ) -> tuple[tuple[str, ...], ...]:
        """What the policy owning ``pcis`` adds to each of :data:`SELECTOR_LISTS` on this node."""
        fixed = self._fixed[policy.name]
        return (
            fixed.vendors,
            fixed.devices,
            view.pf_names(fixed.pf_name_entries, pcis),
            view.root_devices(policy, pcis),
            tuple(pcis) if policy.net_filter else (),
            fixed.link_types,
        )

    def _resource_groups(self, applied: Sequence[CompiledPolicy]) -> list[tuple[str, tuple[int, ...]]]:
        """(resourceName, positions of its policies in ``applied``), sorted by name; resources whose
        policies disagree on what the device plugin holds once per resource are left out."""
        key = tuple(policy.name for policy in applied)
        groups = self._groups.get(key)
        if groups is None:
            positions: dict[str, list[int]] = {}
            flags: dict[str, set[ResourceFlags]] = {}
            for position, policy in enumerate(applied):
                positions.setdefault(policy.resource_name, []).append(position)
                flags.setdefault(policy.resource_name, set()).add(self._fixed[policy.name].flags)
            groups = [(name, tuple(positions[name])) for name in sorted(positions) if len(flags[name]) == 1]
            self._groups[key] = groups
        return groups

    def _resource(
        self, resource_name: str, winner: CompiledPolicy, parts: tuple[tuple[tuple[str, ...], ...], ...]
    ) -> dict[str, Any]:
        """One ``resourceList`` entry from each contributor's part; ``winner``: the one applied last."""
        columns = [
            list(dict.fromkeys(chain.from_iterable(part[i] for part in parts)))
            for i in range(len(SELECTOR_LISTS))
        ]
        spec = winner.policy.spec
        return {
            "resourceName": resource_name,
            "resourcePrefix": self._resource_prefix,
            "excludeTopology": spec.exclude_topology,
            "selectors": {
                **{key: columns[i] for i, key in enumerate(SELECTOR_LISTS)},
                "isRdma": spec.is_rdma,
                "needVhostNet": spec.need_vhost_net,
                "vdpaType": spec.vdpa_type or "",
            },
        }

    def for_node(self, owned: Sequence[Owned], interfaces: Sequence[InterfaceExt]) -> list[dict[str, Any]]:
        """``resourceList`` entries, sorted by resourceName; ``owned`` (see :func:`owned_pci_addresses`)
        in apply order."""
        view = _NodeView(interfaces)
        resources = []
        for resource_name, positions in self._resource_groups([policy for policy, _ in owned]):
            contributors = [owned[i] for i in positions if owned[i][1]]
            if not contributors:
                continue
            parts = tuple(self._contribution(policy, pcis, view) for policy, pcis in contributors)
            key = (resource_name, tuple(policy.name for policy, _ in contributors), parts)
            resource = self._resources.get(key)
            if resource is None:
                resource = self._resource(resource_name, contributors[-1][0], parts)
                self._resources[key] = resource  # parts name a node's PCI addresses where selectors do
            resources.append(resource)
        return resources
