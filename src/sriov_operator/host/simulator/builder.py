"""Create a simulated host tree from a profile (the shipped ones, or one built in code)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from sriov_operator.host.bootconfig import CPUINFO, PROC_CMDLINE
from sriov_operator.host.mellanox import LOCKDOWN
from sriov_operator.host.openstack.configdrive import BY_LABEL_LINK
from sriov_operator.host.openstack.metadata import META_DATA_FILE, METADATA_VERSIONS, NETWORK_DATA_FILE
from sriov_operator.host.root import CLASS_BLOCK, DMI_ID, MODULES, PCI_DRIVERS_PROBE
from sriov_operator.host.simulator.boot_loader import write_boot_config
from sriov_operator.host.simulator.config_drive_image import write_config_drive_image
from sriov_operator.host.simulator.kernel import SimulatedKernel, relative_symlink, write_value
from sriov_operator.host.simulator.model import KernelState, Profile
from sriov_operator.host.simulator.ovs import install_ovs

CONFIG_DRIVE_DEVICE = "dev/sr0"
_PROFILES = resources.files("sriov_operator.host.simulator") / "profiles"


def profile_names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in _PROFILES.iterdir() if p.name.endswith(".json"))


def profile_file(relative: str) -> bytes:
    """A file shipped with the profiles (e.g. the OpenStack VM's metadata)."""
    return (_PROFILES / relative).read_bytes()


def load_profile(name: str) -> Profile:
    if name not in profile_names():
        raise ValueError(f"unknown simulator profile {name!r}; choose one of: {', '.join(profile_names())}")
    return Profile.model_validate(json.loads(profile_file(f"{name}.json")))


def config_drive_files(profile: Profile) -> dict[str, bytes]:
    """The profile's metadata documents as the config drive holds them (empty without a config drive)."""
    if profile.config_drive is None:
        return {}
    return metadata_files(
        profile_file(profile.config_drive.meta_data), profile_file(profile.config_drive.network_data)
    )


def metadata_files(meta_data: bytes, network_data: bytes) -> dict[str, bytes]:
    """``openstack/{version}/…`` paths (as on a config drive) to the two documents."""
    return {
        f"openstack/{version}/{name}": content
        for version in METADATA_VERSIONS
        for name, content in ((META_DATA_FILE, meta_data), (NETWORK_DATA_FILE, network_data))
    }


def create_host(profile: Profile, out: Path, config_drive: Mapping[str, bytes] | None = None) -> None:
    """Write a new simulated host under ``out`` (which must be missing or empty).

    ``config_drive``: the files of its config drive (default: the profile's; empty: no config drive).
    """
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out}: exists and is not empty; the simulator needs a new directory")
    booted = profile.cmdline.split()
    kernel = SimulatedKernel(
        out,
        KernelState(
            iommu=profile.iommu and (profile.iommu_needs_arg is None or profile.iommu_needs_arg in booted),
            iommu_present=profile.iommu,
            iommu_needs_arg=profile.iommu_needs_arg,
            vfio_noiommu=profile.vfio_noiommu,
            compat_devlink_mode=profile.compat_devlink_mode,
            available_modules=profile.modules,
            boot_modules=profile.modules,
            firmware=[card.model_copy(deep=True) for card in profile.firmware],
        ),
    )
    for name, value in profile.dmi.items():
        write_value(out / DMI_ID / name, value)
    for module in profile.modules:
        (out / MODULES / module).mkdir(parents=True, exist_ok=True)
    drivers = {d.driver for d in profile.devices} | {d.sriov.vf_driver for d in profile.devices if d.sriov}
    for driver in sorted(d for d in drivers if d):
        for attribute in ("bind", "unbind"):
            write_value(kernel.driver_dir(driver) / attribute, "")
    write_value(out / PCI_DRIVERS_PROBE, "")
    write_value(out / PROC_CMDLINE, profile.cmdline)
    if profile.openvswitch:
        install_ovs(out)
    kernel.set_ib_core_mode()
    if profile.lockdown is not None:
        modes = ("none", "integrity", "confidentiality")
        write_value(out / LOCKDOWN, " ".join(f"[{m}]" if m == profile.lockdown else m for m in modes))
    write_value(out / CPUINFO, f"processor\t: 0\nvendor_id\t: {profile.cpu_vendor}")
    if profile.boot_loader is not None:
        write_boot_config(
            out, kernel.state, profile.boot_loader, [a for a in booted if not a.startswith("BOOT_IMAGE=")]
        )
    kernel.new_boot_id()
    for device in profile.devices:
        kernel.add_device(device)
    for card in kernel.state.firmware:
        kernel.offer_vfs(card)
    files = config_drive_files(profile) if config_drive is None else config_drive
    if files:
        write_config_drive_image(files, out / CONFIG_DRIVE_DEVICE)
        (out / CLASS_BLOCK / Path(CONFIG_DRIVE_DEVICE).name).mkdir(parents=True)
        relative_symlink(out / BY_LABEL_LINK, out / CONFIG_DRIVE_DEVICE)
    kernel.save()
