"""Host-layer benchmark: discovery and a no-op plan on a simulated host with 8 PFs x 64 VFs.

Run: ``python bench/bench_host.py``.  Prints a Markdown table row set for
bench/RESULTS.md (section "Host layer").  Targets: discovery < 200 ms; the
no-op plan writes nothing to the host.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sriov_operator.api.models import Interface, SriovNetworkNodeStateSpec, VfGroup
from sriov_operator.host.apply import converge
from sriov_operator.host.node import NodeHost
from sriov_operator.host.plan import plan
from sriov_operator.host.programs import CommandResult
from sriov_operator.host.simulator.builder import create_host
from sriov_operator.host.simulator.host_io import SimulatedCommandRunner, SimulatedWriter, simulated_io
from sriov_operator.host.simulator.model import Profile, SimDevice, SimNetdev, SimSriov

PFS, VFS, RUNS = 8, 64, 20


def profile() -> Profile:
    devices = [
        SimDevice(
            address=f"0000:{0x10 + pf:02x}:00.0",
            vendor="8086",
            device="158b",
            driver="i40e",
            netdev=SimNetdev(name=f"ens{pf}f0", mac=f"3c:fd:fe:a1:{pf:02x}:00", speed=25000),
            sriov=SimSriov(totalvfs=VFS, numvfs=VFS, offset=16, stride=1, vf_device="154c", vf_driver="iavf"),
        )
        for pf in range(PFS)
    ]
    return Profile(description="bench", platform="baremetal", iommu=True, devices=devices)


def half_dpdk_groups(vfs: int) -> list[VfGroup]:
    """The first half of a PF's VFs for DPDK (vfio-pci), the second half netdevices."""
    half = vfs // 2
    return [
        VfGroup.model_validate(
            {"resourceName": "dpdk", "deviceType": "vfio-pci", "vfRange": f"0-{half - 1}"}
        ),
        VfGroup.model_validate(
            {"resourceName": "net", "deviceType": "netdevice", "vfRange": f"{half}-{vfs - 1}"}
        ),
    ]


def spec() -> SriovNetworkNodeStateSpec:
    interfaces = [
        Interface(pci_address=f"0000:{0x10 + pf:02x}:00.0", num_vfs=VFS, vf_groups=half_dpdk_groups(VFS))
        for pf in range(PFS)
    ]
    return SriovNetworkNodeStateSpec(interfaces=interfaces)


class CountingWriter(SimulatedWriter):
    count = 0

    def write_attribute(self, path: Path, value: str) -> None:
        CountingWriter.count += 1
        super().write_attribute(path, value)

    def write_file(self, path: Path, text: str) -> None:
        CountingWriter.count += 1
        super().write_file(path, text)


class CountingRunner(SimulatedCommandRunner):
    count = 0

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        CountingRunner.count += 1
        return super().__call__(argv)


def timed(function: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "host"
        start = time.perf_counter()
        create_host(profile(), root)
        build_ms = (time.perf_counter() - start) * 1000
        node = NodeHost.open(root, io=simulated_io(root))
        start = time.perf_counter()
        converge(node.access, spec(), node.observe)  # bind half the VFs to vfio-pci, as a real node would be
        converge_ms = (time.perf_counter() - start) * 1000

        discovery = timed(lambda: node.discover(checkpoint=False), RUNS)
        vfs = sum(len(i.vfs or []) for i in node.discover(checkpoint=False).interfaces)
        state = node.observe()
        planning = timed(lambda: plan(spec(), state), RUNS)

        counting = NodeHost.open(root, io=simulated_io(root))
        writer, runner = CountingWriter(root), CountingRunner(root)
        access = dataclasses.replace(counting.access, writer=writer, run=runner)
        noop_start = time.perf_counter()
        outcomes = converge(access, spec(), counting.observe)
        noop_ms = (time.perf_counter() - noop_start) * 1000
        writes = CountingWriter.count + CountingRunner.count

    print(f"| host | {PFS} PFs x {VFS} VFs ({vfs} VFs discovered), Python {sys.version.split()[0]} |")
    print(f"| create simulated host | {build_ms:.0f} ms |")
    print(f"| first apply (VFs exist; bind {PFS * VFS // 2} VFs to vfio-pci) | {converge_ms:.0f} ms |")
    median, worst = statistics.median(discovery), max(discovery)
    print(f"| discovery, {RUNS} runs | median {median:.1f} ms, max {worst:.1f} ms |")
    print(f"| plan (pure) on the discovered state | median {statistics.median(planning):.2f} ms |")
    print(
        f"| no-op apply (observe + plan) | {noop_ms:.0f} ms, {len(outcomes)} actions, {writes} host writes |"
    )
    ok = statistics.median(discovery) < 200 and writes == 0 and not outcomes
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
