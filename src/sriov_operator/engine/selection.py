"""Which nodes the operator manages, which policies select a node, which PFs a policy selects."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sriov_operator.api.constants import DEFAULT_CONFIG_DAEMON_NODE_SELECTOR
from sriov_operator.api.models import (
    MAX_VFS,
    InterfaceExt,
    LabelSelector,
    SriovNetworkNodePolicy,
    SriovNetworkPoolConfig,
    SriovOperatorConfig,
)

# Upstream's netFilter grammar: the key is greedy, so it runs up to the last ':'.
_NET_FILTER = re.compile(r"^\s*(\S+)\s*:\s*(\S+)")
_VF_RANGE = re.compile(r"^(\d+)-(\d+)$")

VfRange = tuple[int, int]


def parse_net_filter(value: str | None) -> tuple[str, str] | None:
    match = _NET_FILTER.match(value or "")
    return (match[1], match[2]) if match else None


def pf_name_part(entry: str) -> str:
    """``ens1f0#2-7`` → ``ens1f0``."""
    return entry.partition("#")[0]


def parse_vf_range(entry: str) -> VfRange | None:
    """The ``#a-b`` part of a pfNames entry; None without one. Raises ValueError when malformed."""
    if "#" not in entry:
        return None
    parts = entry.split("#")
    if len(parts) != 2:
        raise ValueError("has more than one '#'; accepted: '<pf name>' or '<pf name>#<first>-<last>'")
    match = _VF_RANGE.match(parts[1])
    if not match:
        raise ValueError("VF range must be '<first>-<last>' with integers, e.g. 'ens1f0#0-3'")
    if len(match[2]) > len(str(MAX_VFS)) or int(match[2]) >= MAX_VFS:
        raise ValueError(f"VF range ends above VF {MAX_VFS - 1}, the most a PF can have ({MAX_VFS} VFs)")
    first, last = int(match[1]), int(match[2])
    if first > last:
        raise ValueError(f"VF range {first}-{last} starts after it ends; accepted: first <= last")
    return first, last


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """Every selector pair equals a node label (an empty selector matches every node)."""
    return all(labels.get(key) == value for key, value in selector.items())


