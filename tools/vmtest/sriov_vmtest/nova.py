"""Nova's metadata for the OpenStack VM machine: what its config drive and metadata service serve.

The documents are the two the config daemon reads (``meta_data.json``,
``network_data.json`` under ``openstack/2018-08-27/``), keyed by the
machine's Neutron MACs, so discovery gives each port its network's
``openstack/NetworkID:`` netFilter.
"""

from __future__ import annotations

from collections.abc import Mapping

from sriov_vmtest.machine import Nic
from sriov_vmtest.profiles import DPDK_PORT, MANAGEMENT_PORT, OTHER_PORT

METADATA_DIR = "openstack/2018-08-27"
INSTANCE_UUID = "5d1f0c3e-0000-4000-8000-00000000cafe"
NETWORK_OF: Mapping[Nic, str] = {
    MANAGEMENT_PORT: "9e2c4a1b-7d3f-4e8a-b5c6-0f1d2e3a4b5c",
    DPDK_PORT: "55a54d05-9ec1-4051-8adb-1b5a7be4f1b6",  # the seed's dpdk1 policy selects this network
    OTHER_PORT: "c0ffee00-1234-4abc-9def-0123456789ab",
}
LINK_TYPE = {MANAGEMENT_PORT: "ovs", DPDK_PORT: "vhostuser", OTHER_PORT: "ovs"}


def nova_documents(
    instance_uuid: str = INSTANCE_UUID, claimed_addresses: Mapping[Nic, str] | None = None
) -> dict[str, object]:
    """Path under the metadata root -> JSON body.

    ``claimed_addresses``: ports Nova's device list puts at a PCI address (which
    can be wrong on q35; discovery must trust the MAC, not the address).
    """
    ports = tuple(NETWORK_OF)
    links = [
        {"id": f"tap{index}", "type": LINK_TYPE[nic], "mtu": 1500, "ethernet_mac_address": nic.mac}
        for index, nic in enumerate(ports)
    ]
    networks = [
        {"id": f"network{index}", "type": "ipv4_dhcp", "link": f"tap{index}", "network_id": NETWORK_OF[nic]}
        for index, nic in enumerate(ports)
    ]
    devices = [
        {"type": "nic", "bus": "pci", "address": address, "mac": nic.mac, "tags": []}
        for nic, address in (claimed_addresses or {}).items()
    ]
    return {
        f"{METADATA_DIR}/meta_data.json": {"uuid": instance_uuid, "devices": devices},
        f"{METADATA_DIR}/network_data.json": {"links": links, "networks": networks, "services": []},
    }


def provider_id(instance_uuid: str = INSTANCE_UUID) -> str:
    """The Node's ``spec.providerID`` for this instance, as OpenStack's cloud provider sets it."""
    return f"openstack:///{instance_uuid}"
