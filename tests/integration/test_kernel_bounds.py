"""Every number a user sets is bounded by what a Linux kernel takes, on the API server and offline.

An accepted value must be appliable: ``mtu: 4611686018427387904`` used to pass the
schema and the webhook, and then kept a node cordoned, retrying a write the kernel
refuses. Each row is refused by the real API server (the CRD schema) and by the
engine (what ``validate`` and the webhook run), with the field named; the limit
itself is accepted by both.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio import client

from sriov_operator.api import constants
from sriov_operator.api.documents import Document
from sriov_operator.api.models import ALL_KINDS
from sriov_operator.engine.inputs import read_documents
from tests.integration.conftest import NamespaceFactory
from tests.kube_client import api_error_message

POLICY: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": "SriovNetworkNodePolicy",
    "metadata": {"name": "bounds"},
    "spec": {
        "resourceName": "intelnics",
        "nodeSelector": {"sriov": "true"},
        "numVfs": 4,
        "nicSelector": {"vendor": "8086", "pfNames": ["ens1f0"]},
        "bridge": {"ovs": {"uplink": {"interface": {"mtuRequest": 1500}}}},
    },
}
NETWORK: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": "SriovNetwork",
    "metadata": {"name": "bounds"},
    "spec": {"resourceName": "intelnics"},
}
OVS_NETWORK: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": "OVSNetwork",
    "metadata": {"name": "bounds"},
    "spec": {"resourceName": "intelnics"},
}
NODE_STATE: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": "SriovNetworkNodeState",
    "metadata": {"name": "bounds"},
    "spec": {"interfaces": [{"pciAddress": "0000:3b:00.0", "vfGroups": [{"resourceName": "r"}]}]},
}
POOL: dict[str, Any] = {
    "apiVersion": constants.API_VERSION,
    "kind": "SriovNetworkPoolConfig",
    "metadata": {"name": "bounds"},
    "spec": {},
}
HUGE = 4611686018427387904  # the value that bricked a node

# (object, field path, the limit (accepted), values past it (refused))
BOUNDS: list[tuple[dict[str, Any], str, int, tuple[int, ...]]] = [
    (POLICY, "spec.mtu", 65535, (65536, HUGE)),
    (POLICY, "spec.mtu", 68, (67, 0)),
    (POLICY, "spec.numVfs", 65535, (65536, 10**15)),
    (POLICY, "spec.priority", 99, (100,)),
    (POLICY, "spec.bridge.ovs.uplink.interface.mtuRequest", 65535, (65536, HUGE)),
    (NETWORK, "spec.vlan", 4094, (4095, HUGE)),
    (NETWORK, "spec.vlanQoS", 7, (8,)),
    (NETWORK, "spec.minTxRate", 2**32 - 1, (2**32, HUGE)),
    (NETWORK, "spec.maxTxRate", 2**32 - 1, (2**32, HUGE)),
    (OVS_NETWORK, "spec.mtu", 65535, (65536, HUGE)),
    (OVS_NETWORK, "spec.vlan", 4095, (4096,)),
    (NODE_STATE, "spec.interfaces.0.numVfs", 65535, (65536, 10**15)),
    (NODE_STATE, "spec.interfaces.0.mtu", 65535, (65536, HUGE)),
    (NODE_STATE, "spec.interfaces.0.vfGroups.0.mtu", 65535, (65536, HUGE)),
    (POOL, "spec.maxUnavailable", 2**31 - 1, (2**31, HUGE)),
]


def _with(body: dict[str, Any], path: str, value: int) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    *parents, leaf = path.split(".")
    node: Any = changed
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[leaf] = value
    return changed


def _engine_errors(body: dict[str, Any], namespace: str) -> list[str]:
    """What ``validate`` and the webhook read the object as: schema problems, field named."""
    _, problems = read_documents([Document("test.yaml", 1, body)], namespace)
    return [str(p) for p in problems if p.severity == "error"]


def _field_as_the_api_names_it(path: str) -> str:
    return ".".join(f"[{part}]" if part.isdigit() else part for part in path.split(".")).replace(".[", "[")


@pytest.mark.parametrize(
    ("body", "path", "limit", "past"),
    BOUNDS,
    ids=[f"{b['kind']}-{p}-{limit}" for b, p, limit, _ in BOUNDS],
)
async def test_each_number_is_bounded_by_what_the_kernel_takes(
    kube: client.ApiClient,
    make_namespace: NamespaceFactory,
    body: dict[str, Any],
    path: str,
    limit: int,
    past: tuple[int, ...],
) -> None:
    namespace = await make_namespace(None)
    kind = {k.KIND: k for k in ALL_KINDS}[body["kind"]]
    api = client.CustomObjectsApi(kube)
    field = _field_as_the_api_names_it(path)
    for value in past:
        bad = _with(body, path, value)
        with pytest.raises(client.ApiException) as raised:
            await api.create_namespaced_custom_object(
                constants.GROUP, constants.VERSION, namespace, kind.PLURAL, bad
            )
        assert raised.value.status == 422
        assert field in api_error_message(raised.value), (value, api_error_message(raised.value))
        [offline] = _engine_errors(bad, namespace)
        assert f": {field}: got {value!r}" in offline, offline
    good = _with(body, path, limit)
    assert _engine_errors(good, namespace) == []
    await api.create_namespaced_custom_object(
        constants.GROUP, constants.VERSION, namespace, kind.PLURAL, good
    )
