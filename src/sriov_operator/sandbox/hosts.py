"""What each simulated worker is: its host profile and, on OpenStack, its own Nova identity (pure).

Every OpenStack worker is the ``openstack-vm`` profile (a management port, a
vhost-user port on the DPDK network, an Intel VF and an offloaded Mellanox VF)
with its own instance UUID, port IDs and MAC addresses, so that no two VMs look
alike to the operator. The networks are the DPDK and OVS-offload scenarios: the DPDK
port sits on the Neutron network the ``dpdk1`` example policy names, the
Mellanox VF on the offload network. The VMs have the Mellanox RDMA driver
(``mlx5_ib``) loaded, as the article's offload VMs do: the ``hwoffload1`` example
has ``isRdma: true``, and without it the device plugin would offer none of its VFs
(the bare ``openstack-vm`` profile lacks it, as ``simulate-host`` shows).

Bare-metal workers alternate the Intel and Mellanox bare-metal profiles.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sriov_operator.host.simulator.model import Profile

Platform = Literal["openstack", "baremetal"]
PLATFORMS: tuple[Platform, ...] = ("openstack", "baremetal")
OPENSTACK_PROFILE = "openstack-vm"
BAREMETAL_PROFILES = ("baremetal-intel", "baremetal-mellanox")
DPDK_NETWORK_ID = "55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"  # the dpdk1 example policy's netFilter
OFFLOAD_NETWORK_ID = "c0ffee00-1234-4abc-9def-0123456789ab"  # the offloaded (Mellanox VF) network
DPDK_PORT = "0000:00:04.0"  # the VM's vhost-user port
OFFLOAD_PORT = "0000:00:07.0"  # the VM's Mellanox ConnectX-6 Dx VF
RDMA_DRIVER = "mlx5_ib"  # loaded in the sandbox's VMs: the offload VF has an RDMA device (isRdma)
_MAC_PREFIX = "fa:16:3e"  # OpenStack's default base MAC


@dataclass(frozen=True)
class OpenStackIdentity:
    """One VM's Nova view: the documents its config drive or metadata service serves."""

    uuid: str
    meta_data: bytes
    network_data: bytes

    @property
    def provider_id(self) -> str:
        return f"openstack:///{self.uuid}"


@dataclass(frozen=True)
class SimulatedHost:
    """The host a worker runs on: the profile to build and, on OpenStack, its metadata."""

    profile_name: str
    profile: Profile
    openstack: OpenStackIdentity | None = None


def vm_mac(index: int, port: int) -> str:
    """A MAC no other sandbox VM (index < 65536) or port (< 256) has."""
    return f"{_MAC_PREFIX}:{index >> 8:02x}:{index & 0xFF:02x}:{port:02x}"


def openstack_vm(
    index: int,
    *,
    name: str,
    profile: Profile,
    meta_data: dict[str, Any],
    network_data: dict[str, Any],
    seed: str,
) -> SimulatedHost:
    """The ``index``-th VM of the sandbox ``seed``: ``profile`` and its documents with fresh identities."""
    instance = uuid.uuid5(uuid.NAMESPACE_URL, f"sriov-sandbox:{seed}:{name}")
    macs: dict[str, str] = {}
    devices = []
    for device in profile.devices:
        if device.netdev is None:
            devices.append(device)
            continue
        macs[device.netdev.mac] = vm_mac(index, len(macs))
        netdev = device.netdev.model_copy(update={"mac": macs[device.netdev.mac]})
        devices.append(device.model_copy(update={"netdev": netdev}))
    meta = {
        **meta_data,
        "uuid": str(instance),
        "name": name,
        "hostname": f"{name}.novalocal",
        "devices": [{**d, "mac": macs.get(d.get("mac", ""), d.get("mac"))} for d in meta_data["devices"]],
    }
    links = [
        {
            **link,
            "vif_id": str(uuid.uuid5(instance, link["id"])),
            "ethernet_mac_address": macs.get(link["ethernet_mac_address"], link["ethernet_mac_address"]),
        }
        for link in network_data["links"]
    ]
    network = {**network_data, "links": links}
    return SimulatedHost(
        OPENSTACK_PROFILE,
        profile.model_copy(update={"devices": devices, "modules": [*profile.modules, RDMA_DRIVER]}),
        OpenStackIdentity(str(instance), _json(meta), _json(network)),
    )


def _json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2).encode()
