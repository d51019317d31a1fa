"""Where a policy configures something, and where it selects nodes but no device: one set of words.

A policy's nodeSelector may match nodes on which its nicSelector matches no
interface (or higher-priority policies take every PF it selects). It then
configures and exposes nothing there, and a status that counted those nodes as
ready would say "Ready" of a policy that does nothing. The policy status, its
Events and ``diff`` all say it with :func:`no_device_phrase`, naming a few nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

NODES_NAMED = 5

Configuring = Mapping[str, frozenset[str] | None]
"""Node name -> the policies that configure a device there (None: the node is not discovered yet)."""


def named_nodes(nodes: Sequence[str]) -> str:
    """Up to :data:`NODES_NAMED` names, then how many more."""
    more = f" and {len(nodes) - NODES_NAMED} more" if len(nodes) > NODES_NAMED else ""
    return ", ".join(nodes[:NODES_NAMED]) + more


def nodes_without_device(selected: Iterable[str], configuring: Configuring, policy: str) -> list[str]:
    """The discovered nodes among ``selected`` where ``policy`` configures no device, sorted."""
    return sorted(
        node for node in selected if (names := configuring.get(node)) is not None and policy not in names
    )


def no_device_phrase(without: Sequence[str], selected: int) -> str:
    """ "selects no device on 2 of 3 nodes: worker-0, worker-1"."""
    return f"selects no device on {len(without)} of {selected} nodes: {named_nodes(without)}"


NO_DEVICE_WHY = (
    "its nicSelector matches no interface there, or policies applied after it take every PF it selects"
)


def without_device_by_policy(
    selected: Mapping[str, frozenset[str]], configuring: Configuring
) -> dict[str, tuple[str, ...]]:
    """Policy -> the selected, discovered nodes where it configures no device (policies with some)."""
    found = {
        policy: tuple(nodes_without_device(nodes, configuring, policy)) for policy, nodes in selected.items()
    }
    return {policy: nodes for policy, nodes in found.items() if nodes}
