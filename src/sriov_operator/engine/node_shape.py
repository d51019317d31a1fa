"""Nodes alike up to their PCI addresses render alike: one computation, addresses substituted.

A fleet is a few hardware models, but every node has its own PCI addresses when
the PCI domain or bus numbering differs.  No rule compares a PCI address with
anything but another address, except ``rootDevices``; so two nodes whose PFs
(sorted by address) agree in every other field the rules read, and agree in the
addresses that some policy lists in ``rootDevices``, get the same result with
the first node's addresses replaced position by position by the second's.  The
replacement keeps the sort order because both address lists are sorted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.bridges import bridge_name
from sriov_operator.engine.merge import PlannedPf
from sriov_operator.engine.placement_validation import validate_applied_policies
from sriov_operator.engine.problems import Problem
from sriov_operator.engine.selection import CompiledPolicy

_PCI_ADDRESS = re.compile(r"[0-9a-fA-F]{4,}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")


def ordered_by_address(interfaces: Sequence[InterfaceExt]) -> list[InterfaceExt]:
    return sorted(interfaces, key=lambda iface: iface.pci_address)


def _address_matters(address: str, named_addresses: frozenset[str]) -> bool:
    """Named by a policy, or not of the form messages are rewritten in (then it is never replaced)."""
    return address in named_addresses or _PCI_ADDRESS.fullmatch(address) is None


_READ_BY_RULES = attrgetter(
    "name", "vendor", "device_id", "net_filter", "totalvfs", "num_vfs", "mtu", "link_type"
)


def pf_shape(iface: InterfaceExt, named_addresses: frozenset[str]) -> Hashable:
    """Everything of a PF the rules read; its address only where it matters."""
    return (
        iface.pci_address if _address_matters(iface.pci_address, named_addresses) else None,
        tuple(iface.alt_names) if iface.alt_names else (),
        _READ_BY_RULES(iface),
    )


@dataclass(frozen=True)
class NodeRender:
    """One node's spec, device-plugin resources and problems (shared results are read-only)."""

    spec: dict[str, Any]
    resources: list[dict[str, Any]]
    problems: list[Problem]
    configuring: frozenset[str] | None = None
    """Names of the policies that configure a device here; None while the node is not discovered."""

    @cached_property
    def _resources_with_addresses(self) -> frozenset[int]:
        return frozenset(i for i, r in enumerate(self.resources) if r["selectors"]["pciAddresses"])

    def readdressed(self, mapping: Mapping[str, str]) -> NodeRender:
        """The same result for a node whose PFs sit at ``mapping[address]``."""
        spec = dict(self.spec)
        if "interfaces" in spec:
            spec["interfaces"] = [
                {**iface, "pciAddress": mapping[iface["pciAddress"]]} for iface in spec["interfaces"]
            ]
        if "bridges" in spec:
            spec["bridges"] = {"ovs": [_readdressed_bridge(b, mapping) for b in spec["bridges"]["ovs"]]}
        resources = self.resources
        if self._resources_with_addresses:
            resources = [
                _readdressed_resource(r, mapping) if i in self._resources_with_addresses else r
                for i, r in enumerate(resources)
            ]
        problems = [readdressed_problem(p, mapping) for p in self.problems]
        return NodeRender(spec, resources, problems, self.configuring)


def _readdressed_bridge(bridge: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """A bridge is named after its uplink's address (`engine.bridges.bridge_name`): both follow it."""
    uplinks = [{**u, "pciAddress": mapping.get(u["pciAddress"], u["pciAddress"])} for u in bridge["uplinks"]]
    return {**bridge, "name": bridge_name(uplinks[0]["pciAddress"]), "uplinks": uplinks}


def _readdressed_resource(resource: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    selectors = resource["selectors"]
    addresses = [mapping.get(pci, pci) for pci in selectors["pciAddresses"]]
    return {**resource, "selectors": {**selectors, "pciAddresses": addresses}}


def readdressed_problem(problem: Problem, mapping: Mapping[str, str]) -> Problem:
    """Messages name PFs by address (``describe_pf``); all are replaced at once, never one into another."""
    named = [(old, new) for old, new in mapping.items() if old != new and old in problem.message]
    if not named:
        return problem
    message = problem.message
    for number, (old, _) in enumerate(named):
        message = message.replace(old, f"\0{number}\0")
    for number, (_, new) in enumerate(named):
        message = message.replace(f"\0{number}\0", new)
    return Problem(problem.ref, problem.field, message, problem.severity)


class PfMemo:
    """What the rules make of one PF, kept for every PF alike in ``pf_shape``.

    Most rules and the merge look at one PF at a time, so a fleet whose nodes share
    no shape still shares its PFs: a heterogeneous node costs lookups, not rule
    runs.  A PF elsewhere gets the kept result with its own address.
    """

    def __init__(self, named_addresses: frozenset[str]) -> None:
        self._named_addresses = named_addresses
        self._shape_ids: dict[Hashable, int] = {}
        self._problems: dict[Hashable, tuple[str, tuple[tuple[Problem, ...], ...]]] = {}
        self._together: dict[tuple[str, ...], list[Problem]] = {}
        self._plans: dict[Hashable, tuple[str, dict[str, Any], frozenset[str]]] = {}

    def shape_id(self, iface: InterfaceExt) -> int:
        """A small number for the PF's ``pf_shape`` (equal shapes, equal numbers), for cheap keys."""
        return self._shape_ids.setdefault(pf_shape(iface, self._named_addresses), len(self._shape_ids))

    def problems(
        self, key: Hashable, address: str, find: Callable[[], list[list[Problem]]]
    ) -> tuple[tuple[Problem, ...], ...]:
        """``find()``'s answer for the PF at ``address`` (lists of problems, e.g. one per policy);
        ``key`` holds the PF's ``shape_id`` and the rule's other inputs."""
        known = self._problems.get(key)
        if known is None:
            known = (address, tuple(tuple(problems) for problems in find()))
            self._problems[key] = known
        first_address, found = known
        if first_address == address or not any(found):
            return found
        mapping = {first_address: address}
        return tuple(
            tuple(readdressed_problem(problem, mapping) for problem in problems) for problems in found
        )

    def policies_together(self, applied: Sequence[CompiledPolicy]) -> list[Problem]:
        """``validate_applied_policies``, kept for each list of applied policies (they name no PF)."""
        key = tuple(policy.name for policy in applied)
        found = self._together.get(key)
        if found is None:
            found = validate_applied_policies(applied)
            self._together[key] = found
        return list(found)

    def plan(
        self, key: Hashable, address: str, make: Callable[[], PlannedPf]
    ) -> tuple[dict[str, Any], frozenset[str]]:
        """The PF's NodeState spec entry and the policies holding VF groups there (read-only, shared)."""
        known = self._plans.get(key)
        if known is None:
            plan = make()
            known = (address, plan.to_k8s(), plan.holders)
            self._plans[key] = known
        first_address, entry, holders = known
        if first_address != address:
            entry = {**entry, "pciAddress": address}
        return entry, holders
