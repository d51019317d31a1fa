"""Reading the node's device-plugin ConfigMap, and when the plugin is restarted."""

from __future__ import annotations

from sriov_operator.daemon.handoff import digest, plugin_restart_needed, read_device_plugin_config

TEXT = '{"resourceList": [{"resourceName": "hwoffload1", "isRdma": true}]}'


def _configmap(annotations: dict[str, str], data: dict[str, str] | None = None) -> dict[str, object]:
    return {"metadata": {"annotations": annotations}, "data": {"config.json": TEXT} if data is None else data}


def test_reads_generation_digest_and_last_hand_over() -> None:
    config = read_device_plugin_config(
        _configmap(
            {"sriovnetwork.openshift.io/for-generation": "4", "sriovnetwork.openshift.io/handed-over": "x"}
        )
    )
    assert config is not None
    assert (config.for_generation, config.digest, config.handed_over) == (4, digest(TEXT), "x")


def test_nothing_to_hand_over_without_config() -> None:
    assert read_device_plugin_config(None) is None
    assert read_device_plugin_config(_configmap({}, data={})) is None


def test_unreadable_generation_is_none() -> None:
    config = read_device_plugin_config(_configmap({"sriovnetwork.openshift.io/for-generation": "soon"}))
    assert config is not None and config.for_generation is None


def test_plugin_restarted_only_when_its_config_changed() -> None:
    assert not plugin_restart_needed(None, TEXT)  # first hand-off: the plugin is waiting for the file
    assert not plugin_restart_needed(TEXT, TEXT)
    assert plugin_restart_needed('{"resourceList": []}', TEXT)
