"""A real kube-apiserver + etcd for the whole session, with our CRDs installed.

If the binaries cannot be had or the processes do not start, every test that
needs them fails with the reason — never a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.binaries import BinariesUnavailableError
from sriov_operator.controlplane.process import ControlPlane, ControlPlaneError
from sriov_operator.controlplane.tools import DeployTools, ensure_tools
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from tests.kube_client import api_client, kube_objects
from tests.support import control_plane_report


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    plane = ControlPlane()
    try:
        plane.start()
    except (BinariesUnavailableError, ControlPlaneError) as error:
        pytest.fail(f"the real kube-apiserver + etcd could not start:\n{error}", pytrace=False)
    version = plane.get_json("/version")["gitVersion"]
    assert plane.binaries is not None
    control_plane_report.append(
        f"integration tests ran against kube-apiserver {version} + etcd on {plane.api_url} "
        f"(binaries: {plane.binaries.source}, ready in {plane.startup_seconds:.1f}s)"
    )
    yield plane
    plane.stop()


@pytest_asyncio.fixture(scope="session")
async def kube(control_plane: ControlPlane) -> AsyncIterator[client.ApiClient]:
    async with api_client(control_plane.kubeconfig) as api:
        await install_crds(kube_objects(api), [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
        yield api


NamespaceFactory = Callable[[str | None], Awaitable[str]]


@pytest_asyncio.fixture
async def make_namespace(kube: client.ApiClient) -> NamespaceFactory:
    """Create a namespace (a unique one unless a name is given); returns its name."""

    async def create(name: str | None = None) -> str:
        name = name or f"t-{uuid.uuid4().hex[:8]}"
        core = client.CoreV1Api(kube)
        try:
            await core.create_namespace({"metadata": {"name": name}})
        except client.ApiException as error:
            if error.status != 409:
                raise
        return name

    return create


@pytest_asyncio.fixture
async def objects(kube: client.ApiClient) -> KubeObjects:
    """Raw JSON access (the runtime's `KubeObjects`) on the session's API server."""
    return kube_objects(kube)


@pytest.fixture(scope="module")
def restartable_plane() -> Iterator[ControlPlane]:
    """A control plane of its own, for tests that restart kube-apiserver or compact etcd.

    Without a watch cache every watch is served from etcd, so resuming from a
    compacted resourceVersion is answered with 410 Gone, as a large cluster's
    API server does once its watch cache has moved on.
    """
    yield from own_control_plane("--watch-cache=false")


def own_control_plane(*apiserver_args: str) -> Iterator[ControlPlane]:
    """A control plane only the calling fixture's tests use (started, yielded, stopped)."""
    plane = ControlPlane(apiserver_args=apiserver_args)
    try:
        plane.start()
    except (BinariesUnavailableError, ControlPlaneError) as error:
        pytest.fail(f"the real kube-apiserver + etcd could not start:\n{error}", pytrace=False)
    yield plane
    plane.stop()


@pytest.fixture(scope="session")
def tools() -> DeployTools:
    """helm and kubectl as controlplane/tools.py builds them (never whatever ``kubectl`` is on PATH)."""
    try:
        return ensure_tools()
    except BinariesUnavailableError as error:
        pytest.fail(f"helm and kubectl could not be built:\n{error}", pytrace=False)
