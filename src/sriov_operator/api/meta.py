"""Typed access to raw Kubernetes objects, and the accessors every module uses instead of walking dicts.

Objects travel as the JSON dicts the API server sends (cheap to cache, see
``kube/objects.py``). After kopf's ``RawMeta``/``RawBody``, the TypedDicts here
describe those same dicts for the type checker at no memory cost; `name_of`,
`labels_of`, `annotations_of`, … read them safely (a missing or null field is
empty), so no module writes ``(obj.get("metadata") or {}).get(...)`` itself.
`status_body` is the one server-side apply body for a status subresource.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict, cast

from sriov_operator.api.refs import ObjectRef


class RawMeta(TypedDict, total=False):
    name: str
    namespace: str
    uid: str
    resourceVersion: str
    generation: int
    creationTimestamp: str
    deletionTimestamp: str
    labels: dict[str, str]
    annotations: dict[str, str]
    finalizers: list[str]
    ownerReferences: list[dict[str, Any]]


class RawBody(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: RawMeta
    spec: dict[str, Any]
    status: dict[str, Any]
    data: dict[str, str]


def meta_of(obj: Mapping[str, Any] | None) -> RawMeta:
    """The object's metadata ({} when it has none)."""
    metadata = (obj or {}).get("metadata")
    return cast(RawMeta, metadata) if isinstance(metadata, Mapping) else RawMeta()


def name_of(obj: Mapping[str, Any] | None) -> str:
    return str(meta_of(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any] | None) -> str | None:
    namespace = meta_of(obj).get("namespace")
    return str(namespace) if namespace else None


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    labels = meta_of(obj).get("labels")
    return labels if isinstance(labels, dict) else {}


def annotations_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    annotations = meta_of(obj).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def generation_of(obj: Mapping[str, Any] | None) -> int | None:
    generation = meta_of(obj).get("generation")
    return generation if isinstance(generation, int) else None


def status_body(target: Mapping[str, Any] | ObjectRef, status: Mapping[str, Any]) -> dict[str, Any]:
    """A server-side apply body for the status subresource of ``target`` (an object or a reference)."""
    ref = target if isinstance(target, ObjectRef) else ObjectRef.of(target)
    metadata = {"name": ref.name, **({"namespace": ref.namespace} if ref.namespace else {})}
    return {"apiVersion": ref.api_version, "kind": ref.kind, "metadata": metadata, "status": dict(status)}
