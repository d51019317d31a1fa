"""Defaults the mutating webhook sets on SriovNetworkNodePolicy, as JSON patches.

``render`` and ``validate`` apply the same patches before reading a policy, so
an offline check sees what the API server would store.
"""

from __future__ import annotations

import copy
from typing import Any

from sriov_operator.api.constants import DEFAULT_POLICY_NAME
from sriov_operator.api.meta import meta_of

DEFAULT_PRIORITY = 99


def policy_default_patches(body: dict[str, Any]) -> list[dict[str, Any]]:
    """RFC 6902 operations: priority → 99 and isRdma → false when absent; isRdma → true for IB netdevices."""
    spec = body.get("spec")
    name = meta_of(body).get("name")
    if name == DEFAULT_POLICY_NAME or not isinstance(spec, dict):
        return []
    patches: list[dict[str, Any]] = []
    if "priority" not in spec:
        patches.append({"op": "add", "path": "/spec/priority", "value": DEFAULT_PRIORITY})
    infiniband_netdevice = (
        str(spec.get("linkType", "")).lower() == "ib" and spec.get("deviceType") != "vfio-pci"
    )
    if infiniband_netdevice and spec.get("isRdma") is not True:
        patches.append(
            {"op": "replace" if "isRdma" in spec else "add", "path": "/spec/isRdma", "value": True}
        )
    elif "isRdma" not in spec:
        patches.append({"op": "add", "path": "/spec/isRdma", "value": False})
    return patches


def apply_policy_defaults(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` with :func:`policy_default_patches` applied."""
    result = copy.deepcopy(body)
    for patch in policy_default_patches(body):
        result["spec"][patch["path"].rsplit("/", 1)[1]] = patch["value"]
    return result
