"""eSwitch mode over devlink netlink (pyroute2), the interface every mlx5 driver answers.

In-tree mlx5 has no ``compat/devlink/mode`` sysfs file, so reading the mode there
would say "unknown" and a PF already in switchdev would be switched again (with a
drain) on every plan.  A kernel without devlink, or a device without an eSwitch,
reads as None.  pyroute2 is imported on first use (see `host/netlink.py`).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import Any, Protocol

ESWITCH_MODES = {0: "legacy", 1: "switchdev"}
NO_ESWITCH = frozenset({errno.ENOENT, errno.ENODEV, errno.EOPNOTSUPP, errno.EINVAL})


def devlink_handle(device: str) -> tuple[str, str]:
    """A PCI address is ``pci/<address>``; ``bus/name`` names a device on another bus (netdevsim).

    >>> devlink_handle("0000:3b:00.0"), devlink_handle("netdevsim/netdevsim1")
    (('pci', '0000:3b:00.0'), ('netdevsim', 'netdevsim1'))
    """
    bus, slash, name = device.partition("/")
    return (bus, name) if slash else ("pci", device)


class EswitchControl(Protocol):
    def mode(self, pci: str) -> str | None:
        """``legacy`` / ``switchdev``, or None (no devlink, no eSwitch)."""
        ...

    def set_mode(self, pci: str, mode: str) -> None:
        """OSError when the kernel refuses."""
        ...


@dataclass(frozen=True)
class NetlinkEswitch:
    """Devlink in ``netns`` (a name or path; None: this process's), where the devices live."""

    netns: str | None = None

    def _socket(self) -> Any:
        from pyroute2 import DL

        return DL() if self.netns is None else DL(netns=self.netns, flags=0)

    def _message(self, command: str, device: str, *attrs: tuple[str, object]) -> Any:
        from pyroute2.netlink.devlink import DEVLINK_NAMES, devlinkcmd

        bus, name = devlink_handle(device)
        message = devlinkcmd()
        message["cmd"] = DEVLINK_NAMES[command]
        message["attrs"] = [("DEVLINK_ATTR_BUS_NAME", bus), ("DEVLINK_ATTR_DEV_NAME", name), *attrs]
        return message

    def mode(self, pci: str) -> str | None:
        from pyroute2.netlink import NLM_F_REQUEST
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            with self._socket() as devlink:
                message = self._message("DEVLINK_CMD_ESWITCH_GET", pci)
                replies = list(devlink.nlm_request(message, msg_type=devlink.prid, msg_flags=NLM_F_REQUEST))
        except NetlinkError as error:
            if error.code in NO_ESWITCH:  # no devlink family, no such device, no eSwitch
                return None
            raise OSError(error.code, f"devlink eswitch show pci/{pci}: {error}") from None
        for reply in replies:
            value = reply.get_attr("DEVLINK_ATTR_ESWITCH_MODE")
            if value is not None:
                return ESWITCH_MODES.get(int(value))
        return None

    def set_mode(self, pci: str, mode: str) -> None:
        code = next((number for number, name in ESWITCH_MODES.items() if name == mode), None)
        if code is None:
            raise OSError(errno.EINVAL, f"devlink eswitch set pci/{pci} mode {mode}: unknown mode")
        from pyroute2.netlink import NLM_F_ACK, NLM_F_REQUEST
        from pyroute2.netlink.exceptions import NetlinkError

        try:
            with self._socket() as devlink:
                message = self._message("DEVLINK_CMD_ESWITCH_SET", pci, ("DEVLINK_ATTR_ESWITCH_MODE", code))
                list(devlink.nlm_request(message, msg_type=devlink.prid, msg_flags=NLM_F_REQUEST | NLM_F_ACK))
        except NetlinkError as error:
            raise OSError(error.code, f"devlink eswitch set pci/{pci} mode {mode}: {error}") from None
