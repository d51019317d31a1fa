"""InfiniBand on the host: VF GUIDs read and planned, the GUID file read, and link types compared.

A VF of an InfiniBand PF gets its node and port GUID from the PF (netlink,
``ip link set <pf> vf <n> node_guid <g> port_guid <g>``: the kernel takes them only
on an InfiniBand netdev), and the VF's driver reads them when it probes the VF, so
the VF is probed again after they are set.  The GUID each VF should have comes
from `guid_pool.py` (the GUID file, or derived); discovery reads the one a VF has
from its RDMA device (``<vf>/infiniband/<dev>/node_guid``).

A port's link type itself (Ethernet or InfiniBand) is a firmware setting; a spec
that asks for another one than the port has gets a warning here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sriov_operator.api.models import Interface, InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.api.platforms import is_virtual
from sriov_operator.host.actions import Action, SetVfGuid
from sriov_operator.host.guid_pool import (
    GuidPoolError,
    GuidSource,
    IbPf,
    assign_guids,
    format_guid,
    parse_guid,
    parse_guid_file,
)
from sriov_operator.host.pci import DPDK_DRIVERS
from sriov_operator.host.root import PCI_DEVICES, HostFileError, HostRoot
from sriov_operator.host.state import HostState

log = logging.getLogger(__name__)

IB = "IB"
UNSET_GUID = format_guid(0)
IPOIB_MODULES = "mlx5_ib and ib_ipoib"


def read_vf_guid(host: HostRoot, pci: str) -> str | None:
    """The node GUID of the function's one RDMA device, as ``xx:…:xx``; None without exactly one."""
    directory = host.path(PCI_DEVICES, pci, "infiniband")
    devices = host.names(directory)
    if len(devices) != 1:
        return None
    guid = parse_guid(host.read(directory / devices[0] / "node_guid"))
    return None if guid is None else format_guid(guid)


def read_guid_source(host: HostRoot, path: str) -> GuidSource:
    """The GUID file under the host root; none there: derived GUIDs.  A bad file is kept as a problem."""
    try:
        text = host.read_state_file(host.path(path.lstrip("/")))
        return GuidSource(path) if text is None else GuidSource(path, parse_guid_file(text, path))
    except (GuidPoolError, HostFileError) as error:
        log.info("GUID file %s cannot be used: %s", path, error)
        return GuidSource(path, problem=str(error))


def is_infiniband(pf: InterfaceExt) -> bool:
    return (pf.link_type or "").upper() == IB


def link_type_warnings(desired: SriovNetworkNodeStateSpec, host: HostState) -> list[str]:
    """A spec link type the port does not have: only the firmware changes it, this layer does not."""
    found = {interface.pci_address: interface for interface in host.interfaces}
    warnings = []
    for index, interface in enumerate(desired.interfaces or []):
        wanted, pf = (interface.link_type or "").upper(), found.get(interface.pci_address)
        if not wanted or pf is None:
            continue
        where = f"spec.interfaces[{index}] ({interface.pci_address})"
        if pf.link_type is None and wanted == IB:
            warnings.append(
                f"{where}: linkType IB but the port has no network interface (an InfiniBand port has one "
                f"once {IPOIB_MODULES} are loaded): its VFs get no GUIDs"
            )
        elif pf.link_type is not None and pf.link_type.upper() != wanted:
            warnings.append(
                f"{where}: linkType {interface.link_type} but the port is {pf.link_type}; a port's link type "
                "is a firmware setting (mlx5: mstconfig LINK_TYPE_P<n>), not changed by this layer"
            )
    return warnings


def _guid_pfs(
    desired: SriovNetworkNodeStateSpec,
    found: Mapping[str, InterfaceExt],
    in_groups: Mapping[str, frozenset[int]],
) -> list[tuple[Interface, InterfaceExt, IbPf]]:
    """The spec's PFs that are InfiniBand ports (and not asked to be Ethernet), with the VFs needing GUIDs."""
    chosen = []
    for interface in desired.interfaces or []:
        pf = found.get(interface.pci_address)
        if pf is None or not is_infiniband(pf) or (interface.link_type or IB).upper() != IB:
            continue
        vf_ids = tuple(sorted(in_groups.get(interface.pci_address, frozenset())))
        chosen.append((interface, pf, IbPf(pf.pci_address, pf.mac, vf_ids)))
    return chosen


def vf_guid_actions(
    desired: SriovNetworkNodeStateSpec, host: HostState, in_groups: Mapping[str, frozenset[int]]
) -> list[Action]:
    """`SetVfGuid` for each InfiniBand VF in a group, on a kernel driver, whose GUID is not its own yet.

    ``in_groups``: PF address -> the VF ids of its groups.  GuidPoolError when the pool
    cannot give every such VF a GUID (checked before any VF exists).  Nothing on a
    virtual platform, nor when the host's GUID source is unknown (``diff``).
    """
    if host.ib_guids is None or is_virtual(host.platform):
        return []
    found = {interface.pci_address: interface for interface in host.interfaces}
    pfs = _guid_pfs(desired, found, in_groups)
    assigned = assign_guids((ib for _, _, ib in pfs), host.ib_guids)
    source = host.ib_guids.path if host.ib_guids.file is not None else "derived from the PF's port GUID"
    actions: list[Action] = []
    for interface, pf, ib in pfs:
        if (interface.num_vfs or 0) != (pf.num_vfs or 0):
            continue  # the VFs change first: their GUIDs follow in the next round
        for vf in pf.vfs or []:
            wanted = assigned.get((pf.pci_address, vf.vf_id))
            on_kernel_driver = vf.driver is not None and vf.driver not in DPDK_DRIVERS
            if wanted is None or not on_kernel_driver or vf.guid is None or vf.guid == format_guid(wanted):
                continue
            now = "unset" if vf.guid == UNSET_GUID else vf.guid
            reason = (
                f"{vf.pci_address} (VF {vf.vf_id} of {ib.pci_address}): InfiniBand GUID {now} -> "
                f"{format_guid(wanted)} ({source}); its driver probes it again to take it"
            )
            actions.append(
                SetVfGuid(vf.pci_address, pf.pci_address, vf.vf_id, format_guid(wanted), reason=reason)
            )
    return actions
