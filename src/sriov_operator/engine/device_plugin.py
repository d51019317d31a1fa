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

from collections.abc import Iterable, Sequence
from typing import Any

from sriov_operator.api.models import Interface, InterfaceExt
from sriov_operator.engine.nic_models import NicTable
from sriov_operator.engine.selection import CompiledPolicy, interface_names, pf_name_part

ResourceFlags = tuple[bool, bool, bool, str]


def resource_flags(policy: CompiledPolicy) -> ResourceFlags:
    """What the device plugin can hold only once per resource: (isRdma, needVhostNet, excludeTopology,
    deviceType). A resource mixing vfio-pci and netdevice VFs would hand a pod either kind."""
    spec = policy.policy.spec
    return (spec.is_rdma, spec.need_vhost_net, spec.exclude_topology, spec.device_type)


def owned_pci_addresses(
    policy: CompiledPolicy, selected: Sequence[InterfaceExt], planned: dict[str, Interface]
) -> list[str]:
    """PFs where the policy still has its VF group after the merge."""
    return sorted(
        iface.pci_address
        for iface in selected
        if any(g.policy_name == policy.name for g in planned[iface.pci_address].vf_groups or [])
    )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


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
    selections: Sequence[tuple[CompiledPolicy, Sequence[InterfaceExt]]],
    planned: dict[str, Interface],
    interfaces: Sequence[InterfaceExt],
    nics: NicTable,
    resource_prefix: str,
) -> list[dict[str, Any]]:
    """``resourceList`` entries, sorted by resourceName; ``selections`` in apply order."""
    view = _NodeView(interfaces)
    by_resource: dict[str, list[tuple[CompiledPolicy, list[str]]]] = {}
    flags: dict[str, set[ResourceFlags]] = {}
    for policy, selected in selections:
        flags.setdefault(policy.resource_name, set()).add(resource_flags(policy))
        owned = owned_pci_addresses(policy, selected, planned)
        if owned:
            by_resource.setdefault(policy.resource_name, []).append((policy, owned))
    resources = []
    for resource_name in sorted(by_resource):
        if len(flags[resource_name]) > 1:
            continue
        contributors = by_resource[resource_name]
        winner = contributors[-1][0].policy.spec  # highest priority: applied last
        selectors: dict[str, Any] = {
            "vendors": _unique(p.vendor for p, _ in contributors if p.vendor),
            "devices": _unique(d for p, _ in contributors if (d := _device_id(p, nics))),
            "pfNames": _unique(e for p, owned in contributors for e in view.pf_names(p, set(owned))),
            "rootDevices": _unique(r for p, owned in contributors for r in view.root_devices(p, set(owned))),
            "pciAddresses": _unique(pci for p, owned in contributors if p.net_filter for pci in owned),
            "linkTypes": _unique(t for p, _ in contributors if (t := _link_type(p))),
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
