"""Guest side of bench/bench_vm.py: time sriov_numvfs 0 -> 3 and binding the VFs to vfio-pci.

Runs inside a bare-metal test guest (``python3 /project/bench/vm_guest_sriov.py PF``), standard
library only; prints JSON.  Bare metal without a vIOMMU needs vfio loaded in no-IOMMU mode first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

DEVICES = "/sys/bus/pci/devices"


def write(path: str, value: str) -> None:
    with open(path, "w") as stream:
        stream.write(value)


def main(pf: str, count: int = 3) -> None:
    started = time.monotonic()
    write(f"{DEVICES}/{pf}/sriov_numvfs", str(count))
    created = time.monotonic() - started
    vfs = [os.path.basename(os.readlink(f"{DEVICES}/{pf}/virtfn{n}")) for n in range(count)]
    started = time.monotonic()
    subprocess.run(["modprobe", "vfio_pci"], check=True)
    loaded = time.monotonic() - started
    started = time.monotonic()
    for vf in vfs:
        if os.path.exists(f"{DEVICES}/{vf}/driver"):
            write(f"{DEVICES}/{vf}/driver/unbind", vf)
        write(f"{DEVICES}/{vf}/driver_override", "vfio-pci")
        write("/sys/bus/pci/drivers/vfio-pci/bind", vf)
    bound = time.monotonic() - started
    started = time.monotonic()
    write(f"{DEVICES}/{pf}/sriov_numvfs", "0")
    removed = time.monotonic() - started
    timings = {"numvfs0to3": created, "modprobeVfioPci": loaded, "bind3": bound, "numvfs3to0": removed}
    print(json.dumps({name: round(seconds, 3) for name, seconds in timings.items()}))


if __name__ == "__main__":
    main(sys.argv[1])
