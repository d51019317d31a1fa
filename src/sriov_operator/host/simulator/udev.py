"""The simulated udev: which network devices carry ``NM_UNMANAGED=1`` by the rules under ``etc/udev/rules.d``.

Like udev, a rule acts on a device's events: when its netdev appears, and when
``udevadm trigger`` replays the events of existing ones.  A rule written after a
netdev appeared does nothing to it until then.  Understood: ``KERNELS=="<pci
address>"`` (globs too) with ``ENV{NM_UNMANAGED}="1"``; other rules are ignored.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

RULES_DIR = "etc/udev/rules.d"
_KERNELS = re.compile(r'KERNELS=="([^"]*)"')
_UNMANAGED = 'ENV{NM_UNMANAGED}="1"'


def unmanaged_by_rules(root: Path, address: str) -> bool:
    """A rule sets NM_UNMANAGED for the netdev of PCI function ``address``."""
    directory = root / RULES_DIR
    files = sorted(directory.glob("*.rules")) if directory.is_dir() else []
    for line in (line for path in files for line in path.read_text().splitlines()):
        match = _KERNELS.search(line)
        if match and _UNMANAGED in line and fnmatch.fnmatchcase(address, match.group(1)):
            return True
    return False
