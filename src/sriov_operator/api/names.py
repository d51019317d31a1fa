"""Every object name derived from another object's name, computed here and only here.

The operator writes these objects, the config daemon reads and patches them, and the
daemon's admission policy (``install/config-daemon-node-scope.yaml``) checks them, so a
name computed twice is a name that can disagree. Kubernetes names are at most 253
characters (DNS subdomains); a derived name that would be longer keeps a readable
start and ends in a hash of what it was derived from, so it stays valid and distinct.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from sriov_operator.api.constants import DEVICE_PLUGIN_CONFIG_FOR_LABEL, DEVICE_PLUGIN_CONFIGMAP_PREFIX

MAX_NAME_LENGTH = 253
MAX_LABEL_VALUE_LENGTH = 63
MAX_DNS_LABEL_LENGTH = 63
HASH_LENGTH = 16
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")
_DNS_LABEL_ONLY = re.compile(_DNS_LABEL)


def is_dns1123_label(text: str) -> bool:
    """What Kubernetes names namespaces by: lowercase letters, digits and '-', at most 63 characters.

    Checked before a name read from a user's object goes into a request path or a cache lookup.
    """
    return len(text) <= MAX_DNS_LABEL_LENGTH and _DNS_LABEL_ONLY.fullmatch(text) is not None


def is_dns1123_subdomain(text: str) -> bool:
    """What Kubernetes names most objects by: DNS-1123 labels joined by '.', at most 253 characters."""
    return len(text) <= MAX_NAME_LENGTH and _DNS_SUBDOMAIN.fullmatch(text) is not None


def bounded_name(name: str, derived_from: str) -> str:
    """``name`` when it is short enough; else its start, ``-`` and a hash of ``derived_from``."""
    if len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(derived_from.encode()).hexdigest()[:HASH_LENGTH]
    return f"{name[: MAX_NAME_LENGTH - HASH_LENGTH - 1].rstrip('.-')}-{digest}"


def device_plugin_configmap_name(node: str) -> str:
    """``sriov-device-plugin-config-<node>``; for a node name longer than 226 characters, hashed."""
    return bounded_name(DEVICE_PLUGIN_CONFIGMAP_PREFIX + node, node)


def device_plugin_configmap_labels(node: str) -> dict[str, str]:
    """The label every device-plugin ConfigMap has (watches select by it): the node, when it fits a label."""
    fits = len(node) <= MAX_LABEL_VALUE_LENGTH and _LABEL_VALUE.match(node)
    return {DEVICE_PLUGIN_CONFIG_FOR_LABEL: node if fits else ""}


def device_plugin_configmap_annotations(node: str) -> dict[str, str]:
    """The node the ConfigMap is for, whatever its length (the admission policy reads it for long names)."""
    return {DEVICE_PLUGIN_CONFIG_FOR_LABEL: node}


def node_of_device_plugin_configmap(config_map: Mapping[str, Any]) -> str | None:
    """The node a device-plugin ConfigMap is for; None when it is not one."""
    metadata = config_map.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    for key in ("annotations", "labels"):
        values = metadata.get(key)
        node = values.get(DEVICE_PLUGIN_CONFIG_FOR_LABEL) if isinstance(values, Mapping) else None
        if isinstance(node, str) and node:
            return node
    name = str(metadata.get("name") or "")
    return (
        name.removeprefix(DEVICE_PLUGIN_CONFIGMAP_PREFIX)
        if name.startswith(DEVICE_PLUGIN_CONFIGMAP_PREFIX)
        else None
    )


def event_name(regarding: str, suffix: str) -> str:
    """``<regarding object's name>.<suffix>``, hashed when a long object name would make it invalid."""
    return bounded_name(f"{regarding}.{suffix}", f"{regarding}.{suffix}")
