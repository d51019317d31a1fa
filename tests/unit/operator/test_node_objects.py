"""What the operator writes per node, and when it writes nothing."""

from __future__ import annotations

import json

from sriov_operator.api.constants import (
    DEVICE_PLUGIN_CONFIG_FOR_LABEL,
    DEVICE_PLUGIN_LABEL,
    FOR_GENERATION_ANNOTATION,
)
from sriov_operator.operator.node_objects import (
    WritesInFlight,
    configmap_needs_write,
    device_plugin_configmap,
    device_plugin_label_patch,
    node_state_body,
    node_state_needs_write,
    orphan_deletion_delay,
)

SPEC = {"interfaces": [{"pciAddress": "0000:00:04.0", "numVfs": 1}]}
RESOURCES = [{"resourceName": "dpdk1", "resourcePrefix": "openshift.io", "selectors": {}}]


def test_node_state_written_only_when_spec_differs() -> None:
    body = node_state_body("w1", "ns", SPEC)
    assert body["metadata"] == {"name": "w1", "namespace": "ns"}
    assert node_state_needs_write(None, SPEC)
    assert not node_state_needs_write({**body, "status": {"syncStatus": "Succeeded"}}, SPEC)
    assert node_state_needs_write(body, {})
    assert not node_state_needs_write({"metadata": {}}, {})
    assert "spec" not in node_state_body("w1", "ns", {})


def test_configmap_carries_config_label_and_generation() -> None:
    cm = device_plugin_configmap("w1", "ns", RESOURCES, 3)
    assert cm["metadata"]["name"] == "sriov-device-plugin-config-w1"
    assert cm["metadata"]["labels"] == {DEVICE_PLUGIN_CONFIG_FOR_LABEL: "w1"}
    assert cm["metadata"]["annotations"] == {
        FOR_GENERATION_ANNOTATION: "3",
        DEVICE_PLUGIN_CONFIG_FOR_LABEL: "w1",
    }
    assert json.loads(cm["data"]["config.json"]) == {"resourceList": RESOURCES}


def test_configmap_rewritten_only_for_new_content() -> None:
    cm = device_plugin_configmap("w1", "ns", RESOURCES, 3)
    assert not configmap_needs_write(cm, RESOURCES)
    assert configmap_needs_write(cm, [])
    assert configmap_needs_write(None, [])
    without_node = {**cm, "metadata": {**cm["metadata"], "annotations": {FOR_GENERATION_ANNOTATION: "3"}}}
    assert configmap_needs_write(without_node, RESOURCES)  # the admission policy reads the node from it


def test_long_node_names_get_a_valid_name_an_empty_label_and_the_node_in_an_annotation() -> None:
    long_name = "n" * 250
    metadata = device_plugin_configmap(long_name, "ns", [], 1)["metadata"]
    assert len(metadata["name"]) == 253
    assert metadata["labels"] == {DEVICE_PLUGIN_CONFIG_FOR_LABEL: ""}
    assert metadata["annotations"][DEVICE_PLUGIN_CONFIG_FOR_LABEL] == long_name


def test_device_plugin_label() -> None:
    bare = {"metadata": {"name": "w1", "labels": {}}}
    enabled = {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: "Enabled"}}}
    disabled = {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: "Disabled"}}}
    assert device_plugin_label_patch(bare, True) == {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: "Enabled"}}}
    assert device_plugin_label_patch(enabled, True) is None
    assert device_plugin_label_patch(enabled, False) == {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: None}}}
    assert device_plugin_label_patch(bare, False) is None
    assert device_plugin_label_patch(disabled, False) is None


def test_a_write_is_not_sent_again_before_the_cache_sees_the_object_again() -> None:
    """The reconcile runs again on its ConfigMap's event, often before the Node's own event comes
    back: the label patch that just succeeded is not sent twice; once any event for the Node came
    (its own, or an admin removing the label since), the usual comparison decides again."""
    writes = WritesInFlight()
    patch = {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: "Enabled"}}}
    assert not writes.in_flight("Node", "w1", patch)
    writes.sent("Node", "w1", patch)
    assert writes.in_flight("Node", "w1", patch)
    assert not writes.in_flight("Node", "w2", patch)
    assert not writes.in_flight("ConfigMap", "w1", patch)
    assert not writes.in_flight("Node", "w1", {"metadata": {"labels": {DEVICE_PLUGIN_LABEL: None}}})
    writes.seen("Node", "w1")
    assert not writes.in_flight("Node", "w1", patch)


def test_orphan_deletion_waits_for_the_grace() -> None:
    assert orphan_deletion_delay(100.0, 110.0, 30.0) == 20.0
    assert orphan_deletion_delay(100.0, 140.0, 30.0) == 0.0
