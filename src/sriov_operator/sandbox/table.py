"""The sandbox's progress table: one row per worker, computed from the objects alone (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sriov_operator.sandbox.snapshot import Snapshot, spec_interfaces, status_interfaces, status_of

HEADER = ("NODE", "SYNC", "DEVICES", "DRIVERS", "RESOURCES")
Row = tuple[str, str, str, str, str]


def _drivers(iface: Mapping[str, Any]) -> str:
    """A port's driver, or its VFs' drivers counted (``4xiavf``); a VM's port is its own only VF."""
    vfs = [vf for vf in iface.get("Vfs") or [] if vf.get("pciAddress") != iface["pciAddress"]]
    if not vfs:
        own = next((vf for vf in iface.get("Vfs") or []), iface)
        return str(own.get("driver") or iface.get("driver") or "-")
    counts: dict[str, int] = {}
    for vf in vfs:
        driver = str(vf.get("driver") or "-")
        counts[driver] = counts.get(driver, 0) + 1
    return "+".join(f"{n}x{d}" for d, n in sorted(counts.items()))


def row(snapshot: Snapshot, node: str, prefix: str) -> Row:
    state = snapshot.states.get(node)
    sync = str(status_of(state).get("syncStatus") or ("-" if state is None else "Pending"))
    discovered = status_interfaces(state)
    configured = {i["pciAddress"] for i in spec_interfaces(state)}
    devices = f"{len(discovered)} ({len(configured)} configured)" if state is not None else "-"
    drivers = " ".join(
        f"{i.get('name') or i['pciAddress']}={_drivers(i)}"
        for i in discovered
        if i["pciAddress"] in configured
    )
    allocatable = status_of(snapshot.nodes.get(node)).get("allocatable") or {}
    resources = " ".join(
        f"{name.removeprefix(prefix + '/')}={count}"
        for name, count in sorted(allocatable.items())
        if name.startswith(prefix + "/")
    )
    return (node, sync, devices, drivers or "-", resources or "-")


def rows(snapshot: Snapshot, prefix: str) -> list[Row]:
    return [row(snapshot, node, prefix) for node in snapshot.workers]


def render(table: Sequence[Row]) -> list[str]:
    """Aligned lines, the header first."""
    lines = [HEADER, *table]
    widths = [max(len(line[column]) for line in lines) for column in range(len(HEADER))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]


def changed_rows(before: Sequence[Row], after: Sequence[Row]) -> list[Row]:
    """Rows of ``after`` that differ from ``before`` (all of them the first time)."""
    old = {r[0]: r for r in before}
    return [r for r in after if old.get(r[0]) != r]
