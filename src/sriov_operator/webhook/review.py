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


def parse_review(raw: bytes) -> AdmissionRequest:
    """The request of an AdmissionReview v1 body; raises MalformedReviewError naming what is wrong."""
    try:
        review = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedReviewError(f"body is not JSON: {exc}") from exc
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
    obj = dict(_mapping(body, "request.object")) if body is not None else {}
    if obj:
        obj.setdefault("kind", kind)  # some clients leave it out; the rules read it
        metadata = dict(_mapping(obj.get("metadata") or {}, "request.object.metadata"))
        if request.get("namespace"):
            metadata.setdefault("namespace", request["namespace"])
        obj["metadata"] = metadata
    return AdmissionRequest(
        uid=uid,
        kind=kind,
        operation=operation,
        namespace=str(request.get("namespace") or ""),
        object=obj,
        old_object={**_mapping(old, "request.oldObject"), "kind": kind} if old is not None else None,
    )


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
