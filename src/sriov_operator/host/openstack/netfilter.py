"""Map each host PCI network function to its Neutron network (``openstack/NetworkID:<uuid>``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sriov_operator.api.constants import OPENSTACK_NETFILTER_PREFIX
from sriov_operator.host.openstack.metadata import OpenStackMetadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    mac: str
    net_filter: str | None


def _network_filter_by_mac(metadata: OpenStackMetadata) -> dict[str, str | None]:
    links = {link.id: link.ethernet_mac_address.lower() for link in metadata.network_data.links}
    filters: dict[str, str | None] = dict.fromkeys(links.values())
    for network in metadata.network_data.networks:
        mac = links.get(network.link)
        if mac is not None and network.network_id:
            filters[mac] = OPENSTACK_NETFILTER_PREFIX + network.network_id
    return filters


def _confirmed_address(
    nova_address: str, same_mac: list[str], host_nics: Mapping[str, str | None]
) -> str | None:
    """The host PCI address of a Nova device: the one port with its MAC, else Nova's address if
    that port has no MAC of its own to contradict it; None when nothing confirms it."""
    if len(same_mac) == 1:
        return same_mac[0]
    if not same_mac and nova_address in host_nics and host_nics[nova_address] is None:
        return nova_address
    return None


def build_device_info(
    metadata: OpenStackMetadata,
    host_nics: Mapping[str, str | None],
    previous: Mapping[str, DeviceInfo],
) -> dict[str, DeviceInfo]:
    """PCI address -> {mac, netFilter}.

    ``host_nics`` is every host PCI network function with the MAC of its netdev
    (None when it has none, e.g. bound to vfio-pci).  Pass 1 takes Nova's
    ``devices`` and corrects their PCI address by MAC (Nova's can be wrong on q35),
    keeping Nova's address only where no port with another MAC sits;
    pass 2 adds the host NICs Nova does not list (virtio, vhost-user); a NIC with
    no netdev keeps what ``previous`` knew about it.
    """
    filters = _network_filter_by_mac(metadata)
    pci_by_mac: dict[str, list[str]] = {}
    for pci, mac in host_nics.items():
        if mac:
            pci_by_mac.setdefault(mac.lower(), []).append(pci)

    info: dict[str, DeviceInfo] = {}
    for device in metadata.meta_data.devices:
        if device.type != "nic" or device.bus != "pci" or not device.mac:
            continue
        mac = device.mac.lower()
        address = _confirmed_address(device.address, pci_by_mac.get(mac, []), host_nics)
        if address is None:
            log.warning("Nova device %s at %r: no host port confirms it; ignored", mac, device.address[:40])
            continue
        info[address] = DeviceInfo(mac, filters.get(mac))
    for pci, host_mac in host_nics.items():
        if pci in info:
            continue
        if host_mac and host_mac.lower() in filters:
            info[pci] = DeviceInfo(host_mac.lower(), filters[host_mac.lower()])
        elif not host_mac and pci in previous:
            info[pci] = previous[pci]
    return info
