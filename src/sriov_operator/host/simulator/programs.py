"""The switchdev programs of the simulated host: the command lines the host layer runs, and no others.

``ethtool -k <if>`` / ``ethtool -K <if> hw-tc-offload on|off``,
``devlink -j dev param show <dev> name flow_steering_mode`` /
``devlink dev param set <dev> name flow_steering_mode value <v> cmode runtime``,
``vdpa dev add name <n> mgmtdev <dev> [max_vqp <n>]`` and ``vdpa dev del <n>``;
the simulated kernel (`kernel.py`) decides what they do.  Anything else is a
usage error, as the real programs would answer.
"""

from __future__ import annotations

from sriov_operator.host.programs import CommandResult
from sriov_operator.host.simulator.kernel import SimulatedKernel

SWITCHDEV_PROGRAMS = frozenset({"ethtool", "devlink", "vdpa"})
PARAM = "flow_steering_mode"


def switchdev_program(kernel: SimulatedKernel, argv: list[str]) -> CommandResult:
    match argv:
        case ["ethtool", "-k", ifname]:
            return kernel.ethtool_features(ifname)
        case ["ethtool", "-K", ifname, "hw-tc-offload", ("on" | "off") as state]:
            return kernel.set_tc_offload(ifname, state == "on")
        case ["devlink", "-j", "dev", "param", "show", handle, "name", name]:
            return kernel.flow_steering(handle) if name == PARAM else _no_param()
        case ["devlink", "dev", "param", "set", handle, "name", name, "value", value, "cmode", "runtime"]:
            return kernel.set_flow_steering(handle, value) if name == PARAM else _no_param()
        case ["vdpa", "dev", "add", "name", name, "mgmtdev", management, *rest] if rest in (
            [],
            ["max_vqp", "32"],
        ):
            return kernel.add_vdpa(name, management)
        case ["vdpa", "dev", "del", name]:
            return kernel.delete_vdpa(name)
    return CommandResult(1, "", f"{argv[0]}: the simulated host does not know {' '.join(argv[1:])!r}")


def _no_param() -> CommandResult:
    return CommandResult(1, "", "kernel answers: Invalid argument")
