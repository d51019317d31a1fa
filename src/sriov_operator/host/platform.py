"""Bare metal or an OpenStack VM: from the Node's providerID, the host's DMI data, or forced."""

from __future__ import annotations

from typing import Literal

from sriov_operator.host.root import DMI_ID, HostRoot

Platform = Literal["baremetal", "openstack"]
PlatformChoice = Literal["auto", "baremetal", "openstack"]
PLATFORM_CHOICES: tuple[PlatformChoice, ...] = ("auto", "baremetal", "openstack")


def platform_from_provider_id(provider_id: str) -> Platform:
    """``openstack:///<uuid>`` -> openstack; anything else is treated as bare metal."""
    return "openstack" if "openstack" in provider_id.lower() else "baremetal"


def detect_platform(
    host: HostRoot, choice: PlatformChoice = "auto", provider_id: str | None = None
) -> Platform:
    if choice != "auto":
        return choice
    if provider_id:
        return platform_from_provider_id(provider_id)
    dmi = " ".join(host.read(host.path(DMI_ID, name)) or "" for name in ("sys_vendor", "product_name"))
    return "openstack" if "openstack" in dmi.lower() else "baremetal"
