"""The network-resources injector as a pure function: annotation forms, counts, patches, missing NADs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from sriov_operator.webhook.injector import NetworkRef, inject_resources, requested_networks
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
