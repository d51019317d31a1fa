"""Bare metal or an OpenStack VM: forced, else the Node's providerID (`api.platforms`), else DMI data."""

from __future__ import annotations

from typing import Literal

from sriov_operator.api.platforms import Platform, platform_from_provider_id
from sriov_operator.host.root import DMI_ID, HostRoot

PlatformChoice = Literal["auto", "baremetal", "openstack"]
PLATFORM_CHOICES: tuple[PlatformChoice, ...] = ("auto", "baremetal", "openstack")
__all__ = ["PLATFORM_CHOICES", "Platform", "PlatformChoice", "detect_platform"]


def detect_platform(
    host: HostRoot, choice: PlatformChoice = "auto", provider_id: str | None = None
) -> Platform:
    if choice != "auto":
        return choice
    if provider_id:
        return platform_from_provider_id(provider_id)
    dmi = " ".join(host.read(host.path(DMI_ID, name)) or "" for name in ("sys_vendor", "product_name"))
    return "openstack" if "openstack" in dmi.lower() else "baremetal"
