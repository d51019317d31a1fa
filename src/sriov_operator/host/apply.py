"""Carry out a plan on the host, idempotently: each action checks the host first and skips what holds.

Each action kind has its executor (`executors.py`); this module runs a plan's
actions in order under the host lock (the cards of a node side by side), and
re-plans until nothing is left, or until it asked for a reboot: then the next
boot plans again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from sriov_operator.api.models import SriovNetworkNodeStateSpec
from sriov_operator.host.actions import Action, Reboot
from sriov_operator.host.executors import ApplyError, HostAccess, execute
from sriov_operator.host.lock import host_lock
from sriov_operator.host.plan import Plan, plan
from sriov_operator.host.state import HostState

MAX_ROUNDS = 3
MAX_PARALLEL_CARDS = 16


@dataclass(frozen=True)
class Outcome:
    action: Action
    result: Literal["done", "already"]

    def to_output(self) -> dict[str, object]:
        return {**self.action.to_output(), "result": self.result}


def _failure(access: HostAccess, action: Action, error: OSError) -> ApplyError:
    """``setModuleParameter vfio: /sys/module/…: No such file or directory``: action, host path, reason."""
    where = f"{access.host.display(error.filename)}: " if error.filename else ""
    return ApplyError(f"{action.kind} {action.target}: {where}{error.strerror or error}")


def _run(access: HostAccess, actions: Sequence[Action]) -> list[Outcome]:
    outcomes = []
    for action in actions:
        try:
            changed = execute(access, action)
        except OSError as error:
            raise _failure(access, action, error) from None
        outcomes.append(Outcome(action, "done" if changed else "already"))
        if isinstance(action, Reboot):
            break  # the host goes down: nothing after it runs in this boot
    return outcomes


def rebooting(outcomes: list[Outcome]) -> bool:
    return any(isinstance(outcome.action, Reboot) for outcome in outcomes)


def apply_plan(access: HostAccess, to_apply: Plan) -> list[Outcome]:
    """The actions in run order; with ``access.parallel_nics`` each card's part in its own thread.

    Modules come first, then every card's actions (its PFs and their VFs, in run
    order), cards side by side, then what follows every device (the RDMA mode,
    kernel arguments, the reboot).  A card that fails does not stop the others; once
    all have finished, the failure of the first card (in plan order) is raised.
    """
    before, cards, after = to_apply.by_card()
    if not access.parallel_nics or len(cards) < 2:
        return _run(access, to_apply.actions)
    outcomes = _run(access, before)
    workers = min(len(cards), MAX_PARALLEL_CARDS)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nic") as pool:
        futures = [pool.submit(_run, access, part) for part in cards]
    errors = [error for future in futures if (error := future.exception()) is not None]
    if errors:
        raise errors[0]
    done = {id(outcome.action): outcome for future in futures for outcome in future.result()}
    outcomes += [done[id(action)] for action in to_apply.actions if id(action) in done]
    return outcomes + _run(access, after)


def converge(
    access: HostAccess, desired: SriovNetworkNodeStateSpec, observe: Callable[[], HostState]
) -> list[Outcome]:
    """Plan, apply, look again, until the plan is empty: VFs created in one round get drivers in the next.

    Holds the host lock throughout, so two appliers never interleave.
    """
    with host_lock(access.host, access.writer, access.lock_timeout_seconds):
        return _converge(access, desired, observe)


def _converge(
    access: HostAccess, desired: SriovNetworkNodeStateSpec, observe: Callable[[], HostState]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for _ in range(MAX_ROUNDS):
        next_plan = plan(desired, observe())
        if not next_plan.actions:
            return outcomes
        outcomes += apply_plan(access, next_plan)
        if rebooting(outcomes):
            return outcomes  # planned again in the next boot
    remaining = plan(desired, observe())
    if remaining.actions:
        raise ApplyError(
            f"host still differs from the spec after {MAX_ROUNDS} rounds: "
            + "; ".join(a.reason for a in remaining.actions)
        )
    return outcomes
