"""REST paths of resources and HTTP statuses mapped to the error tree (no server needed)."""

from __future__ import annotations

import pytest

from sriov_operator.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    BadInputError,
    HostError,
    TransientError,
    exit_code_for,
)
from sriov_operator.kube import resources
from sriov_operator.kube.errors import (
    ApiUnavailableError,
    ConflictError,
    ForbiddenError,
    InvalidObjectError,
    NotFoundError,
    ResourceExpiredError,
    error_for_status,
    status_message,
)


@pytest.mark.parametrize(
    ("resource", "namespace", "name", "subresource", "path"),
    [
        (resources.NODES, None, None, None, "/api/v1/nodes"),
        (resources.NODES, "ignored", "n1", "status", "/api/v1/nodes/n1/status"),
        (resources.PODS, "ns", "p", "eviction", "/api/v1/namespaces/ns/pods/p/eviction"),
        (resources.PODS, None, None, None, "/api/v1/pods"),
        (resources.LEASES, "ns", "l", None, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/l"),
        (
            resources.SRIOV_NETWORK_NODE_STATES,
            "sriov",
            "w0",
            "status",
            "/apis/sriovnetwork.openshift.io/v1/namespaces/sriov/sriovnetworknodestates/w0/status",
        ),
        (
            resources.NETWORK_ATTACHMENT_DEFINITIONS,
            "ns",
            None,
            None,
            "/apis/k8s.cni.cncf.io/v1/namespaces/ns/network-attachment-definitions",
        ),
    ],
)
def test_api_paths(
    resource: resources.Resource, namespace: str | None, name: str | None, subresource: str | None, path: str
) -> None:
    assert resource.api_path(namespace, name, subresource) == path


def test_every_crd_kind_has_a_resource_with_the_crd_plural() -> None:
    from sriov_operator.api.models import ALL_KINDS

    ours = {r.kind: r for r in vars(resources).values() if isinstance(r, resources.Resource) and r.group}
    for kind in ALL_KINDS:
        assert ours[kind.KIND].plural == kind.PLURAL


@pytest.mark.parametrize(
    ("status", "kind", "tree", "exit_code"),
    [
        (404, NotFoundError, TransientError, EXIT_FAILURE),
        (409, ConflictError, TransientError, EXIT_FAILURE),
        (422, InvalidObjectError, BadInputError, EXIT_BAD_INPUT),
        (400, InvalidObjectError, BadInputError, EXIT_BAD_INPUT),
        (403, ForbiddenError, HostError, EXIT_FAILURE),
        (401, ForbiddenError, HostError, EXIT_FAILURE),
        (410, ResourceExpiredError, TransientError, EXIT_FAILURE),
        (500, ApiUnavailableError, TransientError, EXIT_FAILURE),
        (503, ApiUnavailableError, TransientError, EXIT_FAILURE),
        (429, ApiUnavailableError, TransientError, EXIT_FAILURE),
    ],
)
def test_statuses_map_to_the_error_tree(status: int, kind: type, tree: type, exit_code: int) -> None:
    error = error_for_status(status, "message", "GET /api/v1/nodes")
    assert isinstance(error, kind)
    assert isinstance(error, tree)
    assert error.status == status
    assert exit_code_for(error) == exit_code
    assert str(error) == "GET /api/v1/nodes: message"


def test_status_message_prefers_the_servers_message() -> None:
    body = b'{"kind":"Status","message":"spec.numVfs: Invalid value: 300","code":422}'
    assert status_message(422, body, "Unprocessable Entity") == "spec.numVfs: Invalid value: 300"
    assert status_message(502, b"<html>bad gateway</html>", "Bad Gateway") == "502 Bad Gateway"
    assert status_message(503, None) == "503"
