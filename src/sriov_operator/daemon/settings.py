"""The config daemon's one settings object, built by ``commands/daemon.py`` and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field

from sriov_operator.runtime.settings import RuntimeSettings

DEFAULT_REDISCOVER_SECONDS = 30.0


@dataclass(frozen=True)
class DaemonSettings:
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    node_name: str = ""
    rediscover_seconds: float = DEFAULT_REDISCOVER_SECONDS  # look at the host again (hot-plugged NICs)
