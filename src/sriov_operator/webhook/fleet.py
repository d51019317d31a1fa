"""The webhook's nodes in classes of alike ones, so a policy review costs per class, not per node.

A policy's per-node problems never name the node (`engine.render.render_node`), and
the rules read of a node only its labels (through node selectors), whether it is a
virtual machine (its providerID) and its PFs (each as `engine.node_shape.pf_shape`
sees it). So two nodes that agree in the labels some selector names (present or
absent), in virtual-ness and in their PFs, addresses included (messages carry
addresses), get the same problems from every rule: the engine renders one of them
and reports its problems on all (``stands_for``). A fleet of a few hardware models
is a few classes, whatever its size: a review of a policy selecting 5,000 such nodes
renders a handful (bench/RESULTS.md, "Webhook: policy review by node class").

The classes depend on which label keys matter: those of the cluster's selectors and of
the policy under review. The grouping for one key set is kept (`MAX_GROUPINGS`, least
recently used out) and moved node by node as the informers report changes; a review
whose policy names a new key costs one pass over the nodes.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.meta import meta_of
from sriov_operator.api.models import SriovNetworkNodeState
from sriov_operator.engine.inputs import Node
from sriov_operator.engine.node_shape import ordered_by_address, pf_shape
from sriov_operator.webhook.parsed import ParsedObjects

MAX_GROUPINGS = 8  # label key sets kept; the cluster's selectors plus each review's few keys
LabelKeys = tuple[str, ...]
ClassKey = tuple[tuple[tuple[str, str | None], ...], Hashable]  # labels that matter, the rest
NO_ADDRESSES_NAMED: frozenset[str] = frozenset()  # exact: in the key anyway; loose: no rootDevices


def map_keys(selector: Any) -> set[str]:
    """The label keys a nodeSelector map reads (a policy's, the operator config's)."""
    return {key for key in selector if isinstance(key, str)} if isinstance(selector, Mapping) else set()


def label_selector_keys(selector: Any) -> set[str]:
    """The label keys a LabelSelector (a pool's: matchLabels, matchExpressions) reads."""
    if not isinstance(selector, Mapping):
        return set()
    keys = map_keys(selector.get("matchLabels"))
    expressions = selector.get("matchExpressions")
    for expression in expressions if isinstance(expressions, list) else []:
        if isinstance(expression, Mapping) and isinstance(expression.get("key"), str):
            keys.add(expression["key"])
    return keys


@dataclass(frozen=True)
class NodeClass:
    """Alike nodes: ``node`` and ``state`` (None: none yet) are one member's, as the informers hold them."""

    node: Mapping[str, Any]
    state: Mapping[str, Any] | None
    labels: Mapping[str, str]  # the member's labels, as the engine reads them
    members: tuple[str, ...]


@dataclass
class _Grouping:
    class_of: dict[str, ClassKey]
    members: dict[ClassKey, dict[str, None]]  # insertion-ordered sets


class FleetIndex:
    """Nodes and NodeStates by name, grouped into `NodeClass`es on demand; one event loop.

    Feed it the informers' events (`set_node`, `drop_node`, `set_state`, `drop_state`);
    the engine's reading of each object goes through ``parsed`` (kept across reviews).
    """

    def __init__(self, parsed: ParsedObjects, operator_namespace: str) -> None:
        self.parsed, self.namespace = parsed, operator_namespace
        self._nodes: dict[str, Mapping[str, Any]] = {}
        self._states: dict[str, Mapping[str, Any]] = {}
        self._labels: dict[str, Mapping[str, str]] = {}
        # of a node: virtual-ness and PFs, with their PCI addresses (exact) and without (loose)
        self._rest: dict[bool, dict[str, Hashable]] = {True: {}, False: {}}
        self._dirty: set[str] = set()
        self._groupings: OrderedDict[tuple[LabelKeys, bool], _Grouping] = OrderedDict()

    @classmethod
    def of(
        cls,
        nodes: Iterable[Mapping[str, Any]],
        states: Iterable[Mapping[str, Any]],
        parsed: ParsedObjects,
        operator_namespace: str,
    ) -> FleetIndex:
        index = cls(parsed, operator_namespace)
        for node in nodes:
            index.set_node(node)
        for state in states:
            index.set_state(state)
        return index

    # ------------------------------------------------------------ informer events
    def set_node(self, node: Mapping[str, Any]) -> None:
        name = str(meta_of(node).get("name") or "")
        self._nodes[name] = {**node, "kind": "Node"}
        self._dirty.add(name)

    def drop_node(self, name: str) -> None:
        self._nodes.pop(name, None)
        self._dirty.add(name)

    def set_state(self, state: Mapping[str, Any]) -> None:
        name = str(meta_of(state).get("name") or "")
        self._states[name] = {**state, "kind": SriovNetworkNodeState.KIND}
        self._dirty.add(name)

    def drop_state(self, name: str) -> None:
        self._states.pop(name, None)
        self._dirty.add(name)

    # ------------------------------------------------------------------ classes
    def classes(self, label_keys: Iterable[str], *, exact: bool = True) -> list[NodeClass]:
        """Every node, in classes alike for selectors that read only ``label_keys``.

        ``exact=False``: PFs alike up to their PCI addresses are alike (`engine.node_shape`); such
        nodes get the same problems up to the addresses in them, so the same *absence* of problems:
        only for a first pass that is kept when it finds none, and only when no policy names
        addresses (``rootDevices``).
        """
        grouping_key = (tuple(sorted(set(label_keys))), exact)
        self._refresh()
        grouping = self._groupings.get(grouping_key)
        if grouping is None:
            grouping = _Grouping({}, {})
            for name in self._labels:
                self._place(grouping, grouping_key, name)
            self._groupings[grouping_key] = grouping
            while len(self._groupings) > MAX_GROUPINGS:
                self._groupings.popitem(last=False)
        self._groupings.move_to_end(grouping_key)
        found = []
        for members in grouping.members.values():
            name = next(iter(members))
            found.append(
                NodeClass(self._nodes[name], self._states.get(name), self._labels[name], tuple(members))
            )
        return found

    def _refresh(self) -> None:
        for name in self._dirty:
            for grouping in self._groupings.values():
                self._unplace(grouping, name)
            node = self._nodes.get(name)
            read = self.parsed.read(node, self.namespace).obj if node is not None else None
            if not isinstance(read, Node):
                self._labels.pop(name, None)
                for rest in self._rest.values():
                    rest.pop(name, None)
                continue
            self._labels[name] = read.labels
            for exact, rest in self._rest.items():
                rest[name] = (read.is_virtual, self._pfs(name, exact))
            for grouping_key, grouping in self._groupings.items():
                self._place(grouping, grouping_key, name)
        self._dirty.clear()

    def _pfs(self, name: str, exact: bool) -> Hashable:
        state = self._states.get(name)
        if state is None:
            return "no NodeState"
        read = self.parsed.read(state, self.namespace).obj
        if not isinstance(read, SriovNetworkNodeState):
            return "unreadable NodeState"  # the engine leaves it out, as if there were none
        if read.status is None or not read.status.interfaces:
            return "not discovered"  # the rules read no more of it (its spec is only rendered)
        return tuple(
            (iface.pci_address if exact else None, pf_shape(iface, NO_ADDRESSES_NAMED))
            for iface in ordered_by_address(read.status.interfaces)
        )

    def _place(self, grouping: _Grouping, grouping_key: tuple[LabelKeys, bool], name: str) -> None:
        labels = self._labels[name]
        keys, exact = grouping_key
        key = (tuple((k, labels.get(k)) for k in keys), self._rest[exact][name])
        grouping.class_of[name] = key
        grouping.members.setdefault(key, {})[name] = None

    @staticmethod
    def _unplace(grouping: _Grouping, name: str) -> None:
        key = grouping.class_of.pop(name, None)
        if key is None:
            return
        members = grouping.members[key]
        del members[name]
        if not members:
            del grouping.members[key]
