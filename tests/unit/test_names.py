"""Derived object names (`api.names`): one function each, valid whatever the length of the source name."""

from __future__ import annotations

import re

import pytest

from sriov_operator.api.names import (
    device_plugin_configmap_name,
    event_name,
    node_of_device_plugin_configmap,
)
from sriov_operator.operator.node_objects import device_plugin_configmap

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def test_short_names_are_the_prefix_and_the_node() -> None:
    assert device_plugin_configmap_name("w1") == "sriov-device-plugin-config-w1"
    assert device_plugin_configmap_name("n" * 226) == "sriov-device-plugin-config-" + "n" * 226


@pytest.mark.parametrize("node", ["n" * 227, "n" * 253, ("a" * 9 + ".") * 25])
def test_long_node_names_give_valid_distinct_configmap_names(node: str) -> None:
    """The last one is cut right after a dot: the result must not end in one."""
    name = device_plugin_configmap_name(node)
    assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
    assert name != device_plugin_configmap_name(node[:-1] + "x")


@pytest.mark.parametrize("node", ["w1", "n" * 250, "worker.example.com"])
def test_the_node_of_a_configmap_is_read_back_whatever_its_length(node: str) -> None:
    assert node_of_device_plugin_configmap(device_plugin_configmap(node, "ns", [], 1)) == node


def test_configmaps_that_are_not_device_plugin_configs_have_no_node() -> None:
    assert node_of_device_plugin_configmap({"metadata": {"name": "supported-nic-ids"}}) is None
    assert node_of_device_plugin_configmap({"metadata": "oops"}) is None
    legacy = {"metadata": {"name": "sriov-device-plugin-config-w2"}}  # written before labels existed
    assert node_of_device_plugin_configmap(legacy) == "w2"


@pytest.mark.parametrize("length", [1, 200, 236, 237, 253])
def test_event_names_stay_valid_for_long_object_names(length: int) -> None:
    """A 253-character policy lost its Events: '<name>.<16 hex>' is longer than the API allows."""
    regarding = "p" * length
    name = event_name(regarding, "0123456789abcdef")
    assert len(name) <= 253 and DNS_SUBDOMAIN.match(name), name
    assert name.startswith("p" * min(length, 200))
    if length + 17 <= 253:
        assert name == f"{regarding}.0123456789abcdef"
    assert event_name(regarding, "0123456789abcdee") != name
