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
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import Any

from sriov_operator.api.models import InterfaceExt
from sriov_operator.engine.problems import Problem

_PCI_ADDRESS = re.compile(r"[0-9a-fA-F]{4,}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]")


def ordered_by_address(interfaces: Sequence[InterfaceExt]) -> list[InterfaceExt]:
    return sorted(interfaces, key=lambda iface: iface.pci_address)


def _address_matters(address: str, named_addresses: frozenset[str]) -> bool:
    """Named by a policy, or not of the form messages are rewritten in (then it is never replaced)."""
    return address in named_addresses or _PCI_ADDRESS.fullmatch(address) is None


_READ_BY_RULES = attrgetter(
    "name", "vendor", "device_id", "net_filter", "totalvfs", "num_vfs", "mtu", "link_type"
)


def node_shape(ordered: Sequence[InterfaceExt], named_addresses: frozenset[str]) -> tuple[Hashable, ...]:
    """Everything of a node's PFs the rules read; an address only where it matters."""
    return tuple(
        (
            i.pci_address if _address_matters(i.pci_address, named_addresses) else None,
            tuple(i.alt_names) if i.alt_names else (),
            _READ_BY_RULES(i),
        )
        for i in ordered
    )


@dataclass(frozen=True)
class NodeRender:
    """One node's spec, device-plugin resources and problems (shared results are read-only)."""

    spec: dict[str, Any]
    resources: list[dict[str, Any]]
    problems: list[Problem]

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
        resources = self.resources
        if self._resources_with_addresses:
            resources = [
                _readdressed_resource(r, mapping) if i in self._resources_with_addresses else r
                for i, r in enumerate(resources)
            ]
        problems = [_readdressed_problem(p, mapping) for p in self.problems]
        return NodeRender(spec, resources, problems)


def _readdressed_resource(resource: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    selectors = resource["selectors"]
    addresses = [mapping.get(pci, pci) for pci in selectors["pciAddresses"]]
    return {**resource, "selectors": {**selectors, "pciAddresses": addresses}}


def _readdressed_problem(problem: Problem, mapping: Mapping[str, str]) -> Problem:
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
