"""Parallel NIC configuration: 8 PFs x 64 VFs configured from scratch, one after another vs side by side.

Run: ``python bench/bench_parallel_nics.py``.  Prints Markdown rows for
bench/RESULTS.md (section "Parallel NIC configuration").

The simulated kernel answers at once, so each kernel-attribute write first waits
as long as a device takes: creating VFs costs ``NUMVFS_MS_PER_VF`` per VF (i40e
takes tens of milliseconds per VF, mlx5 hundreds), a driver bind or unbind
``BIND_MS``, any other sysfs write (driver_override, drivers_probe) ``WRITE_MS``.
The wait happens outside the simulator's lock, as a driver works on one device
while others proceed; the simulator's own
bookkeeping (one state file for the whole host) stays serialized and is counted.

Two layouts of the same 8 PFs: 8 single-port NICs (sequential and parallel), and
4 dual-port NICs (parallel only: the two ports of a NIC stay in one part, so at
most 4 run side by side).  Target: parallel at least 2x faster than sequential
for 8 single-port NICs (the simulator's serialized bookkeeping caps the gain).
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from bench_host import half_dpdk_groups
from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec
from sriov_operator.host.apply import converge
from sriov_operator.host.node import NodeHost
from sriov_operator.host.simulator.builder import create_host
from sriov_operator.host.simulator.host_io import SimulatedWriter, simulated_io
from sriov_operator.host.simulator.model import Profile, SimDevice, SimNetdev, SimSriov

PFS, VFS = 8, 64
NUMVFS_MS_PER_VF = 100.0
BIND_MS = 30.0
WRITE_MS = 5.0


class DeviceLatencyWriter(SimulatedWriter):
    """The simulated kernel's writes, each after a device-like delay."""

    def write_attribute(self, path: Path, value: str) -> None:
        time.sleep(device_ms(path.name, value) / 1000)
        super().write_attribute(path, value)


def device_ms(attribute: str, value: str) -> float:
    if attribute == "sriov_numvfs":
        return NUMVFS_MS_PER_VF * int(value) if value.strip().isdigit() else WRITE_MS
    return BIND_MS if attribute in {"bind", "unbind"} else WRITE_MS


def address(pf: int, ports_per_nic: int) -> str:
    nic, port = divmod(pf, ports_per_nic)
    return f"0000:{0x10 + nic:02x}:00.{port}"


def profile(ports_per_nic: int) -> Profile:
    devices = [
        SimDevice(
            address=address(pf, ports_per_nic),
            vendor="8086",
            device="158b",
            driver="i40e",
            netdev=SimNetdev(name=f"ens{pf}", mac=f"3c:fd:fe:a1:{pf:02x}:00", speed=25000),
            sriov=SimSriov(
                totalvfs=VFS, offset=16 + 64 * (pf % ports_per_nic), vf_device="154c", vf_driver="iavf"
            ),
        )
        for pf in range(PFS)
    ]
    return Profile(
        description="bench", platform="baremetal", iommu=True, modules=["i40e", "iavf"], devices=devices
    )


def spec(ports_per_nic: int) -> SriovNetworkNodeStateSpec:
    interfaces = [
        Interface(pci_address=address(pf, ports_per_nic), num_vfs=VFS, vf_groups=half_dpdk_groups(VFS))
        for pf in range(PFS)
    ]
    return SriovNetworkNodeStateSpec(interfaces=interfaces)


def configure(ports_per_nic: int, parallel: bool) -> tuple[float, int]:
    """Seconds to converge a fresh host, and the number of actions done."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "host"
        create_host(profile(ports_per_nic), root)
        node = NodeHost.open(root, io=simulated_io(root))
        access = dataclasses.replace(node.access, writer=DeviceLatencyWriter(root), parallel_nics=parallel)
        start = time.perf_counter()
        outcomes = converge(access, spec(ports_per_nic), node.observe)
        elapsed = time.perf_counter() - start
        found = node.discover(checkpoint=False).interfaces
        assert all(i.num_vfs == VFS for i in found), "not every PF got its VFs"
        return elapsed, len(outcomes)


def main() -> int:
    delays = (
        f"{NUMVFS_MS_PER_VF:g} ms per VF created, {BIND_MS:g} ms per bind/unbind, {WRITE_MS:g} ms otherwise"
    )
    print(f"| {PFS} PFs x {VFS} VFs, {delays} | |")
    print("|---|---|")
    sequential, actions = configure(1, parallel=False)
    print(f"| 8 single-port NICs, sequential ({actions} actions) | {sequential:.1f} s |")
    parallel, _ = configure(1, parallel=True)
    print(f"| 8 single-port NICs, parallel | {parallel:.1f} s (**{sequential / parallel:.1f}x**) |")
    dual, _ = configure(2, parallel=True)
    print(f"| 4 dual-port NICs, parallel | {dual:.1f} s ({sequential / dual:.1f}x) |")
    ok = sequential / parallel >= 2
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
