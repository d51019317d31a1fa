"""AdmissionReview v1 in and out: parse a request body, build the response (pure)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.errors import BadInputError
from sriov_operator.webhook.admission import Verdict

ADMISSION_API_VERSION = "admission.k8s.io/v1"
REVIEW_KIND = "AdmissionReview"
DENIED_CODE = 403
MAX_DEPTH = 64  # JSON nesting accepted: a Pod is about 12 deep, our kinds about 8


class MalformedReviewError(BadInputError):
    """The body is not an AdmissionReview v1 request we can answer (HTTP 400)."""


@dataclass(frozen=True)
class AdmissionRequest:
    uid: str
    kind: str  # request.kind.kind, e.g. SriovNetworkNodePolicy or Pod
    operation: str
    namespace: str
    object: dict[str, Any]
    old_object: dict[str, Any] | None


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedReviewError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _check_depth(value: Any, limit: int) -> None:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            raise MalformedReviewError(f"body: JSON nested deeper than {limit} levels")
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _string_map(metadata: Mapping[str, Any], key: str, where: str) -> None:
    value = metadata.get(key)
    if value is None:
        return
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise MalformedReviewError(f"{where}.{key}: expected a map of strings, got {json.dumps(value)[:80]}")


def _metadata(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    metadata = dict(_mapping(obj.get("metadata") or {}, f"{where}.metadata"))
    for key in ("labels", "annotations"):
        _string_map(metadata, key, f"{where}.metadata")
    for key in ("name", "namespace", "generateName"):
        if key in metadata and not isinstance(metadata[key], str):
            raise MalformedReviewError(f"{where}.metadata.{key}: expected a string")
    return metadata


def parse_review(raw: bytes) -> AdmissionRequest:
    """The request of an AdmissionReview v1 body; raises MalformedReviewError naming what is wrong."""
    try:
        review = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedReviewError(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise MalformedReviewError(f"body: JSON nested deeper than {MAX_DEPTH} levels") from exc
    _check_depth(review, MAX_DEPTH)
    review = _mapping(review, "body")
    if review.get("apiVersion") != ADMISSION_API_VERSION or review.get("kind") != REVIEW_KIND:
        raise MalformedReviewError(
            f"apiVersion/kind: got {review.get('apiVersion')!r}/{review.get('kind')!r}; "
            f"accepted: {ADMISSION_API_VERSION!r}/{REVIEW_KIND!r}"
        )
    request = _mapping(review.get("request"), "request")
    uid = request.get("uid")
    if not isinstance(uid, str) or not uid:
        raise MalformedReviewError("request.uid: missing; the API server always sends one")
    kind = _mapping(request.get("kind"), "request.kind").get("kind")
    operation = request.get("operation")
    if not isinstance(kind, str) or not isinstance(operation, str):
        raise MalformedReviewError("request.kind.kind and request.operation must be strings")
    body = request.get("object")
    old = request.get("oldObject")
    namespace = request.get("namespace") or ""
    if not isinstance(namespace, str):
        raise MalformedReviewError("request.namespace: expected a string")
    obj = dict(_mapping(body, "request.object")) if body is not None else {}
    if obj:
        obj.setdefault("kind", kind)  # some clients leave it out; the rules read it
        metadata = _metadata(obj, "request.object")
        if namespace:
            metadata.setdefault("namespace", namespace)
        obj["metadata"] = metadata
    old_object = None
    if old is not None:
        old_object = {**_mapping(old, "request.oldObject"), "kind": kind}
        if old_object.get("metadata") is not None:
            old_object["metadata"] = _metadata(old_object, "request.oldObject")
    return AdmissionRequest(uid, kind, operation, namespace, obj, old_object)


def review_response(uid: str, verdict: Verdict) -> dict[str, Any]:
    """The AdmissionReview v1 answer: allowed or denied (403 with our messages), warnings, JSON patch."""
    response: dict[str, Any] = {"uid": uid, "allowed": verdict.allowed}
    if not verdict.allowed:
        response["status"] = {"code": DENIED_CODE, "reason": "Forbidden", "message": verdict.message}
    if verdict.warnings:
        response["warnings"] = list(verdict.warnings)
    if verdict.allowed and verdict.patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(list(verdict.patch)).encode()).decode()
    return {"apiVersion": ADMISSION_API_VERSION, "kind": REVIEW_KIND, "response": response}
