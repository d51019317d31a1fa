"""Read the host into ``SriovNetworkNodeState.status.interfaces``.

Bare metal: every SR-IOV capable PCI network function is a PF with its VFs.
Virtual platforms (OpenStack): every PCI network function that is a Neutron port
is reported (with or without a driver) as a "PF" with one VF, itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sriov_operator.api.models import InterfaceExt, VirtualFunction
from sriov_operator.api.platforms import is_virtual
from sriov_operator.host.devlink import EswitchControl
from sriov_operator.host.infiniband import read_vf_guid
from sriov_operator.host.openstack.netfilter import DeviceInfo
from sriov_operator.host.openstack.ports import (
    MetadataSettings,
    MetadataSource,
    PortCheckpoint,
    resolve_ports,
)
from sriov_operator.host.pci import PciFunction, is_pci_address, network_functions, read_pci_function
from sriov_operator.host.platform import Platform
from sriov_operator.host.root import HostRoot
from sriov_operator.host.state import DeviceRecord, read_configured
from sriov_operator.host.vdpa import read_vdpa_type, vdpa_name


@dataclass(frozen=True)
class Discovery:
    platform: Platform
    metadata_source: MetadataSource
    interfaces: list[InterfaceExt]
    ports: PortCheckpoint | None  # OpenStack only; the caller persists it (save_checkpoint)

    def to_output(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "metadataSource": self.metadata_source,
            "interfaces": [interface.to_k8s() for interface in self.interfaces],
        }


def _virtual_function(function: PciFunction, vf_id: int) -> VirtualFunction:
    netdev = function.netdev
    return VirtualFunction(
        name=netdev.name if netdev else None,
        mac=netdev.mac if netdev else None,
        driver=function.driver,
        pci_address=function.address,
        vendor=function.vendor,
        device_id=function.device_id,
        mtu=netdev.mtu if netdev else None,
        vf_id=vf_id,
    )


def _interface(function: PciFunction, **extra: object) -> InterfaceExt:
    netdev = function.netdev
    return InterfaceExt.model_validate(
        {
            "name": netdev.name if netdev else None,
            "mac": netdev.mac if netdev else None,
            "driver": function.driver,
            "pci_address": function.address,
            "vendor": function.vendor,
            "device_id": function.device_id,
            "mtu": netdev.mtu if netdev else None,
            "link_speed": f"{netdev.speed_mbps} Mb/s" if netdev and netdev.speed_mbps else None,
            "link_type": netdev.link_type if netdev else None,
            "link_admin_state": ("up" if netdev.admin_up else "down") if netdev else None,
            **extra,
        }
    )


def _physical_function(
    host: HostRoot, function: PciFunction, eswitch: EswitchControl | None
) -> InterfaceExt | None:
    totalvfs = host.read_int(function.path / "sriov_totalvfs")
    if totalvfs is None:
        return None
    vfs = []
    for link in host.names(function.path):
        index = link.removeprefix("virtfn")
        vf_address = host.link_name(function.path / link) if link.startswith("virtfn") else None
        if index.isdigit() and len(index) < 6 and is_pci_address(vf_address):
            vf = _virtual_function(read_pci_function(host, str(vf_address)), int(index))
            representor = function.representors.get(int(index))
            vdpa = read_vdpa_type(host, vdpa_name(vf.pci_address))
            guid = read_vf_guid(host, vf.pci_address)
            vfs.append(
                vf.model_copy(update={"representor_name": representor, "vdpa_type": vdpa, "guid": guid})
            )
    return _interface(
        function,
        num_vfs=host.read_int(function.path / "sriov_numvfs") or 0,
        totalvfs=totalvfs,
        e_switch_mode=_eswitch_mode(function, eswitch),
        vfs=sorted(vfs, key=lambda vf: vf.vf_id),
    )


def _eswitch_mode(function: PciFunction, eswitch: EswitchControl | None) -> str | None:
    """devlink's answer; the ``compat/devlink/mode`` file of out-of-tree drivers when devlink has none."""
    from_devlink = eswitch.mode(function.address) if eswitch is not None else None
    return from_devlink or (function.netdev.eswitch_mode if function.netdev else None)


def _port(function: PciFunction, info: DeviceInfo) -> InterfaceExt:
    return _interface(
        function, net_filter=info.net_filter, num_vfs=1, totalvfs=1, vfs=[_virtual_function(function, 0)]
    )


def _recorded_mac(records: Mapping[str, DeviceRecord], pci: str) -> str | None:
    """A port without a netdev (on vfio-pci) is known by the MAC we recorded before binding it."""
    record = records.get(pci)
    return record.mac if record else None


def discover(
    host: HostRoot,
    platform: Platform,
    metadata: MetadataSettings | None = None,
    eswitch: EswitchControl | None = None,
) -> Discovery:
    """Raises MetadataError on OpenStack when no metadata source answers (and no checkpoint fits)."""
    functions = network_functions(host)
    if not is_virtual(platform):
        pfs = [pf for pf in (_physical_function(host, f, eswitch) for f in functions) if pf is not None]
        return Discovery(platform, "none", pfs, None)
    records = read_configured(host)
    nics = {
        function.address: function.netdev.mac if function.netdev else _recorded_mac(records, function.address)
        for function in functions
    }
    ports = resolve_ports(host, metadata or MetadataSettings(), nics)
    interfaces = [
        _port(function, ports.devices[function.address])
        for function in functions
        if function.address in ports.devices
    ]
    return Discovery(platform, ports.source, interfaces, ports)
