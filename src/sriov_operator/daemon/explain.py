"""A plan in words a person can act on: ``will bind 0000:00:04.0 to vfio-pci (no drain): policy dpdk1``.

The words go into the NodeState's Progressing condition and an Event before
anything is written on the host, so a drain or a driver change is never a
surprise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sriov_operator.api.constants import DRAIN_REQUIRED, REBOOT_REQUIRED
from sriov_operator.api.models import InterfaceExt, SriovNetworkNodeStateSpec
from sriov_operator.host.actions import Action
from sriov_operator.host.plan import Plan, vf_ids

MAX_LINES = 10  # a condition message stays readable; the Event and the log carry the count

_REQUIREMENT_WORDS = {"none": "no drain", "drain": "drain", "reboot": "drain and reboot"}


def policies_by_device(spec: SriovNetworkNodeStateSpec, interfaces: Iterable[InterfaceExt]) -> dict[str, str]:
    """PCI address (PF, port or VF) -> the policy whose vfGroup covers it."""
    found = {interface.pci_address: interface for interface in interfaces}
    owners: dict[str, str] = {}
    for interface in spec.interfaces or []:
        groups = [g for g in interface.vf_groups or [] if g.policy_name]
        if groups:
            owners[interface.pci_address] = ", ".join(sorted({g.policy_name or "" for g in groups}))
        for vf in (found[interface.pci_address].vfs or []) if interface.pci_address in found else []:
            group = next((g for g in groups if vf.vf_id in vf_ids(g)), None)
            if group is not None and vf.pci_address != interface.pci_address:
                owners[vf.pci_address] = group.policy_name or ""
    return owners


def explain_action(action: Action, policies: Mapping[str, str]) -> str:
    policy = policies.get(action.target)
    why = f"policy {policy}" if policy else action.reason
    return f"will {action.describe()} ({_REQUIREMENT_WORDS[action.requires]}): {why}"


def explain_plan(
    plan: Plan, spec: SriovNetworkNodeStateSpec, interfaces: Iterable[InterfaceExt]
) -> tuple[str, ...]:
    """One line per action, in the order they will run."""
    policies = policies_by_device(spec, interfaces)
    return tuple(explain_action(action, policies) for action in plan.actions)


def summarize(lines: tuple[str, ...]) -> str:
    """Lines joined for a condition message, the first MAX_LINES and how many more."""
    shown = "; ".join(lines[:MAX_LINES])
    more = len(lines) - MAX_LINES
    return f"{shown}; and {more} more" if more > 0 else shown


_REQUEST_WORDS = {DRAIN_REQUIRED: "a drain", REBOOT_REQUIRED: "a drain and a reboot"}


def drain_request(value: str, plan_text: str) -> str:
    """``requesting a drain before: <plan>``: the request in words, not its annotation token."""
    return f"requesting {_REQUEST_WORDS.get(value, repr(value))} before: {plan_text}"
