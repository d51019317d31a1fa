"""Typed access to raw objects: missing or null fields read as empty; one status apply body."""

from __future__ import annotations

from typing import Any

import pytest

from sriov_operator.api.meta import (
    annotations_of,
    generation_of,
    labels_of,
    name_of,
    namespace_of,
    status_body,
)
from sriov_operator.api.refs import ObjectRef

FULL: dict[str, Any] = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodePolicy",
    "metadata": {
        "name": "p",
        "namespace": "ops",
        "generation": 3,
        "labels": {"a": "1"},
        "annotations": {"b": "2"},
    },
    "spec": {"numVfs": 4},
}


def test_accessors_read_the_metadata() -> None:
    assert (name_of(FULL), namespace_of(FULL), generation_of(FULL)) == ("p", "ops", 3)
    assert (labels_of(FULL), annotations_of(FULL)) == ({"a": "1"}, {"b": "2"})


@pytest.mark.parametrize(
    "obj", [None, {}, {"metadata": None}, {"metadata": {"labels": None, "annotations": None, "name": None}}]
)
def test_missing_or_null_reads_as_empty(obj: dict[str, Any] | None) -> None:
    assert (name_of(obj), namespace_of(obj), generation_of(obj)) == ("", None, None)
    assert (labels_of(obj), annotations_of(obj)) == ({}, {})


def test_status_body_names_only_the_object_and_carries_the_status() -> None:
    assert status_body(FULL, {"conditions": []}) == {
        "apiVersion": "sriovnetwork.openshift.io/v1",
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "p", "namespace": "ops"},
        "status": {"conditions": []},
    }
    node = ObjectRef(kind="Node", name="n1")
    assert status_body(node, {"x": 1})["metadata"] == {"name": "n1"}
