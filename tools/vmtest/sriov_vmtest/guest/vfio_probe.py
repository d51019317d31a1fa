"""Open a device's vfio group and make the ioctls DPDK makes; print what the kernel answered, as JSON.

Usage (in a test guest): ``python3 vfio_probe.py 0000:00:11.0``.  Works for a
real IOMMU group (``/dev/vfio/<n>``, type1 IOMMU) and for no-IOMMU mode
(``/dev/vfio/noiommu-<n>``).  Standard library only.
"""

from __future__ import annotations

import fcntl
import json
import os
import struct
import sys

VFIO_TYPE = ord(";")
VFIO_API_VERSION = 0
VFIO_TYPE1V2_IOMMU = 3
VFIO_NOIOMMU_IOMMU = 8
GROUP_VIABLE = 1


def _io(number: int) -> int:
    return (VFIO_TYPE << 8) | (100 + number)


GET_API_VERSION, CHECK_EXTENSION, SET_IOMMU = _io(0), _io(1), _io(2)
GROUP_GET_STATUS, GROUP_SET_CONTAINER, GROUP_GET_DEVICE_FD, DEVICE_GET_INFO = _io(3), _io(4), _io(6), _io(7)


def probe(address: str) -> dict[str, object]:
    group = os.path.basename(os.readlink(f"/sys/bus/pci/devices/{address}/iommu_group"))
    noiommu = os.path.exists(f"/dev/vfio/noiommu-{group}")
    node = f"/dev/vfio/noiommu-{group}" if noiommu else f"/dev/vfio/{group}"
    iommu_type = VFIO_NOIOMMU_IOMMU if noiommu else VFIO_TYPE1V2_IOMMU
    container = os.open("/dev/vfio/vfio", os.O_RDWR)
    group_fd = os.open(node, os.O_RDWR)
    try:
        status = bytearray(struct.pack("II", 8, 0))
        fcntl.ioctl(group_fd, GROUP_GET_STATUS, status, True)
        fcntl.ioctl(group_fd, GROUP_SET_CONTAINER, bytearray(struct.pack("i", container)), True)
        fcntl.ioctl(container, SET_IOMMU, iommu_type)
        device = fcntl.ioctl(group_fd, GROUP_GET_DEVICE_FD, bytearray(address.encode() + b"\0"), True)
        info = bytearray(struct.pack("IIII", 16, 0, 0, 0))
        fcntl.ioctl(device, DEVICE_GET_INFO, info, True)
        os.close(device)
        _, flags, regions, irqs = struct.unpack("IIII", info)
        return {
            "groupNode": node,
            "apiVersion": fcntl.ioctl(container, GET_API_VERSION),
            "extension": fcntl.ioctl(container, CHECK_EXTENSION, iommu_type),
            "viable": bool(struct.unpack("II", status)[1] & GROUP_VIABLE),
            "deviceFlags": flags,
            "regions": regions,
            "irqs": irqs,
        }
    finally:
        os.close(group_fd)
        os.close(container)


if __name__ == "__main__":
    try:
        print(json.dumps(probe(sys.argv[1])))
    except OSError as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}"}))
        sys.exit(1)
