"""Hardware-offload knobs of a switchdev PF: ``hw-tc-offload`` (ethtool) and devlink device parameters.

Both through the host's own programs (``ethtool``, iproute2's ``devlink``), run by
the CommandRunner like ``modprobe``: the parsing is pure and tested on its own.
A device without the knob reads as None, never as an error, because most NICs
have no ``flow_steering_mode`` and a netdev may have no ``hw-tc-offload``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sriov_operator.api.models import InterfaceExt
from sriov_operator.host.programs import CommandRunner, failure

log = logging.getLogger(__name__)

HW_TC_OFFLOAD = "hw-tc-offload"
FLOW_STEERING_MODE = "flow_steering_mode"
SWITCHDEV_FLOW_STEERING = "smfs"  # software-managed flow steering: what mlx5 wants in switchdev (as upstream)
NO_PARAMETER = ("Invalid argument", "No such device", "not supported", "No such file")


class OffloadError(OSError):
    """A program refused a change; the message quotes it."""


def parse_feature(ethtool_k: str, feature: str) -> bool | None:
    """``ethtool -k`` output -> the feature's state; None when the netdev lacks it or cannot change it.

    >>> parse_feature("Features for eth0:\\nhw-tc-offload: off\\n", "hw-tc-offload")
    False
    >>> parse_feature("hw-tc-offload: off [fixed]\\n", "hw-tc-offload") is None
    True
    """
    for line in ethtool_k.splitlines():
        name, _, state = line.strip().partition(": ")
        if name == feature:
            return None if "[fixed]" in state else state.split()[0] == "on"
    return None


def read_tc_offload(run: CommandRunner, ifname: str) -> bool | None:
    argv = ["ethtool", "-k", ifname]
    result = run(argv)
    if result.returncode != 0:
        log.info("%s", failure(argv, result))
        return None
    return parse_feature(result.stdout, HW_TC_OFFLOAD)


def set_tc_offload(run: CommandRunner, ifname: str, enabled: bool) -> None:
    state = "on" if enabled else "off"
    result = run(["ethtool", "-K", ifname, HW_TC_OFFLOAD, state])
    if result.returncode != 0 or read_tc_offload(run, ifname) is not enabled:
        said = (result.stderr or result.stdout).strip()[:200] or "it still reads otherwise"
        raise OffloadError(
            f"ethtool -K {ifname} {HW_TC_OFFLOAD} {state} failed (exit {result.returncode}): {said}"
        )


def parse_devlink_param(show_json: str, name: str) -> str | None:
    """``devlink -j dev param show <dev> name <name>`` -> the runtime value (or the only one there is).

    >>> shown = '{"param":{"pci/0000:3b:00.0":[{"name":"flow_steering_mode","type":"driver-specific",'
    >>> shown += '"values":[{"cmode":"runtime","value":"dmfs"}]}]}}'
    >>> parse_devlink_param(shown, "flow_steering_mode")
    'dmfs'
    """
    try:
        devices = json.loads(show_json).get("param", {})
    except (ValueError, AttributeError):
        return None
    for params in devices.values():
        for param in params if isinstance(params, list) else []:
            if param.get("name") != name:
                continue
            values = param.get("values") or []
            runtime = [v for v in values if v.get("cmode") == "runtime"] or values
            return str(runtime[0]["value"]) if runtime and "value" in runtime[0] else None
    return None


def read_devlink_param(run: CommandRunner, device: str, name: str) -> str | None:
    """``device``: a devlink handle (``pci/0000:3b:00.0``); None when it has no such parameter."""
    result = run(["devlink", "-j", "dev", "param", "show", device, "name", name])
    if result.returncode != 0:
        said = result.stderr.strip()[:200]
        if not any(reason in said for reason in NO_PARAMETER):
            log.warning(
                "devlink dev param show %s name %s failed (exit %d): %s",
                device,
                name,
                result.returncode,
                said,
            )
        return None
    return parse_devlink_param(result.stdout, name)


def set_devlink_param(run: CommandRunner, device: str, name: str, value: str) -> None:
    argv = ["devlink", "dev", "param", "set", device, "name", name, "value", value, "cmode", "runtime"]
    result = run(argv)
    if result.returncode != 0:
        raise OffloadError(
            f"{' '.join(argv)} failed (exit {result.returncode}): {result.stderr.strip()[:200]}"
        )


def pci_handle(pci: str) -> str:
    return f"pci/{pci}"


@dataclass(frozen=True)
class Offloads:
    """What the planner knows of the offload knobs: only PFs with an eSwitch are asked."""

    tc_offload: Mapping[str, bool] = field(default_factory=dict)  # netdev -> hw-tc-offload on
    flow_steering: Mapping[str, str] = field(default_factory=dict)  # PF PCI address -> flow_steering_mode


def read_offloads(run: CommandRunner, interfaces: Iterable[InterfaceExt]) -> Offloads:
    """hw-tc-offload of each eSwitch PF's uplink and representors, and its flow steering mode."""
    tc: dict[str, bool] = {}
    steering: dict[str, str] = {}
    for pf in interfaces:
        if pf.e_switch_mode is None:
            continue
        names = [pf.name, *(vf.representor_name for vf in pf.vfs or [])]
        for name in filter(None, names):
            if (state := read_tc_offload(run, name)) is not None:
                tc[name] = state
        if (mode := read_devlink_param(run, pci_handle(pf.pci_address), FLOW_STEERING_MODE)) is not None:
            steering[pf.pci_address] = mode
    return Offloads(tc, steering)
