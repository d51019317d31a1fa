"""The sandbox's stand-in for the kubelet (pure): what it reports of the pods bound to its nodes.

No kubelet runs in the sandbox. Two things a kubelet does would be missed:

* **The operator's own workload pods run.** The operator renders the config daemon and
  device plugin DaemonSets and the webhook Deployment from the SriovOperatorConfig, and
  the config's ``Ready`` waits for their rollouts. The sandbox runs what those pods would
  run: a config daemon per worker, the webhook, and the device plugin's part
  (``device_plugin.py``). So, as a kubelet would, it reports exactly those pods, once the
  scheduler has bound them, Running and Ready (:func:`running_status`).
* **Pods going away end.** Deleting (or evicting) a pod bound to a node only sets its
  ``deletionTimestamp``: the API server then waits for the node's kubelet to stop the
  containers and delete the pod. Without that, a drain waits for ever for the pods it
  evicted and the node never converges. So for any pod bound to one of the sandbox's
  nodes, the stand-in does what a kubelet does once the pod's grace period is over
  (:func:`termination`): it reports the pod ``Failed`` with every container terminated,
  then deletes it with ``gracePeriodSeconds: 0`` and a precondition on its UID, so that a
  pod re-created under the same name meanwhile is left alone. It waits the whole grace
  period, as for containers that ignore SIGTERM: drains in the sandbox take as long as
  they could on a cluster, never less.

Every other pod (the example's ``dpdk-app``, any pod a user creates) stays ``Pending``
while it lives: nothing runs its containers and no CNI plugin attaches its networks, so
reporting it Running would be a lie.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sriov_operator.api.conditions import timestamp
from sriov_operator.api.constants import CONFIG_DAEMON_NAME, DEVICE_PLUGIN_NAME, WEBHOOK_SERVICE_NAME

STOOD_IN = frozenset({CONFIG_DAEMON_NAME, DEVICE_PLUGIN_NAME, WEBHOOK_SERVICE_NAME})
"""The ``app`` label of the pods the sandbox runs the work of."""
CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")
NOT_READY_WHEN_STOPPED = ("ContainersReady", "Ready")
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
KILLED_EXIT_CODE = 137  # 128 + SIGKILL: a container still there when its grace period is over
STOPPED_REASON = "ContainerStatusUnknown"  # the kubelet's reason for a container it cannot find at the end
STOPPED_MESSAGE = "no kubelet runs containers in the sandbox: stopped at the end of the pod's grace period"
CONTAINER_KINDS = (("initContainers", "initContainerStatuses"), ("containers", "containerStatuses"))


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


@dataclass(frozen=True)
class Termination:
    """A pod going away from one of the sandbox's nodes, and how the kubelet stand-in ends it."""

    namespace: str
    name: str
    uid: str
    node: str
    grace_seconds: int
    """``deletionGracePeriodSeconds``: how long its containers get to stop."""
    due: datetime
    """The end of the grace period: ``deletionTimestamp``, which the API server sets to the moment the
    deletion was asked for plus ``deletionGracePeriodSeconds`` (and moves earlier when a later
    deletion gives a shorter grace period)."""
    stopped: dict[str, Any] | None
    """The pod as listed with its final status (phase ``Failed``, every container terminated, not
    Ready), for a compare-and-swap update of its status (its ``resourceVersion`` and ``uid`` make sure
    it is still the pod that was listed); None when the pod already reports a terminal phase."""

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    def is_due(self, now: datetime) -> bool:
        """Whether the grace period is over: time to report the pod stopped and delete it."""
        return now >= self.due


def termination(pod: Mapping[str, Any], nodes: Collection[str]) -> Termination | None:
    """How the stand-in ends ``pod``; None for a pod not going away, one bound to none of the sandbox's
    ``nodes``, or one already reported ended and deleted with no grace period (only its finalizers keep
    it, and their owners remove them)."""
    metadata = pod.get("metadata") or {}
    node = (pod.get("spec") or {}).get("nodeName")
    deletion = metadata.get("deletionTimestamp")
    if not deletion or node not in nodes:
        return None
    grace = int(metadata.get("deletionGracePeriodSeconds") or 0)
    ended = (pod.get("status") or {}).get("phase") in TERMINAL_PHASES
    if ended and grace == 0:
        return None
    due = datetime.fromisoformat(deletion)
    stopped = None if ended else _final(pod, due)
    return Termination(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        uid=str(metadata.get("uid") or ""),
        node=str(node),
        grace_seconds=grace,
        due=due,
        stopped=stopped,
    )


def _final(pod: Mapping[str, Any], due: datetime) -> dict[str, Any]:
    """The pod as listed (its ``resourceVersion`` and ``uid`` kept) with the status it ends with."""
    return {**pod, "apiVersion": "v1", "kind": "Pod", "status": _stopped_status(pod, due)}


def _stopped_status(pod: Mapping[str, Any], at: datetime) -> dict[str, Any]:
    """The pod's status once the kubelet has stopped it: phase ``Failed`` (a deleted pod ends in a terminal
    phase, Failed unless every container succeeded), each container that had not ended terminated with
    exit code 137 at ``at``, and the pod and its containers no longer Ready."""
    status = dict(pod.get("status") or {})
    spec = pod.get("spec") or {}
    finished = timestamp(at)
    for containers_field, statuses_field in CONTAINER_KINDS:
        containers = spec.get(containers_field) or []
        if not containers:
            continue
        previous = {s.get("name"): s for s in status.get(statuses_field) or []}
        status[statuses_field] = [_stopped(c, previous.get(c["name"]), finished) for c in containers]
    status["phase"] = "Failed"
    status["conditions"] = _not_ready(status.get("conditions") or [], finished)
    return status


def _stopped(
    container: Mapping[str, Any], previous: Mapping[str, Any] | None, finished: str
) -> dict[str, Any]:
    state = (previous or {}).get("state") or {}
    if "terminated" in state:
        return {**(previous or {}), "ready": False, "started": False}
    terminated: dict[str, Any] = {
        "exitCode": KILLED_EXIT_CODE,
        "reason": STOPPED_REASON,
        "message": STOPPED_MESSAGE,
        "finishedAt": finished,
    }
    if started := (state.get("running") or {}).get("startedAt"):
        terminated["startedAt"] = started
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": (previous or {}).get("imageID", ""),
        "ready": False,
        "started": False,
        "restartCount": (previous or {}).get("restartCount", 0),
        "state": {"terminated": terminated},
    }


def _not_ready(conditions: Sequence[Mapping[str, Any]], at: str) -> list[dict[str, Any]]:
    """``conditions`` with ContainersReady and Ready False (reason ``PodFailed``, as the kubelet says for a
    failed pod), added when missing; every other condition (PodScheduled, DisruptionTarget, ...) kept."""
    kept = [dict(c) for c in conditions if c.get("type") not in NOT_READY_WHEN_STOPPED]
    for type_ in NOT_READY_WHEN_STOPPED:
        before = next((c for c in conditions if c.get("type") == type_), None)
        moved = before is None or before.get("status") != "False"
        since = at if moved else (before or {}).get("lastTransitionTime", at)
        kept.append({"type": type_, "status": "False", "reason": "PodFailed", "lastTransitionTime": since})
    return kept
