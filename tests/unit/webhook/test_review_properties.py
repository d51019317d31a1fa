"""Any AdmissionReview body gets an answer or a 400, never a failure inside the webhook (a 500).

Hypothesis takes a valid review for each endpoint and each kind the endpoint reads,
replaces one value anywhere in it by any JSON value (or drops it), and checks that
`parse_review` refuses it with a `MalformedReviewError` (HTTP 400) or the endpoint's
decision returns a verdict (HTTP 200).  Depth and size limits have their own tests.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot, Verdict
from sriov_operator.webhook.injector import NadKey
from sriov_operator.webhook.review import MAX_DEPTH, MalformedReviewError, parse_review
from sriov_operator.webhook.server import Admission
from tests.integration.webhook_support import node_state_body

NAMESPACE = "sriov-network-operator"
NAD = {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "openshift.io/dpdk1"}}}


class Cluster:
    def snapshot(self) -> ClusterSnapshot:
        node = {"metadata": {"name": "w1", "labels": {"sriov": "true"}, "resourceVersion": "1"}}
        state = node_state_body("w1", NAMESPACE)
        state["metadata"]["resourceVersion"] = "2"
        state["status"]["syncStatus"] = "InProgress"
        return ClusterSnapshot(nodes=[node], node_states=[state], policies=[_policy("other")])

    async def network_attachment_definitions(self, keys: Iterable[NadKey]) -> dict[NadKey, Any]:
        return {key: NAD for key in keys}


def _policy(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": "3"},
        "spec": {
            "resourceName": name,
            "nodeSelector": {"sriov": "true"},
            "numVfs": 8,
            "priority": 10,
            "mtu": 9000,
            "nicSelector": {"pfNames": ["ens1f0#0-3"], "vendor": "8086"},
            "deviceType": "vfio-pci",
        },
    }


OBJECTS: dict[str, dict[str, Any]] = {
    "Pod": {
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "annotations": {"k8s.v1.cni.cncf.io/networks": '[{"name": "net-a"}, {"name": "net-b"}]'},
        },
        "spec": {"containers": [{"name": "web", "image": "x", "resources": {"requests": {"cpu": "1"}}}]},
    },
    "SriovNetworkNodePolicy": _policy("mine"),
    "SriovNetwork": {
        "metadata": {"name": "net", "namespace": NAMESPACE},
        "spec": {"resourceName": "mine", "networkNamespace": "apps", "vlan": 10, "ipam": "{}"},
    },
    "SriovOperatorConfig": {
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": {"enableInjector": True, "enableOperatorWebhook": True, "disableDrain": True},
    },
    "SriovNetworkPoolConfig": {
        "metadata": {"name": "pool", "namespace": NAMESPACE},
        "spec": {"maxUnavailable": "10%", "nodeSelector": {"matchLabels": {"sriov": "true"}}},
    },
}
ENDPOINTS = {"validate": Admission.validate, "mutate": Admission.mutate, "inject": Admission.inject}


def review(kind: str) -> dict[str, Any]:
    obj = OBJECTS[kind]
    old = copy.deepcopy(obj)
    if kind == "SriovOperatorConfig":
        old["spec"]["disableDrain"] = False
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "operation": "CREATE" if kind == "Pod" else "UPDATE",
            "namespace": "apps" if kind == "Pod" else NAMESPACE,
            "object": copy.deepcopy(obj),
            "oldObject": old,
        },
    }


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from paths(child, (*prefix, index))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)
DROP = object()


def mutated(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    if not path:
        return value  # type: ignore[no-any-return]
    body = copy.deepcopy(body)
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    if value is DROP:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return body


def answer(endpoint: str, body: bytes) -> int:
    """The HTTP status the webhook would give: 400 malformed, 200 with a verdict; anything else raises."""
    try:
        request = parse_review(body)
    except MalformedReviewError:
        return 400
    verdict = asyncio.run(ENDPOINTS[endpoint](Admission(AdmissionSettings(NAMESPACE), Cluster()), request))
    assert isinstance(verdict, Verdict)
    return 200


CASES = [
    ("inject", "Pod"),
    ("mutate", "SriovNetworkNodePolicy"),
    *(("validate", kind) for kind in OBJECTS if kind != "Pod"),
]


@pytest.mark.parametrize(("endpoint", "kind"), CASES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_one_value_changed_gets_an_answer_or_a_400(endpoint: str, kind: str, data: st.DataObject) -> None:
    body = review(kind)
    path = data.draw(st.sampled_from(list(paths(body))))
    value = data.draw(JSON | st.just(DROP)) if path else data.draw(JSON)
    assert answer(endpoint, json.dumps(mutated(body, path, value)).encode()) in (200, 400)


@pytest.mark.parametrize(("endpoint", "kind"), CASES)
def test_the_valid_reviews_are_answered(endpoint: str, kind: str) -> None:
    assert answer(endpoint, json.dumps(review(kind)).encode()) == 200


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("request", "object", "metadata", "annotations"), True),
        (("request", "object", "metadata", "annotations"), ["k8s.v1.cni.cncf.io/networks"]),
        (("request", "object", "metadata"), "web"),
        (("request", "oldObject", "metadata", "labels"), 7),
        (("request", "object", "metadata", "annotations", "k8s.v1.cni.cncf.io/networks"), 3),
    ],
)
def test_found_by_the_fuzzer_metadata_of_the_wrong_type_is_a_400(path: tuple[str, ...], value: Any) -> None:
    body = json.dumps(mutated(review("Pod"), path, value)).encode()
    with pytest.raises(MalformedReviewError, match=r"request\.(old)?[oO]bject\.metadata"):
        parse_review(body)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 1_000, 100_000])
def test_deeply_nested_json_is_a_400_naming_the_limit(depth: int) -> None:
    body = review("Pod")
    body["request"]["object"]["spec"]["deep"] = json.loads("[" * 50 + "]" * 50)
    text = json.dumps(body).replace('"deep": ' + "[" * 50 + "]" * 50, '"deep": ' + "[" * depth + "]" * depth)
    with pytest.raises(MalformedReviewError, match=f"nested deeper than {MAX_DEPTH}"):
        parse_review(text.encode())


def test_nesting_up_to_the_limit_is_read() -> None:
    body = review("Pod")
    inner: Any = []
    for _ in range(MAX_DEPTH - 6):  # the review's own levels: body, request, object, spec, deep, ...
        inner = [inner]
    body["request"]["object"]["spec"]["deep"] = inner
    assert parse_review(json.dumps(body).encode()).kind == "Pod"
