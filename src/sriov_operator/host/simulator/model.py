"""Profiles (what a simulated host has) and the simulated kernel's persistent state."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _SimModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class SimNetdev(_SimModel):
    name: str
    mac: str
    mtu: int = 1500  # what the driver sets when it binds
    max_mtu: int = 9702
    speed: int | None = None  # Mb/s; None: sysfs answers with an error (virtio, link down)
    virtio: str | None = None  # ``virtioN``: the netdev sits under <dev>/virtioN/net/
    up: bool = True
    eswitch: Literal["legacy", "switchdev"] | None = None  # PFs with an eSwitch (mlx5, ice)
    eswitch_without_vfs: bool = False  # the driver changes the mode only while there are no VFs (ice)
    flow_steering_mode: Literal["dmfs", "smfs"] | None = None  # devlink param (mlx5); dmfs after a boot
    boot_name: str | None = None  # the name it had at boot, when a switchdev re-probe renamed it
    addresses: list[str] = []  # IP addresses on the link
    default_route: bool = False  # the node's default route leaves through this link
    link_type: Literal["eth", "ib"] = "eth"  # ib: an IPoIB netdev (ARPHRD_INFINIBAND), there while mlx5_ib is


class SimSriov(_SimModel):
    totalvfs: int
    numvfs: int = 0
    offset: int = 1  # first VF's routing id relative to the PF
    stride: int = 1
    vf_device: str
    vf_driver: str
    bar_vfs: int | None = (
        None  # VFs the firmware's BAR space holds; more fail with ENOMEM without pci=realloc
    )


class SimDevice(_SimModel):
    address: str
    vendor: str
    device: str
    pci_class: str = Field(default="0x020000", alias="class")
    driver: str | None  # the default driver (what drivers_probe binds)
    netdev: SimNetdev | None = None
    sriov: SimSriov | None = None
    physfn: str | None = None
    vf_index: int | None = None
    admin_mac: str | None = None  # a VF's MAC as its PF assigns it (``ip link set <pf> vf <n> mac``)
    node_guid: str | None = None  # a PF's InfiniBand GUID from the firmware (``xx:…:xx``; also its port GUID)
    admin_node_guid: str | None = None  # a VF's GUIDs as its PF assigns them (``ip link set <pf> vf <n>
    admin_port_guid: str | None = None  # node_guid|port_guid``); the VF's driver reads them when it probes it


class SimFirmwareSetting(_SimModel):
    """One mstconfig setting: factory default, what the firmware runs with, what its next load takes."""

    default: str
    current: str
    next_boot: str


class SimFirmware(_SimModel):
    """A Mellanox card's firmware settings (``simulator/firmware.py``: mstconfig, mstfwreset)."""

    ports: list[str]  # the card's PFs, port 1 first (mstconfig takes any of them)
    settings: dict[str, SimFirmwareSetting]  # SRIOV_EN True|False, NUM_OF_VFS, LINK_TYPE_P<n> ETH|IB|VPI
    max_vfs: int = 127  # the most NUM_OF_VFS the firmware accepts
    reloads_on_reboot: bool = True  # False: a warm reboot keeps the firmware running (only a reset loads it)
    fails: Literal["query", "set", "reset"] | None = None  # that mstconfig/mstfwreset command fails


class ConfigDriveFiles(_SimModel):
    """Package files served as ``openstack/{2018-08-27,latest}/`` on the simulated config drive."""

    meta_data: str
    network_data: str


class Profile(_SimModel):
    description: str
    platform: Literal["baremetal", "openstack"]
    iommu: bool
    vfio_noiommu: bool = True  # vfio built with CONFIG_VFIO_NOIOMMU (Debian's stock kernels are not)
    compat_devlink_mode: bool = False  # netdevs have compat/devlink/mode (out-of-tree mlx5 only)
    dmi: dict[str, str] = {}
    modules: list[str] = []  # modules modprobe can load (vfio and vfio_pci are always available)
    devices: list[SimDevice]
    config_drive: ConfigDriveFiles | None = None
    boot_loader: Literal["bls", "grub", "rpm-ostree"] | None = None  # the boot configuration it has
    cmdline: str = "BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro"  # what the kernel booted with
    iommu_needs_arg: str | None = None  # the IOMMU is on only with this argument (e.g. intel_iommu=on)
    cpu_vendor: str = "GenuineIntel"
    openvswitch: bool = False  # Open vSwitch runs on it (an OVSDB the daemon can reach: simulator/ovs.py)
    firmware: list[SimFirmware] = []  # Mellanox cards whose firmware mstconfig reaches
    lockdown: Literal["none", "integrity", "confidentiality"] | None = None  # None: no lockdown LSM


class KernelState(_SimModel):
    iommu: bool  # on now
    iommu_present: bool = True  # the machine has one (a reboot with iommu_needs_arg may turn it on)
    iommu_needs_arg: str | None = None
    ostree_kargs: list[str] = []  # the pending rpm-ostree deployment's arguments
    # arguments the next boots lack whatever the boot configuration says (tests: a boot loader whose default
    # entry is not the one written, as after a kernel update), what the loop guard is for
    boot_drops: list[str] = []
    other_netns: int = 0  # network namespaces besides the host's (pods): rdma netns mode is then fixed
    vfio_noiommu: bool = True
    compat_devlink_mode: bool = False
    next_iommu_group: int = 1
    nm_unmanaged: list[str] = []  # netdevs whose udev data has NM_UNMANAGED=1 (simulator/udev.py)
    vf_macs_given: int = 0  # VF netdevs probed without an admin MAC (each gets a new MAC)
    available_modules: list[str] = []
    loadable_modules: list[str] = ["tun", "vhost_net", "virtio_vdpa", "vhost_vdpa"]  # shipped, not loaded
    boot_modules: list[str] = []  # loaded at boot; others (vfio, …) are gone after a reboot
    devices: dict[str, SimDevice] = {}
    tc_offload: list[str] = []  # netdevs with hw-tc-offload on (off again when the netdev goes)
    firmware: list[SimFirmware] = []
