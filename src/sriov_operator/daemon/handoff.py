"""The device-plugin config hand-off, decided from the node's ConfigMap.

The operator renders ``config.json`` into the node's ConfigMap (`api.names`)
with the NodeState spec generation it was rendered for.  The daemon copies it
to ``<host root>/etc/sriov-operator/device-plugin/config.json`` only once the
host matches that generation, so the device plugin never advertises a VF that
does not exist yet, and annotates the ConfigMap with the digest it handed over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import (
    DEVICE_PLUGIN_CONFIG_KEY,
    FOR_GENERATION_ANNOTATION,
    HANDED_OVER_ANNOTATION,
)
from sriov_operator.daemon.sync import DevicePluginConfig


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def config_text(configmap: Mapping[str, Any]) -> str | None:
    data = configmap.get("data") or {}
    text = data.get(DEVICE_PLUGIN_CONFIG_KEY)
    return text if isinstance(text, str) else None


def read_device_plugin_config(configmap: Mapping[str, Any] | None) -> DevicePluginConfig | None:
    """None when there is no ConfigMap or it has no config.json yet (nothing to hand over)."""
    if configmap is None or (text := config_text(configmap)) is None:
        return None
    annotations = (configmap.get("metadata") or {}).get("annotations") or {}
    generation = str(annotations.get(FOR_GENERATION_ANNOTATION) or "")
    return DevicePluginConfig(
        for_generation=int(generation) if generation.isdigit() else None,
        digest=digest(text),
        handed_over=annotations.get(HANDED_OVER_ANNOTATION),
    )


def plugin_restart_needed(on_host: str | None, handed: str) -> bool:
    """Restart the node's device plugin only if it had a config and it changed.

    Before the first hand-off the plugin is still waiting for the file and
    picks it up by itself; restarting it when nothing changed is what makes
    pods fail with "no healthy devices" upstream.
    """
    return on_host is not None and on_host != handed
