"""The engine's reading of cached cluster objects, kept across admission reviews.

Every policy review hands the engine the Nodes and NodeStates the policy selects;
reading them (pydantic validation, defaults, namespace checks) was about half of a
review's CPU at 100 nodes (bench/RESULTS.md, "Admission webhook"). An object read
once is kept under its kind, namespace and name together with the resourceVersion it
was read at: a lookup with another resourceVersion reads it again, so a missed
invalidation can cost a parse, never a stale answer. The informers' handlers drop
entries on change and delete (`forget`; a relist reports its differences as such
events too), and at most ``capacity`` entries are kept, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.documents import Document
from sriov_operator.api.meta import meta_of
from sriov_operator.engine.inputs import ReadObject, read_object

# The Nodes and NodeStates of 5,000 nodes: about 1 KB per Node and 5 KB per two-PF NodeState
# (bench/RESULTS.md), some 30 MB at most. Fewer would not do: a policy selecting every node reads
# them all in turn, and least-recently-used order then drops each entry just before its next use.
DEFAULT_CAPACITY = 10_000
CLUSTER_SOURCE = "<cluster>"

EntryKey = tuple[str, str, str]  # kind, namespace ("" for Nodes), name


class ParsedObjects:
    """Bounded, resourceVersion-checked memo of `engine.inputs.read_object`; one event loop."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        # key -> (resourceVersion, operator namespace, what the engine read)
        self._entries: OrderedDict[EntryKey, tuple[str, str, ReadObject]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: EntryKey) -> bool:
        return key in self._entries

    @staticmethod
    def key(kind: str, obj: Mapping[str, Any]) -> EntryKey:
        metadata = meta_of(obj)
        return (kind, str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))

    def read(self, obj: Mapping[str, Any], operator_namespace: str) -> ReadObject:
        """``obj`` (its ``kind`` set) as the engine reads it; one without a resourceVersion is not kept."""
        version = str(meta_of(obj).get("resourceVersion") or "")
        if not version:
            return read_object(Document(CLUSTER_SOURCE, 0, dict(obj)), operator_namespace)
        key = self.key(str(obj.get("kind")), obj)
        entry = self._entries.get(key)
        if entry is not None and entry[:2] == (version, operator_namespace):
            self.hits += 1
            self._entries.move_to_end(key)
            return entry[2]
        self.misses += 1
        read = read_object(Document(CLUSTER_SOURCE, 0, dict(obj)), operator_namespace)
        self._entries[key] = (version, operator_namespace, read)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return read

    def forget(self, kind: str, obj: Mapping[str, Any]) -> None:
        self._entries.pop(self.key(kind, obj), None)
