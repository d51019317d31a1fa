"""What sysfs and /dev say about a PF and its VFs, as JSON (run in a test guest; standard library only).

Usage: ``python3 sriov_facts.py 0000:01:00.0``.
"""

from __future__ import annotations

import json
import os
import sys

DEVICES = "/sys/bus/pci/devices"


def _link(path: str) -> str | None:
    return os.path.basename(os.readlink(path)) if os.path.islink(path) else None


def _read(path: str) -> str | None:
    try:
        with open(path) as stream:
            return stream.read().strip()
    except OSError:
        return None


def vf_facts(vf_id: int, address: str) -> dict[str, object]:
    device = f"{DEVICES}/{address}"
    group = _link(f"{device}/iommu_group")
    nodes = [
        node
        for node in (f"/dev/vfio/{group}", f"/dev/vfio/noiommu-{group}")
        if group and os.path.exists(node)
    ]
    return {
        "vfId": vf_id,
        "address": address,
        "driver": _link(f"{device}/driver"),
        "iommuGroup": group,
        "vfioNodes": nodes,
        "netdevs": sorted(os.listdir(f"{device}/net")) if os.path.isdir(f"{device}/net") else [],
    }


def facts(pf: str) -> dict[str, object]:
    device = f"{DEVICES}/{pf}"
    vfs = sorted(
        (int(name.removeprefix("virtfn")), _link(f"{device}/{name}") or "")
        for name in os.listdir(device)
        if name.startswith("virtfn")
    )
    return {
        "numVfs": int(_read(f"{device}/sriov_numvfs") or 0),
        "totalVfs": int(_read(f"{device}/sriov_totalvfs") or 0),
        "iommuGroups": len(os.listdir("/sys/kernel/iommu_groups")),
        "vfs": [vf_facts(vf_id, address) for vf_id, address in vfs],
    }


if __name__ == "__main__":
    print(json.dumps(facts(sys.argv[1])))
