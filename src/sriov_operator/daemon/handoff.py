"""The device-plugin config hand-off, decided from the node's ConfigMap.

The operator renders ``config.json`` into the node's ConfigMap (`api.names`)
with the NodeState spec generation it was rendered for.  The daemon copies it
to ``<host root>/etc/sriov-operator/device-plugin/config.json`` only once the
host matches that generation, so the device plugin never advertises a VF that
does not exist yet, and annotates the ConfigMap with the digest it handed over.

The file outlives a reboot; the VFs do not.  So a hand-off is valid only in
the boot it was made in (`HostHandOff`): after a reboot the daemon withdraws
it before anything else, and hands the config over again once the host
matches the spec in the new boot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sriov_operator.api.constants import (
    DEVICE_PLUGIN_CONFIG_KEY,
    FOR_GENERATION_ANNOTATION,
    HANDED_OVER_ANNOTATION,
)
from sriov_operator.host.boot import BootMark, BootMarks

HANDED_OVER: BootMark = "devicePluginHandedOver"
WITHDRAWN: BootMark = "devicePluginWithdrawn"


@dataclass(frozen=True)
class DevicePluginConfig:
    """The node's device-plugin ConfigMap, as far as the hand-off cares."""

    for_generation: int | None  # the NodeState spec generation it was rendered for
    digest: str  # sha256 of config.json
    handed_over: str | None  # digest last handed over (annotation), None before the first


@dataclass(frozen=True)
class HostHandOff:
    """The device plugin's config file on the host, and the boot it was written in."""

    on_host: bool  # the config file exists
    boot: BootMarks

    @property
    def current(self) -> bool:
        """Handed over in this boot (or the host does not tell its boots apart)."""
        if self.boot.boot_id is None:
            return self.on_host
        return self.on_host and self.boot.in_this_boot(HANDED_OVER)

    @property
    def stale(self) -> bool:
        """A file from an earlier boot (or one without a boot mark): it may list VFs that are gone."""
        return self.on_host and not self.current

    @property
    def after_boot(self) -> bool:
        """Withdrawn in this boot and not handed over since: the device plugin advertises nothing of ours."""
        return self.boot.in_this_boot(WITHDRAWN) and not self.current


def withdraw_needed(host: HostHandOff, config: DevicePluginConfig | None) -> bool:
    """A stale file on the host, or a ConfigMap that still says handed over after a withdrawal."""
    announced = config is not None and config.handed_over is not None
    return host.stale or (host.after_boot and announced)


def hand_over_needed(host: HostHandOff, config: DevicePluginConfig | None, generation: int) -> bool:
    """The host matches ``generation``: hand over a config rendered for it (or older) not yet handed over
    in this boot."""
    if config is None or (config.for_generation or 0) > generation:
        return False
    return config.handed_over != config.digest or not host.current


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
