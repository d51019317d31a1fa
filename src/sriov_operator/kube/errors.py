"""API server failures as members of the one error tree (`sriov_operator.errors`).

The HTTP status decides the kind: a retry can get past a conflict, an
unavailable server or an expired watch; it cannot get past an object the server
rejects; a forbidden request needs someone to fix RBAC.
"""

from __future__ import annotations

import json
from typing import Any

from sriov_operator.errors import BadInputError, HostError, SriovOperatorError, TransientError


class KubeApiError(SriovOperatorError):
    """Mixed into every API error: the HTTP status the server answered (0: no answer)."""

    status: int = 0


class NotFoundError(KubeApiError, TransientError):
    """404 where an object was required (a patch of an object deleted meanwhile)."""


class ConflictError(KubeApiError, TransientError):
    """409: the object changed (resourceVersion precondition) or already exists."""


class InvalidObjectError(KubeApiError, BadInputError):
    """400/422: the server rejected the object; the message is the server's (it names the field)."""


class ForbiddenError(KubeApiError, HostError):
    """401/403: our credentials or RBAC do not allow the request."""


class ApiUnavailableError(KubeApiError, TransientError):
    """5xx, 429, a timeout or no connection: the API server could not answer now."""


class ResourceExpiredError(KubeApiError, TransientError):
    """410 Gone: the resourceVersion a watch or list continued from was compacted away."""


class EvictionBlockedError(KubeApiError, TransientError):
    """429 from the eviction subresource: a PodDisruptionBudget does not allow it now."""


def status_message(status: int, body: str | bytes | None, reason: str = "") -> str:
    """The server's Status message (it names the field and the accepted values), else the HTTP reason."""
    try:
        document: Any = json.loads(body or b"")
    except ValueError:
        document = None
    if isinstance(document, dict) and document.get("message"):
        return str(document["message"])
    return f"{status} {reason}".strip()


def error_for_status(status: int, message: str, request: str) -> KubeApiError:
    """The error of our tree for an HTTP ``status`` answering ``request`` (e.g. ``PATCH nodes/n1``)."""
    text = f"{request}: {message}"
    kind: type[KubeApiError]
    if status == 404:
        kind = NotFoundError
    elif status == 409:
        kind = ConflictError
    elif status in (400, 422):
        kind = InvalidObjectError
    elif status in (401, 403):
        kind = ForbiddenError
    elif status == 410:
        kind = ResourceExpiredError
    else:
        kind = ApiUnavailableError
    error = kind(text)
    error.status = status
    return error
