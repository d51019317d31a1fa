"""The network-resources injector as a pure function: annotation forms, counts, patches, missing NADs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest
import yaml

from sriov_operator.webhook.admission import AdmissionSettings, ClusterSnapshot
from sriov_operator.webhook.injector import (
    MAX_NETWORKS,
    NadKey,
    NetworkRef,
    inject_resources,
    requested_networks,
)
from sriov_operator.webhook.review import AdmissionRequest
from sriov_operator.webhook.server import Admission
from tests.docs_examples import example
from tests.unit.webhook.agreement import apply_json_patch

NADS = {
    ("app", "net-a"): {
        "metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "openshift.io/dpdk1"}}
    },
    ("app", "net-b"): {
        "metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "openshift.io/dpdk1"}}
    },
    ("infra", "net-c"): {"metadata": {"annotations": {"k8s.v1.cni.cncf.io/resourceName": "example.com/hw"}}},
    ("app", "macvlan"): {"metadata": {}},
}


def pod(networks: str | None, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "image": "x"}
    if resources is not None:
        container["resources"] = resources
    metadata: dict[str, Any] = {"name": "p"}
    if networks is not None:
        metadata["annotations"] = {"k8s.v1.cni.cncf.io/networks": networks}
    return {"metadata": metadata, "spec": {"containers": [container, {"name": "side", "image": "y"}]}}


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("net-a", [NetworkRef("app", "net-a")]),
        (" net-a@eth1 , infra/net-c ", [NetworkRef("app", "net-a"), NetworkRef("infra", "net-c")]),
        (
            '[{"name": "net-a", "interface": "e1"}, {"name": "net-c", "namespace": "infra"}]',
            [NetworkRef("app", "net-a"), NetworkRef("infra", "net-c")],
        ),
        ("", []),
    ],
)
def test_both_annotation_forms(annotation: str, expected: list[NetworkRef]) -> None:
    assert requested_networks(pod(annotation), "app") == expected


def test_resources_counted_per_network_into_the_first_container() -> None:
    body = pod("net-a, net-b, infra/net-c, macvlan")
    verdict = inject_resources(body, "app", NADS)
    assert verdict.allowed
    patched = apply_json_patch(body, verdict.patch)
    first, second = patched["spec"]["containers"]
    expected = {"openshift.io/dpdk1": "2", "example.com/hw": "1"}
    assert first["resources"] == {"requests": expected, "limits": expected}
    assert "resources" not in second


def test_existing_resources_are_kept_and_ours_set() -> None:
    body = pod('[{"name": "net-a"}]', {"requests": {"cpu": "1"}, "limits": {"openshift.io/dpdk1": "5"}})
    patched = apply_json_patch(body, inject_resources(body, "app", NADS).patch)
    assert patched["spec"]["containers"][0]["resources"] == {
        "requests": {"cpu": "1", "openshift.io/dpdk1": "1"},
        "limits": {"openshift.io/dpdk1": "1"},
    }


def test_nothing_to_do_without_sriov_networks() -> None:
    assert inject_resources(pod("macvlan"), "app", NADS).patch == ()
    assert inject_resources(pod(None), "app", NADS).patch == ()


def test_a_missing_nad_rejects_the_pod_naming_it() -> None:
    verdict = inject_resources(pod("net-a, ghost"), "app", {**NADS, ("app", "ghost"): None})
    assert not verdict.allowed
    assert verdict.message.startswith(
        'Pod/app/p: metadata.annotations["k8s.v1.cni.cncf.io/networks"]: '
        "NetworkAttachmentDefinition app/ghost not found"
    )


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        ("[{", "is not valid JSON"),
        ('{"name": "a"}', "not '[namespace/]name[@interface]'"),
        ('[{"namespace": "x"}]', 'needs a "name" string'),
        ("a/b/c", "is not '[namespace/]name[@interface]'"),
    ],
)
def test_unreadable_annotations_are_rejected_with_the_accepted_forms(annotation: str, words: str) -> None:
    verdict = inject_resources(pod(annotation), "app", NADS)
    assert not verdict.allowed and words in verdict.message, verdict.message


def test_the_two_documented_annotation_forms_name_the_same_networks() -> None:
    lines = example("network-annotations").text.splitlines()
    assert len(lines) == 2
    found = [
        requested_networks({"metadata": {"annotations": yaml.safe_load(line)}}, "apps") for line in lines
    ]
    assert found[0] == found[1] == [NetworkRef("apps", "sriov-net1"), NetworkRef("other-ns", "sriov-net2")]


HOSTILE = [
    ('[{"name": "../network-attachment-definitions?watch=true"}]', 'name "../network-attachment-definitions'),
    (
        '[{"name": "../../../../../../api/v1/namespaces/sriov-network-operator/secrets/'
        'sriov-operator-webhook-ca"}]',
        "is not a DNS-1123 subdomain",
    ),
    (
        '[{"name": "net-a", "namespace": "../kube-system"}]',
        'namespace "../kube-system" is not a DNS-1123 label',
    ),
    ('[{"name": "net-a", "namespace": 7}]', "namespace 7 is not a DNS-1123 label"),
    ('[{"name": "a..b"}]', 'name "a..b" is not a DNS-1123 subdomain'),
    ('[{"name": "' + "a" * 254 + '"}]', "at most 253 characters"),
    ("net-a?watch=true", "is not a DNS-1123 subdomain"),
    ("Kube-System/net-a", 'namespace "Kube-System" is not a DNS-1123 label'),
    ("a" * 64 + "/net-a", "at most 63 characters"),
]


@pytest.mark.parametrize(("annotation", "words"), HOSTILE)
def test_names_that_are_not_dns_names_are_refused_naming_the_entry(annotation: str, words: str) -> None:
    verdict = inject_resources(pod(annotation), "app", NADS)
    assert not verdict.allowed and words in verdict.message, verdict.message
    assert verdict.message.startswith('Pod/app/p: metadata.annotations["k8s.v1.cni.cncf.io/networks"]: ')


class Recording:
    """A cluster source that records every NAD lookup the injector asks for."""

    def __init__(self) -> None:
        self.asked: list[NadKey] = []

    def snapshot(self) -> ClusterSnapshot:
        return ClusterSnapshot()

    async def network_attachment_definitions(self, keys: Iterable[NadKey]) -> dict[NadKey, Any]:
        self.asked += list(keys)
        return {key: NADS.get(key) for key in keys}


def _pod_review(annotation: str) -> AdmissionRequest:
    return AdmissionRequest("u", "Pod", "CREATE", "app", pod(annotation), None)


@pytest.mark.parametrize(("annotation", "words"), HOSTILE)
async def test_no_lookup_is_made_for_a_refused_name(annotation: str, words: str) -> None:
    source = Recording()
    verdict = await Admission(AdmissionSettings("sriov-network-operator"), source).inject(
        _pod_review(annotation)
    )
    assert not verdict.allowed and words in verdict.message
    assert source.asked == []


async def test_a_pod_names_at_most_32_distinct_networks_and_nothing_is_looked_up_beyond() -> None:
    source = Recording()
    admission = Admission(AdmissionSettings("sriov-network-operator"), source)
    repeated = ", ".join(["net-a"] * 100 + ["net-b"])  # two distinct networks, many times: fine
    assert (await admission.inject(_pod_review(repeated))).allowed
    assert set(source.asked) == {("app", "net-a"), ("app", "net-b")}
    source.asked.clear()
    many = json.dumps([{"name": f"net-{i}"} for i in range(MAX_NETWORKS + 1)])
    verdict = await admission.inject(_pod_review(many))
    assert not verdict.allowed
    assert f"names 33 distinct networks; accepted: at most {MAX_NETWORKS} per pod" in verdict.message
    assert source.asked == []
    thousands = json.dumps([{"name": f"net-{i}"} for i in range(20_000)])
    assert not (await admission.inject(_pod_review(thousands))).allowed
    assert source.asked == []
