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

from collections.abc import Mapping, Sequence
from typing import Any

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.nic_models import NicTable
from sriov_operator.engine.selection import CompiledPolicy, interface_names, pf_name_part

ResourceFlags = tuple[bool, bool, bool]
Owned = tuple[CompiledPolicy, list[str]]  # a policy and the PCI addresses where it holds VFs


def resource_flags(policy: CompiledPolicy) -> ResourceFlags:
    """What the device plugin can hold only once per resource: (isRdma, needVhostNet, excludeTopology)."""
    spec = policy.policy.spec
    return (spec.is_rdma, spec.need_vhost_net, spec.exclude_topology)


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

    def pf_names(self, policy: CompiledPolicy, owned: set[str]) -> list[str]:
        entries = []
        for entry in policy.pf_names:
            name = pf_name_part(entry)
            pci = self.pci_by_name.get(name)
            if pci is None:
                entries.append(entry)
            elif pci in owned:
                real_name = self.name_by_pci[pci] or name
                entries.append(real_name + entry[len(name) :])
        return entries

    def root_devices(self, policy: CompiledPolicy, owned: set[str]) -> list[str]:
        return [pci for pci in sorted(policy.root_devices) if pci not in self.pcis or pci in owned]


def device_plugin_resources(
    owned: Sequence[Owned], interfaces: Sequence[InterfaceExt], nics: NicTable, resource_prefix: str
) -> list[dict[str, Any]]:
    """``resourceList`` entries, sorted by resourceName; ``owned`` (see :func:`owned_pci_addresses`) in
    apply order."""
    view = _NodeView(interfaces)
    by_resource: dict[str, list[Owned]] = {}
    flags: dict[str, set[ResourceFlags]] = {}
    for policy, pcis in owned:
        flags.setdefault(policy.resource_name, set()).add(resource_flags(policy))
        if pcis:
            by_resource.setdefault(policy.resource_name, []).append((policy, pcis))
    resources = []
    for resource_name in sorted(by_resource):
        if len(flags[resource_name]) > 1:
            continue
        contributors = by_resource[resource_name]
        # ordered sets: the first contributor's values first
        vendors: dict[str, None] = {}
        devices: dict[str, None] = {}
        pf_names: dict[str, None] = {}
        root_devices: dict[str, None] = {}
        addresses: dict[str, None] = {}
        link_types: dict[str, None] = {}
        for policy, pcis in contributors:
            held = set(pcis)
            if policy.vendor:
                vendors[policy.vendor] = None
            if device := _device_id(policy, nics):
                devices[device] = None
            pf_names.update(dict.fromkeys(view.pf_names(policy, held)))
            root_devices.update(dict.fromkeys(view.root_devices(policy, held)))
            if policy.net_filter:
                addresses.update(dict.fromkeys(pcis))
            if link_type := _link_type(policy):
                link_types[link_type] = None
        winner = contributors[-1][0].policy.spec  # highest priority: applied last
        selectors: dict[str, Any] = {
            "vendors": list(vendors),
            "devices": list(devices),
            "pfNames": list(pf_names),
            "rootDevices": list(root_devices),
            "pciAddresses": list(addresses),
            "linkTypes": list(link_types),
            "isRdma": winner.is_rdma,
            "needVhostNet": winner.need_vhost_net,
            "vdpaType": winner.vdpa_type or "",
        }
        resources.append(
            {
                "resourceName": resource_name,
                "resourcePrefix": resource_prefix,
                "excludeTopology": winner.exclude_topology,
                "selectors": selectors,
            }
        )
    return resources
