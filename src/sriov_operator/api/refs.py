"""Naming an object: the one `ObjectRef` (problems, Events, logs) and its ``Kind/ns/name`` form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, order=True, kw_only=True)
class ObjectRef:
    """Which object: ``Kind/namespace/name`` (``Kind/name`` when cluster-scoped).

    Equal and ordered by kind, namespace and name; ``api_version`` and ``uid`` only
    complete the ``ObjectReference`` an Event's ``regarding`` takes.
    """

    kind: str
    namespace: str = ""
    name: str
    api_version: str = field(default="v1", compare=False)
    uid: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, obj: Mapping[str, Any]) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return cls(
            kind=str(obj.get("kind") or "Object"),
            name=str(metadata.get("name") or ""),
            namespace=str(metadata.get("namespace") or ""),
            api_version=str(obj.get("apiVersion") or "v1"),
            uid=metadata.get("uid"),
        )

    def to_api(self) -> dict[str, Any]:
        """The ``ObjectReference`` form an Event's ``regarding`` takes."""
        reference = {"apiVersion": self.api_version, "kind": self.kind, "name": self.name}
        if self.namespace:
            reference["namespace"] = self.namespace
        if self.uid:
            reference["uid"] = self.uid
        return reference

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"


def ref(
    obj_or_kind: Mapping[str, Any] | ObjectRef | str, namespace: str | None = None, name: str = ""
) -> str:
    """``Kind/ns/name`` (or ``Kind/name`` for cluster-scoped objects) of an object, a ref or the parts."""
    if isinstance(obj_or_kind, str):
        return str(ObjectRef(kind=obj_or_kind, namespace=namespace or "", name=name))
    if isinstance(obj_or_kind, ObjectRef):
        return str(obj_or_kind)
    return str(ObjectRef.of(obj_or_kind))
