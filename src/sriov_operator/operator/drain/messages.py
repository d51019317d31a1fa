"""The words of the ``Draining`` condition and the drain Events: what happened, why, what next.

Pure: each function takes what the reconciler knows and returns the text a person
reads in ``kubectl describe``. The condition reasons are listed in docs/drain.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sriov_operator.api.conditions import timestamp
from sriov_operator.api.constants import DRAIN_IDLE, DRAIN_REQUIRED, NODE_STATE_ANNOTATION, REBOOT_REQUIRED

SHOWN_PODS = 5
NOT_EVICTED_YET = "appeared during the drain, evicted next round"


def seconds(value: float) -> str:
    minutes, rest = divmod(round(value), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def _pod_list(refs: Sequence[str]) -> str:
    shown = ", ".join(refs[:SHOWN_PODS])
    return shown + (f" and {len(refs) - SHOWN_PODS} more" if len(refs) > SHOWN_PODS else "")


PURPOSES = {DRAIN_REQUIRED: "before device changes", REBOOT_REQUIRED: "before a reboot"}


def purpose(request: str) -> str:
    """What a drain request is for, in words (never the annotation's token, e.g. ``Drain_Required``)."""
    return PURPOSES.get(request, f"for request {request!r}")


def what_leaves(request: str, prefix: str) -> str:
    if request == REBOOT_REQUIRED:
        return "every pod except DaemonSet and static pods (the node reboots)"
    return f"pods using {prefix}/* devices"


@dataclass(frozen=True)
class Blocker:
    """A pod still on the node and why it would not leave."""

    pod: str
    budgets: tuple[str, ...] = ()
    """PodDisruptionBudgets (``ns/name``) that guard the pod."""
    refusal: str = ""
    """The API server's answer to the eviction; "" when the pod is terminating."""

    def describe(self) -> str:
        if not self.refusal:
            return f"pod {self.pod} is still terminating"
        guard = (
            f"PodDisruptionBudget {', '.join(self.budgets)}"
            if self.budgets
            else "no PodDisruptionBudget found"
        )
        return f"pod {self.pod} cannot be evicted ({guard}: {self.refusal})"


def started(
    request: str, prefix: str, pool_text: str, deadline_at: datetime, leaving: Sequence[str] = ()
) -> str:
    """``leaving``: the pods (``ns/name``) that must leave, named (up to five)."""
    named = f" ({_pod_list(leaving)})" if leaving else " (none on the node now)"
    return (
        f"draining {purpose(request)}: cordoned, evicting {what_leaves(request, prefix)}{named}; "
        f"{pool_text}; gives up at {timestamp(deadline_at)}"
    )


def progress(request: str, left: Sequence[str], blockers: Sequence[Blocker], deadline_at: datetime) -> str:
    text = f"draining {purpose(request)}: waiting for {len(left)} pod(s) to leave: {_pod_list(left)}"
    if blockers:
        text += "; " + "; ".join(b.describe() for b in blockers[:SHOWN_PODS])
    return f"{text}; gives up at {timestamp(deadline_at)}"


def complete(request: str, duration: float, evicted: Sequence[str]) -> str:
    """``evicted``: the pods (``ns/name``) evicted in the round that finished the drain."""
    took = seconds(duration)
    round_ = f"evicted {_pod_list(evicted)}" if evicted else "nothing left to evict"
    return f"drained {purpose(request)} in {took} ({round_}); node stays cordoned"


def gave_up(
    request: str, deadline: float, blocker: Blocker, *, uncordoned: bool, retry_at: datetime, attempt: int
) -> str:
    node = "node uncordoned" if uncordoned else "node was cordoned before the drain and stays so"
    return (
        f"drain {purpose(request)} gave up after the {seconds(deadline)} deadline: {blocker.describe()}; "
        f"{node}; retry at {timestamp(retry_at)} (attempt {attempt + 1})"
    )


def forced(pods: Sequence[str], deadline: float) -> str:
    return (
        f"deleting {_pod_list(pods)} past the {seconds(deadline)} drain deadline, bypassing their "
        "PodDisruptionBudgets (--drain-force-past-pdb is on)"
    )


def disabled(request: str) -> str:
    return (
        f"drain {purpose(request)} answered at once as done: disableDrain is true in SriovOperatorConfig "
        "default (nothing cordoned or evicted)"
    )


def released(uncordoned: bool, cordoned_by_others: bool) -> str:
    if uncordoned:
        return "no drain requested; node uncordoned"
    if cordoned_by_others:
        return "no drain requested; node left cordoned as it was before the drain"
    return "no drain requested"


def pool_conflict(pools: Sequence[str]) -> str:
    return (
        f"node is selected by SriovNetworkPoolConfigs {', '.join(pools)}; a node may be in one pool only, "
        "so it is not drained until their nodeSelectors are fixed"
    )


def invalid_request(value: str) -> str:
    accepted = ", ".join((DRAIN_IDLE, DRAIN_REQUIRED, REBOOT_REQUIRED))
    return f"Node annotation {NODE_STATE_ANNOTATION}: {value!r} is not a request (accepted: {accepted})"


def budget_refs(namespace: str, names: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{namespace}/{name}" for name in names)


def blockers_of(
    refusals: Mapping[str, str], budgets_by_pod: Mapping[str, tuple[str, ...]], terminating: Sequence[str]
) -> list[Blocker]:
    """Pods refused eviction first (named with their budgets), then pods still terminating."""
    refused = [
        Blocker(pod, budgets_by_pod.get(pod, ()), refusal) for pod, refusal in sorted(refusals.items())
    ]
    return refused + [Blocker(pod) for pod in terminating]
