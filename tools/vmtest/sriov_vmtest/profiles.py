"""The test machines: an OpenStack VM with three Neutron ports, and a bare-metal host with an igb PF."""

from __future__ import annotations

from pathlib import Path

from sriov_vmtest.machine import METADATA_ADDRESS, GuestForward, MachineSpec, Nic

# OpenStack VM: virtio ports with Neutron MACs, on q35's root bus at fixed slots
MANAGEMENT_PORT = Nic("virtio-net-pci", "fa:16:3e:10:20:30", slot=0x10, management=True)
DPDK_PORT = Nic("virtio-net-pci", "fa:16:3e:58:0c:e2", slot=0x11)  # a vhost-user port on the hypervisor
OTHER_PORT = Nic("virtio-net-pci", "fa:16:3e:c4:9a:77", slot=0x12)
OPENSTACK_PORTS = (MANAGEMENT_PORT, DPDK_PORT, OTHER_PORT)

# bare metal: QEMU's igb (Intel 82576, SR-IOV) behind a PCIe root port in slot 0x10
IGB_PF = Nic("igb", "52:54:00:12:34:56", slot=0x10)
IGB_PF_ADDRESS = "0000:01:00.0"
BAREMETAL_MANAGEMENT_PORT = Nic("virtio-net-pci", "52:54:00:12:34:57", slot=0x11, management=True)
PROFILES = ("openstack", "baremetal")


def pci_address(nic: Nic) -> str:
    """Where a NIC on the root bus shows up in the guest."""
    return f"0000:00:{nic.slot:02x}.0"


def openstack_vm(
    config_drive: Path | None,
    metadata_socket: Path | None,
    forwards: tuple[GuestForward, ...] = (),
    name: str = "openstack-vm",
) -> MachineSpec:
    """``metadata_socket``: where Nova's metadata service (169.254.169.254:80) is relayed to, if anywhere."""
    metadata = (GuestForward(METADATA_ADDRESS, 80, metadata_socket),) if metadata_socket else ()
    return MachineSpec(
        name=name,
        nics=OPENSTACK_PORTS,
        config_drive=config_drive,
        forwards=metadata + forwards,
        smbios_vendor="OpenStack Foundation",  # DMI says OpenStack: discovery picks the platform from it
        smbios_product="OpenStack Nova",
    )


def baremetal_host(viommu: bool, *, reboots: bool = False, kernel_args: tuple[str, ...] = ()) -> MachineSpec:
    """The igb host; one that ``reboots`` keeps its disk across reboots and restarts and boots the first time
    without ``intel_iommu=on`` (the operator writes it: its tests), with ``kernel_args`` added."""
    name = "baremetal-viommu" if viommu else "baremetal-noiommu"
    return MachineSpec(
        name=name,
        nics=(IGB_PF,),
        viommu=viommu,
        reboots=reboots,
        iommu_arg=not reboots,
        kernel_args=kernel_args,
        cpu_vendor="GenuineIntel",  # an Intel host (its vIOMMU is VT-d): the planner asks for intel_iommu=on
    )


def baremetal_worker(name: str, forwards: tuple[GuestForward, ...]) -> MachineSpec:
    """The bare-metal host as a worker node: the igb PF, a management port on the user network (where
    ``forwards`` reach this host), no vIOMMU, and reboots that keep its disk, as a node's do."""
    return MachineSpec(name=name, nics=(IGB_PF, BAREMETAL_MANAGEMENT_PORT), forwards=forwards, reboots=True)
