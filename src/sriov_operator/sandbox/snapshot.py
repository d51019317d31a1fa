"""What the sandbox reads from the API server each tick: the inputs of its table and its verdict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class Snapshot:
    workers: list[str]  # the worker Node names, in order
    nodes: Mapping[str, Object] = field(default_factory=dict)
    states: Mapping[str, Object] = field(default_factory=dict)  # SriovNetworkNodeStates by node
    configmaps: Mapping[str, Object] = field(default_factory=dict)  # device-plugin ConfigMaps by node
    policies: list[Object] = field(default_factory=list)
    pod: Object | None = None


def status_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("status") or {}


def spec_interfaces(state: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list(((state or {}).get("spec") or {}).get("interfaces") or [])


def status_interfaces(state: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    return list(status_of(state).get("interfaces") or [])
