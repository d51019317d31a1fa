"""Where a host program runs: under which root, in which network namespace (pure).

A program that acts on network devices finds them by name (``ethtool``), by
devlink handle (``devlink``) or over generic netlink (``vdpa``, ``rdma``) in the
network namespace it runs in; it must run in the namespace netlink uses
(``--netns``, `host/netns.py`).  Other programs act on files under the host root,
on daemons over sockets there, or on the one kernel every namespace shares: a
``chroot`` suffices.  A program not named here counts as a network program, so a
new one is refused on a tree without ``--netns`` rather than pointed at this
machine's links.

With both a root and a namespace the program runs as ``nsenter --net=<ns> chroot
<root> <argv>``: the namespace path is resolved in this process's filesystem, as
netlink resolves it (``/run/netns`` of the host root may hold other names, and a
tree has no ``/proc``), and the program itself exists only inside the root, which
``chroot`` reaches after the namespace is entered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sriov_operator.host.netns import Netns, netns_required

HOST_ROOT = Path("/")


@dataclass(frozen=True)
class Reach:
    """Whether a program acts on ``network`` devices of its namespace, and why (``<program> <why>``)."""

    network: bool
    why: str


PROGRAMS: Mapping[str, Reach] = {
    "ethtool": Reach(True, "finds network interfaces by name in its network namespace"),
    "devlink": Reach(True, "sees only the devlink instances of its network namespace"),
    "vdpa": Reach(True, "speaks generic netlink, which the kernel answers in its network namespace"),
    "rdma": Reach(True, "sees RDMA devices and sets their namespace mode from its network namespace"),
    "modprobe": Reach(False, "loads modules from the root's /lib/modules into the one kernel all share"),
    "udevadm": Reach(False, "talks to udevd over a socket under the root and replays events from /sys"),
    "systemctl": Reach(False, "asks the host's systemd over a socket under the root"),
    "rpm-ostree": Reach(False, "changes the kernel arguments of the root's boot entries"),
    "update-grub": Reach(False, "writes the boot loader's configuration under the root"),
}
UNKNOWN = Reach(True, "is not known to leave network devices alone")


def reach_of(program: str) -> Reach:
    """``program`` (a name or a path) in `PROGRAMS`; any other counts as acting on the network."""
    return PROGRAMS.get(PurePosixPath(program).name, UNKNOWN)


def placed_argv(argv: Sequence[str], root: Path, netns: Netns | None) -> list[str]:
    """The argv that runs ``argv`` on the host at ``root`` (resolved) in ``netns`` (None: not given).

    NetnsRequiredError for a network program when ``root`` is not ``/`` and no
    namespace was given: nothing may run then.  ``current`` (a Netns without a
    path) is this process's namespace: nothing to enter.
    """
    program = argv[0]
    reach = reach_of(program)
    inside = list(argv) if root == HOST_ROOT else ["chroot", str(root), *argv]
    if not reach.network or (netns is None and root == HOST_ROOT):
        return inside
    if netns is None:
        raise netns_required(root, f"run {program}", f"{program} {reach.why}")
    return inside if netns.path is None else ["nsenter", f"--net={netns.path}", *inside]
