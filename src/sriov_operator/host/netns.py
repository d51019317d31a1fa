"""The network namespace of the host's links, as ``--netns`` names it, and the refusal without one.

One resolver serves netlink (`host/netlink.py`, `host/devlink.py`) and the host
programs (`host/placement.py`), so a link that netlink changes and a link that
``ethtool`` or ``devlink`` acts on are looked up in the same namespace.  The
path is opened by this process (pyroute2's ``setns``, ``nsenter``), so a name
means ``/run/netns/<name>`` of this process's filesystem, never the host root's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sriov_operator.errors import BadInputError

CURRENT_NETNS = "current"  # the process's own network namespace (a pod with hostNetwork: true)
NETNS_RUN_DIR = PurePosixPath("/run/netns")  # where `ip netns add` names namespaces
NETNS_SETTING = "--netns (or SRIOV_OPERATOR_NETNS)"  # the flag and its variable (runtime/settings.py)
ACCEPTED = (
    f"a name under {NETNS_RUN_DIR}, a path such as /proc/1/ns/net, "
    f"or '{CURRENT_NETNS}' when this process shares the host's network"
)


class NetnsRequiredError(BadInputError):
    """Netlink or a network program would act on this machine's links while the host root is another tree."""


@dataclass(frozen=True)
class Netns:
    """A network namespace chosen with ``--netns``; ``path`` None is this process's own (``current``)."""

    path: str | None = None


def resolve_netns(setting: str | None) -> Netns | None:
    """The namespace ``setting`` names; None when none was given (unset or empty, as an empty variable).

    ``current`` is this process's; a name without ``/`` is ``/run/netns/<name>`` (what
    ``ip netns add`` makes); anything else is a path, taken as given (``/proc/1/ns/net``).
    """
    if not setting:
        return None
    if setting == CURRENT_NETNS:
        return Netns()
    if "/" not in setting:
        return Netns(str(NETNS_RUN_DIR / setting))
    return Netns(setting)


def netns_required(root: Path, what: str, why: str) -> NetnsRequiredError:
    """The one-line refusal: what needs the namespace, why, and the flag (and variable) that gives it."""
    return NetnsRequiredError(
        f"--netns: required with --host-root {root} (not /) to {what}: {why}, which without it is "
        f"this machine's, not the host's; set {NETNS_SETTING} to the host's network namespace: {ACCEPTED}"
    )
