"""Partial JSON decoders: list pages and watch events read into only the fields a cache keeps.

``json.loads`` builds a Python object for every value of a response, and a busy
NodeState's status lists every VF of every PF: 5,000 of them are about 400 MiB of
JSON, most of it VFs that no controller reads and that ``slim_node_state`` drops
right after (bench/RESULTS.md, "Operator: list decode"). A `PartialDecoder` hands
msgspec a schema of the fields kept, and msgspec skips the others while it scans
the text, without building them.

The schemas follow the API models, so a field added to a model is kept without a
change here; what the server sends beyond them (fields no model knows) is not kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from types import GenericAlias
from typing import Any

import msgspec

from sriov_operator.api.models import InterfaceExt, SriovNetworkNodeStateStatus
from sriov_operator.runtime.transforms import NODE_SPEC_KEPT, NODE_STATUS_KEPT

Object = dict[str, Any]

# ObjectMeta without managedFields (server-side apply's bookkeeping, often the largest part)
OBJECT_META = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)
VFS = "Vfs"


def _struct(name: str, fields: Iterable[str | tuple[str, Any]]) -> type[msgspec.Struct]:
    """A schema of ``fields`` (a name, read as any JSON, or (name, schema)); a field the answer
    leaves out stays out of the decoded dict (UNSET is never converted)."""
    return msgspec.defstruct(
        name,
        [
            (field, Any, msgspec.UNSET) if isinstance(field, str) else (*field, msgspec.UNSET)
            for field in fields
        ],
    )


def _aliases(model: Any, leave_out: Iterable[str] = ()) -> list[str]:
    """The JSON names of a pydantic model's fields."""
    names = [field.alias or name for name, field in model.model_fields.items()]
    return [name for name in names if name not in set(leave_out)]


ObjectMeta = _struct("ObjectMeta", OBJECT_META)
NodeStatePf = _struct("NodeStatePf", _aliases(InterfaceExt, leave_out=[VFS]))
NodeStateStatus = _struct(
    "NodeStateStatus",
    [
        (name, GenericAlias(list, NodeStatePf) | None) if name == "interfaces" else name
        for name in _aliases(SriovNetworkNodeStateStatus)
    ],
)
SlimNodeState = _struct(
    "SlimNodeState",
    ["apiVersion", "kind", ("metadata", ObjectMeta), "spec", ("status", NodeStateStatus | None)],
)


class _Event(msgspec.Struct):
    type: str
    object: msgspec.Raw  # decoded after the type is known: an ERROR event carries a Status


class PartialDecoder:
    """Decodes one resource's list pages and watch events into plain dicts of the schema's fields."""

    def __init__(self, item: type[msgspec.Struct]) -> None:
        items = ("items", GenericAlias(list, item))
        page = _struct(f"{item.__name__}List", ["apiVersion", "kind", "metadata", items])
        self._page: msgspec.json.Decoder[Any] = msgspec.json.Decoder(page)
        self._item: msgspec.json.Decoder[Any] = msgspec.json.Decoder(item)
        self._event = msgspec.json.Decoder(_Event)

    def page(self, raw: bytes) -> Object:
        """A List answer: ``items`` hold only the schema's fields."""
        decoded: Object = msgspec.to_builtins(self._page.decode(raw))
        return decoded

    def event(self, raw: bytes) -> Object:
        """A watch event ``{"type", "object"}``; an ERROR event's Status is decoded whole."""
        event = self._event.decode(raw)
        if event.type == "ERROR":
            return {"type": event.type, "object": json.loads(bytes(event.object))}
        obj: Object = msgspec.to_builtins(self._item.decode(event.object))
        return {"type": event.type, "object": obj}


NODE_STATE_DECODER = PartialDecoder(SlimNodeState)
"""SriovNetworkNodeStates without managedFields and without the PFs' VF lists (``Vfs``)."""

NodeSpec = _struct("NodeSpec", NODE_SPEC_KEPT)
NodeStatus = _struct("NodeStatus", NODE_STATUS_KEPT)
SlimNode = _struct(
    "SlimNode",
    [
        "apiVersion",
        "kind",
        ("metadata", ObjectMeta),
        ("spec", NodeSpec | None),
        ("status", NodeStatus | None),
    ],
)

NODE_DECODER = PartialDecoder(SlimNode)
"""Nodes with what ``slim_node`` picks from: no images, node info, capacity, daemon endpoints or
managedFields (a kubelet's Node is mostly its image list)."""
