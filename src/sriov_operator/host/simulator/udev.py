"""The simulated udev: which network devices carry ``NM_UNMANAGED=1`` by the rules under ``etc/udev/rules.d``.

Like udev, a rule acts on a device's events: when its netdev appears, and when
``udevadm trigger`` replays the events of existing ones.  A rule written after a
netdev appeared does nothing to it until then.  Understood: ``KERNELS=="<pci
address>"`` (globs too) with ``ENV{NM_UNMANAGED}="1"``, and ``NAME="…"`` (with an
optional ``ATTR{phys_port_name}==`` or ``!=`` glob) for a netdev that appears: a PF's
uplink re-registered by a switchdev re-probe, a representor; other rules are ignored.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

RULES_DIR = "etc/udev/rules.d"
_KERNELS = re.compile(r'KERNELS=="([^"]*)"')
_UNMANAGED = 'ENV{NM_UNMANAGED}="1"'
_NAME = re.compile(r'(?<![!=])NAME="([^"]*)"')
_PORT = re.compile(r'ATTR\{phys_port_name\}(==|!=)"([^"]*)"')


def _rule_lines(root: Path) -> list[str]:
    directory = root / RULES_DIR
    files = sorted(directory.glob("*.rules")) if directory.is_dir() else []
    return [line for path in files for line in path.read_text().splitlines()]


def unmanaged_by_rules(root: Path, address: str) -> bool:
    """A rule sets NM_UNMANAGED for the netdev of PCI function ``address``."""
    for line in _rule_lines(root):
        match = _KERNELS.search(line)
        if match and _UNMANAGED in line and fnmatch.fnmatchcase(address, match.group(1)):
            return True
    return False


def name_by_rules(root: Path, address: str, phys_port_name: str | None) -> str | None:
    """The name a rule gives a netdev appearing under PCI function ``address`` with ``phys_port_name``
    (None: the kernel's name stays, as without a rule: a name no policy derives from the device)."""
    name = None
    for line in _rule_lines(root):
        kernels, named = _KERNELS.search(line), _NAME.search(line)
        if not kernels or not named or not fnmatch.fnmatchcase(address, kernels.group(1)):
            continue
        port = _PORT.search(line)
        if port and fnmatch.fnmatchcase(phys_port_name or "", port.group(2)) != (port.group(1) == "=="):
            continue
        name = named.group(1)  # udev: the last NAME assignment wins
    return name