def label_selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics: a missing selector matches nothing, an empty one everything."""
    if selector is None:
        return False
    if not labels_match(selector.match_labels or {}, labels):
        return False
    for requirement in selector.match_expressions or []:
        present = requirement.key in labels
        value_in = present and labels[requirement.key] in (requirement.values or [])
        satisfied = {
            "In": value_in,
            "NotIn": not value_in,
            "Exists": present,
            "DoesNotExist": not present,
        }[requirement.operator]
        if not satisfied:
            return False
    return True


def config_daemon_node_selector(config: SriovOperatorConfig | None) -> dict[str, str]:
    if config is not None and config.spec.config_daemon_node_selector:
        return dict(config.spec.config_daemon_node_selector)
    return dict(DEFAULT_CONFIG_DAEMON_NODE_SELECTOR)


def pools_of_node(pools: Iterable[SriovNetworkPoolConfig], labels: Mapping[str, str]) -> list[str]:
    """Pools selecting the node, as upstream: a pool without nodeSelector selects every node, and a
    hardware-offload pool (it names a MachineConfigPool, not nodes) selects none."""
    return sorted(
        pool.name
        for pool in pools
        if not (pool.spec.ovs_hardware_offload_config and pool.spec.ovs_hardware_offload_config.name)
        and label_selector_matches(pool.spec.node_selector or LabelSelector(), labels)
    )


@dataclass(frozen=True)
class CompiledPolicy:
    """A policy with its selector pre-digested; ``apply_order`` sorts it for the merge."""

    policy: SriovNetworkNodePolicy
    name: str
    priority: int
    resource_name: str
    num_vfs: int
    vendor: str | None
    device_id: str | None
    root_devices: frozenset[str]
    pf_names: tuple[str, ...]
    # name part → (position, VF range) of the first pfNames entry with that name
    first_entry: Mapping[str, tuple[int, VfRange | None]]
    pf_name_parts: frozenset[str]
    net_filter: tuple[str, str] | None
    selects_anything: bool

    @property
    def apply_order(self) -> tuple[int, str]:
        """Priority number descending, then name: priority 0 is applied last and wins."""
        return (-self.priority, self.name)

    def selects_node(self, labels: Mapping[str, str]) -> bool:
        return labels_match(self.policy.spec.node_selector, labels)

    def selects(self, iface: InterfaceExt) -> bool:
        if not self.selects_anything:
            return False
        if self.vendor and self.vendor != iface.vendor:
            return False
        if self.device_id and self.device_id != iface.device_id:
            return False
        if self.root_devices and iface.pci_address not in self.root_devices:
            return False
        if self.pf_name_parts and not self.pf_name_parts.intersection(interface_names(iface)):
            return False
        return not self.net_filter or parse_net_filter(iface.net_filter) == self.net_filter

    def explicit_range_for(self, iface: InterfaceExt) -> VfRange | None:
        """The range of the first pfNames entry naming this PF (by name or altName), if it has one."""
        if not self.first_entry:
            return None
        if not iface.alt_names:
            found = self.first_entry.get(iface.name) if iface.name else None
            return found[1] if found else None
        entries = [self.first_entry[name] for name in interface_names(iface) if name in self.first_entry]
        return min(entries)[1] if entries else None  # positions differ, so min never compares ranges

    def vf_range_for(self, iface: InterfaceExt) -> VfRange:
        return self.explicit_range_for(iface) or (0, self.num_vfs - 1)


def interface_names(iface: InterfaceExt) -> set[str]:
    names = set(iface.alt_names or [])
    if iface.name:
        names.add(iface.name)
    return names


def compile_policy(policy: SriovNetworkNodePolicy) -> CompiledPolicy:
    spec = policy.spec
    selector = spec.nic_selector
    pf_names = tuple(selector.pf_names or [])
    net_filter = parse_net_filter(selector.net_filter)
    pf_entries = []
    for entry in pf_names:
        try:
            pf_entries.append((pf_name_part(entry), parse_vf_range(entry)))
        except ValueError:  # reported by validation, which keeps such a policy out of the render
            pf_entries.append((pf_name_part(entry), None))
    unreadable_net_filter = bool(selector.net_filter) and net_filter is None
    return CompiledPolicy(
        policy=policy,
        name=policy.name,
        priority=spec.priority,
        resource_name=spec.resource_name,
        num_vfs=spec.num_vfs,
        vendor=selector.vendor,
        device_id=selector.device_id,
        root_devices=frozenset(selector.root_devices or []),
        pf_names=pf_names,
        first_entry={
            name: (position, vf_range) for position, (name, vf_range) in reversed(list(enumerate(pf_entries)))
        },
        pf_name_parts=frozenset(pf_name_part(entry) for entry in pf_names),
        net_filter=net_filter,
        selects_anything=not unreadable_net_filter
        and bool(selector.vendor or selector.device_id or selector.root_devices or pf_names or net_filter),
    )


class PoliciesByNodeSelector:
    """Policies grouped by ``nodeSelector``, and the groups indexed by the label pairs they require.

    A node costs one lookup per label it carries, however many policies there are.
    """

    def __init__(self, policies: Sequence[CompiledPolicy]) -> None:
        groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for index, policy in enumerate(policies):
            groups.setdefault(tuple(sorted(policy.policy.spec.node_selector.items())), []).append(index)
        self._policies_of_group = [tuple(indexes) for indexes in groups.values()]
        self._size_of_group = [len(selector) for selector in groups]
        self._groups_requiring: dict[tuple[str, str], list[int]] = {}
        for group, selector in enumerate(groups):
            for pair in selector:
                self._groups_requiring.setdefault(pair, []).append(group)
        self._unconditional = tuple(g for g, size in enumerate(self._size_of_group) if size == 0)
        self._by_matched_groups: dict[tuple[int, ...], tuple[int, ...]] = {}

    def _matched_groups(self, labels: Mapping[str, str]) -> tuple[int, ...]:
        pairs_found: dict[int, int] = {}
        for pair in labels.items():
            for group in self._groups_requiring.get(pair, ()):
                pairs_found[group] = pairs_found.get(group, 0) + 1
        complete = [g for g, found in pairs_found.items() if found == self._size_of_group[g]]
        return tuple(sorted([*self._unconditional, *complete]))

    def selecting(self, labels: Mapping[str, str]) -> tuple[int, ...]:
        """Indexes (in apply order) of the policies whose nodeSelector the labels satisfy."""
        matched = self._matched_groups(labels)
        applicable = self._by_matched_groups.get(matched)
        if applicable is None:
            applicable = tuple(sorted(i for g in matched for i in self._policies_of_group[g]))
            self._by_matched_groups[matched] = applicable
        return applicable

    def nodes_by_policy(self, labels_by_node: Mapping[str, Mapping[str, str]]) -> dict[int, frozenset[str]]:
        """Policy index → the nodes it selects."""
        nodes_of_group: list[list[str]] = [[] for _ in self._policies_of_group]
        for name, labels in labels_by_node.items():
            for group in self._matched_groups(labels):
                nodes_of_group[group].append(name)
        selected: dict[int, frozenset[str]] = {}
        for indexes, nodes in zip(self._policies_of_group, nodes_of_group, strict=True):
            selected.update(dict.fromkeys(indexes, frozenset(nodes)))
        return selected


class PoliciesByPf:
    """Policies indexed by the PF names they list, else by vendor, else by device id.

    A PF is tested only against the policies that could select it, and the answer
    is kept for every PF alike in what selectors read (names, vendor, device id,
    netFilter, and the address where a policy lists it in ``rootDevices``), so a
    fleet of many nodes costs a lookup per PF.
    """

    def __init__(self, policies: Sequence[CompiledPolicy]) -> None:
        self._policies = policies
        self._by_name: dict[str, list[int]] = {}
        self._by_vendor: dict[str, list[int]] = {}
        self._by_device: dict[str, list[int]] = {}
        self._others: list[int] = []
        for index, policy in enumerate(policies):  # one that selects nothing: its `selects` says no
            if policy.pf_name_parts:
                for name in policy.pf_name_parts:
                    self._by_name.setdefault(name, []).append(index)
            elif policy.vendor:
                self._by_vendor.setdefault(policy.vendor, []).append(index)
            elif policy.device_id:
                self._by_device.setdefault(policy.device_id, []).append(index)
            else:
                self._others.append(index)
        self._named_addresses = frozenset(address for policy in policies for address in policy.root_devices)
        self._known: dict[Hashable, tuple[int, ...]] = {}

    def selecting(self, iface: InterfaceExt) -> tuple[int, ...]:
        """Indexes (ascending) of the policies whose nicSelector selects the PF."""
        address = iface.pci_address
        key = (
            iface.name,
            tuple(iface.alt_names) if iface.alt_names else (),
            iface.vendor,
            iface.device_id,
            iface.net_filter,
            address if address in self._named_addresses else None,
        )
        found = self._known.get(key)
        if found is None:
            candidates = set(self._others)
            for name in interface_names(iface):
                candidates.update(self._by_name.get(name, ()))
            candidates.update(self._by_vendor.get(iface.vendor or "", ()))
            candidates.update(self._by_device.get(iface.device_id or "", ()))
            found = tuple(sorted(i for i in candidates if self._policies[i].selects(iface)))
            self._known[key] = found
        return found

    def selected_on_node(
        self, applicable: Sequence[int], interfaces: Sequence[InterfaceExt]
    ) -> list[tuple[int, list[InterfaceExt]]]:
        """(policy index, the PFs it selects in ``interfaces`` order) for each applicable policy, in order."""
        selected: dict[int, list[InterfaceExt]] = {index: [] for index in applicable}
        for iface in interfaces:
            for index in self.selecting(iface):
                pfs = selected.get(index)
                if pfs is not None:
                    pfs.append(iface)
        return list(selected.items())
