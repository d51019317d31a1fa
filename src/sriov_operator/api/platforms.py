"""What kind of platform a node is, from its ``spec.providerID``: one definition for engine and host.

Only OpenStack is virtual: its VMs get one PCI function per Neutron port and
need Nova's metadata to say which network each port is on.  AWS provider IDs
(``aws:///…``) count as bare metal, because nothing here reads AWS metadata;
upstream counts them as virtual.
"""

from __future__ import annotations

from typing import Literal

Platform = Literal["baremetal", "openstack"]
OPENSTACK_SCHEME = "openstack"


def platform_from_provider_id(provider_id: str) -> Platform:
    """``openstack:///<uuid>`` -> openstack; any other provider (or none) -> baremetal.

    The provider is the part before ``://`` (a name elsewhere in the ID, such as a
    bare-metal host called ``openstack-worker-0``, does not count).
    """
    scheme, separator, _ = provider_id.partition("://")
    return "openstack" if separator and scheme.strip().lower() == OPENSTACK_SCHEME else "baremetal"


def is_virtual(platform: Platform) -> bool:
    """Virtual platforms: one PCI function per port, VFs and eSwitch belong to the hypervisor."""
    return platform == "openstack"
