"""The simulator's side of host writes and host commands (the production code calls these unchanged)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sriov_operator.host.programs import CommandResult
from sriov_operator.host.root import PCI_DEVICES, PCI_DRIVERS, PCI_DRIVERS_PROBE, VFIO_NOIOMMU_PARAMETER
from sriov_operator.host.simulator.kernel import SimulatedKernel
from sriov_operator.host.writer import HostWriter

_DEVICES = tuple(PCI_DEVICES.split("/"))
_DRIVERS = tuple(PCI_DRIVERS.split("/"))


class SimulatedWriter(HostWriter):
    """Writes under a simulator tree; kernel attributes get the kernel's reactions."""

    def __init__(self, root: Path) -> None:
        self.root = root
        SimulatedKernel.load(root)  # fail early on a tree that is not a simulated host

    def write_attribute(self, path: Path, value: str) -> None:
        kernel = SimulatedKernel.load(self.root)
        if not self._react(kernel, path, value):
            super().write_attribute(path, value)
        kernel.save()

    def _react(self, kernel: SimulatedKernel, path: Path, value: str) -> bool:
        real = Path(os.path.realpath(path))
        parts = real.relative_to(os.path.realpath(self.root)).parts
        if parts[:4] == _DEVICES and len(parts) == 6 and parts[5] == "sriov_numvfs":
            kernel.set_numvfs(parts[4], _count(value, path))
        elif parts[:4] == _DEVICES and len(parts) == 6 and parts[5] == "driver_override":
            kernel.set_driver_override(parts[4], value)
        elif parts[:4] == _DRIVERS and len(parts) == 6 and parts[5] == "bind":
            kernel.bind(value.strip(), parts[4])
        elif parts[:4] == _DRIVERS and len(parts) == 6 and parts[5] == "unbind":
            kernel.unbind(value.strip(), parts[4])
        elif "/".join(parts) == PCI_DRIVERS_PROBE:
            kernel.probe(value.strip())
        elif len(parts) >= 3 and parts[-3] == "net" and parts[-1] in {"mtu", "flags"}:
            kernel.set_netdev_attribute(real.parent, parts[-1], value)
        elif "/".join(parts) == VFIO_NOIOMMU_PARAMETER:
            kernel.set_noiommu_parameter(value)
        else:
            return False
        return True


def _count(value: str, path: Path) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise OSError(22, "Invalid argument", str(path)) from None


@dataclass(frozen=True)
class SimulatedCommandRunner:
    """``modprobe <module> [param=value…]`` and ``devlink dev eswitch set pci/<addr> mode <m>``."""

    root: Path

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        kernel = SimulatedKernel.load(self.root)
        result = self._run(kernel, list(argv))
        kernel.save()
        return result

    @staticmethod
    def _run(kernel: SimulatedKernel, argv: list[str]) -> CommandResult:
        if len(argv) >= 2 and argv[0] == "modprobe":
            parameters = dict(arg.split("=", 1) for arg in argv[2:] if "=" in arg)
            if kernel.load_module(argv[1], parameters):
                return CommandResult(0)
            return CommandResult(1, "", f"modprobe: FATAL: Module {argv[1]} not found.")
        if len(argv) == 7 and argv[:4] == ["devlink", "dev", "eswitch", "set"] and argv[5] == "mode":
            if kernel.set_eswitch_mode(argv[4].removeprefix("pci/"), argv[6]):
                return CommandResult(0)
            return CommandResult(1, "", "Error: devlink answers: Operation not supported.")
        return CommandResult(127, "", f"{argv[0] if argv else ''}: not available on the simulated host")
