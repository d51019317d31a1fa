"""Our udev rules for a PF: pure text, one file per PF under ``<root>/etc/udev/rules.d``.

For every bare-metal PF in the spec (upstream's udev.go does the same three
things with a helper script; these rules need none):

- NetworkManager leaves its VFs alone (``ENV{NM_UNMANAGED}="1"``), so it never
  runs DHCP on a VF that comes back to the host.  VFs are matched by their PCI
  address, known before they exist (``sriov_offset`` and ``sriov_stride``), so
  the rule is in place when the kernel creates them.
- In switchdev: the PF keeps its name when the driver probes it again for the
  mode change, and each VF's representor is named ``<pf>_<vf id>`` (only for a
  PF name of letters, digits, ``_``, ``.`` and ``-``: nothing else enters a rule).

The file is rewritten when the spec or the PF changes and removed when the PF
leaves the spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.host.pci import is_pci_address, vf_address
from sriov_operator.host.root import HostFileError, HostRoot

UDEV_RULES_DIR = "etc/udev/rules.d"
RULES_PREFIX = "10-sriov-operator-"
NM_UNMANAGED_RULE = 'SUBSYSTEM=="net", ACTION=="add|change|move", KERNELS=="{vf}", ENV{{NM_UNMANAGED}}="1"\n'
SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # a netdev name that cannot change a rule's meaning
HEADER = "# Written by sriov-operator for PF {pf}; removed when the PF leaves the spec. Do not edit.\n"


@dataclass(frozen=True)
class VfLayout:
    """Where a PF's VFs appear: VF n at ``offset + n * stride`` routing ids after the PF."""

    offset: int
    stride: int


def rules_path(host: HostRoot, pf: str) -> Path:
    if not is_pci_address(pf):
        raise HostFileError(f"{pf!r} is not a PCI address; no udev rules path for it")
    return host.path(UDEV_RULES_DIR, f"{RULES_PREFIX}{pf}.rules")


def pf_of_rules_file(name: str) -> str | None:
    """The PF a rules file of ours is for (``10-sriov-operator-<pci>.rules``), None for anyone else's."""
    pf = name.removeprefix(RULES_PREFIX).removesuffix(".rules")
    return pf if name.startswith(RULES_PREFIX) and name.endswith(".rules") and is_pci_address(pf) else None


def pf_rules(pf: str, name: str | None, num_vfs: int, layout: VfLayout | None, switchdev: bool) -> str:
    """The rules file for ``pf`` (its netdev ``name``) with ``num_vfs`` VFs; empty when no rule applies."""
    lines = []
    if layout is not None:
        for vf in range(num_vfs):
            address = vf_address(pf, layout.offset + vf * layout.stride)
            lines.append(NM_UNMANAGED_RULE.format(vf=address))
    if switchdev and name and SAFE_NAME.fullmatch(name):
        lines.append(
            f'SUBSYSTEM=="net", ACTION=="add", DRIVERS=="?*", KERNELS=="{pf}", '
            f'ATTR{{phys_port_name}}!="pf*vf*", NAME="{name}"\n'
        )
        for vf in range(num_vfs):
            lines.append(
                f'SUBSYSTEM=="net", ACTION=="add|move", KERNELS=="{pf}", '
                f'ATTR{{phys_port_name}}=="pf*vf{vf}", NAME="{name}_{vf}"\n'
            )
    return HEADER.format(pf=pf) + "".join(lines) if lines else ""
