"""The sandbox's stand-in for the kubelet, for the operator's own workload pods only (pure).

The operator renders the config daemon and device plugin DaemonSets and the webhook
Deployment from the SriovOperatorConfig, and the config's ``Ready`` waits for their
rollouts. No kubelet runs in the sandbox, so those pods would stay Pending and the
config not Ready forever, with nothing saying why. But the sandbox runs what the
pods would run: a config daemon per worker, the webhook, and the device plugin's part
(``device_plugin.py``). So, as a kubelet would, it reports exactly those pods, once
the scheduler has bound them, Running and Ready. Every other pod (the example's)
stays Pending.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sriov_operator.api.conditions import timestamp
from sriov_operator.api.constants import CONFIG_DAEMON_NAME, DEVICE_PLUGIN_NAME, WEBHOOK_SERVICE_NAME

STOOD_IN = frozenset({CONFIG_DAEMON_NAME, DEVICE_PLUGIN_NAME, WEBHOOK_SERVICE_NAME})
"""The ``app`` label of the pods the sandbox runs the work of."""
CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


def _ready(pod: Mapping[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def running_status(pod: Mapping[str, Any], now: datetime) -> dict[str, Any] | None:
    """The status patch reporting ``pod`` Running and Ready; None for a pod the sandbox does not run
    the work of, one not bound to a node yet, one going away, or one already reported."""
    metadata = pod.get("metadata") or {}
    app = (metadata.get("labels") or {}).get("app")
    bound = (pod.get("spec") or {}).get("nodeName")
    if app not in STOOD_IN or not bound or metadata.get("deletionTimestamp") or _ready(pod):
        return None
    since = timestamp(now)
    containers = [
        {
            "name": container["name"],
            "image": container.get("image", ""),
            "imageID": "",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": since}},
        }
        for container in (pod.get("spec") or {}).get("containers") or []
    ]
    return {
        "status": {
            "phase": "Running",
            "startTime": since,
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": since} for t in CONDITIONS],
            "containerStatuses": containers,
        }
    }
