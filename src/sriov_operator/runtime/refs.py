"""Naming an object: ``Kind/ns/name`` in logs, and an object reference for Events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str
    namespace: str | None = None
    api_version: str = "v1"
    uid: str | None = None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> ObjectRef:
        metadata = obj.get("metadata") or {}
        return cls(
            kind=str(obj.get("kind") or "Object"),
            name=str(metadata.get("name") or ""),
            namespace=metadata.get("namespace"),
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


def ref(
    obj_or_kind: dict[str, Any] | ObjectRef | str, namespace: str | None = None, name: str | None = None
) -> str:
    """``Kind/ns/name`` (or ``Kind/name`` for cluster-scoped objects)."""
    if isinstance(obj_or_kind, str):
        reference = ObjectRef(obj_or_kind, name or "", namespace)
    elif isinstance(obj_or_kind, ObjectRef):
        reference = obj_or_kind
    else:
        reference = ObjectRef.of(obj_or_kind)
    if reference.namespace:
        return f"{reference.kind}/{reference.namespace}/{reference.name}"
    return f"{reference.kind}/{reference.name}"
