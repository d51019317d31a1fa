"""Leader election between two real processes on a real API server.

Timings are shortened (lease 4 s, renew deadline 3 s, retry 0.5 s). A standby
sees the leader's renewals every retry period and takes over once the Lease
has not changed for a lease duration, so after ``kill -9`` it leads within
lease duration + 2 retry periods (the last renewal can be up to one retry
period old, and the standby looks once per retry period).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CONFIG_MAPS, EVENTS, LEASES
from tests.integration.conftest import NamespaceFactory
from tests.support import REPO_ROOT
from tests.waiting import eventually

LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 4.0, 3.0, 0.5
TAKEOVER_BOUND = LEASE_DURATION + 2 * RETRY_PERIOD
# Each reconcile of the program works this long, then writes: frozen by SIGSTOP, the leader is almost
# always inside that work, and on SIGCONT it goes straight on to the write, racing its own elector.
WRITE_INTERVAL = 0.5


class Program:
    """One leader_program process, with its health port and log."""

    def __init__(self, plane: ControlPlane, namespace: str, identity: str, log_dir: Path) -> None:
        self.identity = identity
        self.port = free_port()
        self.log = log_dir / f"{identity}.log"
        argv = [
            sys.executable, "-m", "tests.integration.leader_program",
            f"--kubeconfig={plane.kubeconfig}", f"--namespace={namespace}", f"--identity={identity}",
            "--leader-elect", f"--lease-duration={LEASE_DURATION}", f"--renew-deadline={RENEW_DEADLINE}",
            f"--retry-period={RETRY_PERIOD}", f"--health-port={self.port}", "--health-address=127.0.0.1",
            f"--write-interval={WRITE_INTERVAL}",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(argv, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def readyz(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as response:
                return response.status, response.read().decode().strip()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode().strip()
        except OSError as error:
            return 0, str(error)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
        self.process.wait(timeout=10)


@pytest.fixture
def programs(tmp_path: Path) -> Iterator[list[Program]]:
    started: list[Program] = []
    yield started
    for program in started:
        program.stop()


def logs_of(programs: list[Program]) -> str:
    return "\n".join(f"--- {p.identity}:\n{p.log.read_text()[-3000:]}" for p in programs)


async def holder(objects: KubeObjects, namespace: str) -> str:
    lease = await objects.get(LEASES, "leader-test", namespace)
    return str((lease or {}).get("spec", {}).get("holderIdentity") or "")


async def writes(objects: KubeObjects, namespace: str, identity: str) -> tuple[int, str]:
    """(count, resourceVersion) of the program's counter ConfigMap; (0, "") before its first write."""
    config_map = await objects.get(CONFIG_MAPS, f"writes-{identity}", namespace)
    if config_map is None:
        return 0, ""
    return int(config_map["data"]["count"]), config_map["metadata"]["resourceVersion"]


async def lease_events(objects: KubeObjects, namespace: str) -> set[tuple[str, str]]:
    """(reason, note) of the Events about the Lease."""
    events = (await objects.list(EVENTS, namespace))["items"]
    return {(e["reason"], e["note"]) for e in events if e["regarding"]["kind"] == "Lease"}


async def start_leader_and_standby(
    control_plane: ControlPlane, objects: KubeObjects, namespace: str, tmp_path: Path, programs: list[Program]
) -> tuple[Program, Program]:
    leader = Program(control_plane, namespace, "a", tmp_path)
    programs.append(leader)

    async def a_leads_and_writes() -> bool:
        return await holder(objects, namespace) == "a" and (await writes(objects, namespace, "a"))[0] >= 3

    await eventually(a_leads_and_writes, "a to lead and write", 60, details=lambda: logs_of(programs))
    standby = Program(control_plane, namespace, "b", tmp_path)
    programs.append(standby)

    async def b_stands_by() -> bool:
        return await asyncio.to_thread(standby.readyz) == (200, "standing by")

    await eventually(b_stands_by, "b to be ready, standing by", 60, details=lambda: logs_of(programs))
    assert await asyncio.to_thread(leader.readyz) == (200, "leading")
    assert await writes(objects, namespace, "b") == (0, ""), "the standby wrote"
    return leader, standby


Pair = tuple[str, Program, Program]  # namespace, leader, standby


@pytest_asyncio.fixture
async def pair(
    control_plane: ControlPlane,
    objects: KubeObjects,
    make_namespace: NamespaceFactory,
    tmp_path: Path,
    programs: list[Program],
) -> Pair:
    namespace = await make_namespace(None)
    leader, standby = await start_leader_and_standby(control_plane, objects, namespace, tmp_path, programs)
    return namespace, leader, standby


def holds(objects: KubeObjects, namespace: str, identity: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return await holder(objects, namespace) == identity

    return probe


async def test_standby_takes_over_after_the_leader_is_killed(
    objects: KubeObjects, pair: Pair, programs: list[Program]
) -> None:
    namespace, leader, _ = pair
    leader.process.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await eventually(
        holds(objects, namespace, "b"), "b to take the Lease", 30, details=lambda: logs_of(programs)
    )
    takeover = time.monotonic() - killed
    assert takeover <= TAKEOVER_BOUND, f"took {takeover:.1f}s (bound {TAKEOVER_BOUND}s)"

    async def b_writes() -> bool:
        return (await writes(objects, namespace, "b"))[0] >= 3

    await eventually(b_writes, "b's controller to write", 10, details=lambda: logs_of(programs))


async def test_a_leader_that_lost_its_lease_writes_nothing_afterwards(
    objects: KubeObjects, pair: Pair, programs: list[Program]
) -> None:
    namespace, leader, standby = pair

    leader.process.send_signal(signal.SIGSTOP)  # frozen mid-stride: timers and requests resume on SIGCONT
    await asyncio.sleep(0.5)  # a write a sent just before it froze has landed
    frozen_writes = await writes(objects, namespace, "a")

    await eventually(
        holds(objects, namespace, "b"), "b to take the Lease", 30, details=lambda: logs_of(programs)
    )
    leader.process.send_signal(signal.SIGCONT)

    async def a_stands_by_again() -> bool:
        return await asyncio.to_thread(leader.readyz) == (200, "standing by")

    await eventually(
        a_stands_by_again, "a to notice it lost the Lease", 10, details=lambda: logs_of(programs)
    )
    await asyncio.sleep(5 * WRITE_INTERVAL)
    assert await writes(objects, namespace, "a") == frozen_writes, "a wrote after losing its Lease"
    assert await holder(objects, namespace) == "b"
    assert "could not renew the leader Lease" in leader.log.read_text()
    assert await lease_events(objects, namespace) >= {
        ("LeaderElected", "a became the leader"),
        ("LeaderElected", "b became the leader"),
        ("LeaderLost", "a could not renew the Lease in time"),
    }

    standby.process.send_signal(signal.SIGTERM)  # clean shutdown releases the Lease at once
    assert await asyncio.to_thread(standby.process.wait, 15) == 0

    # a takes the released Lease without waiting for it to expire
    started = time.monotonic()
    await eventually(
        holds(objects, namespace, "a"), "a to take the released Lease", 10, details=lambda: logs_of(programs)
    )
    assert time.monotonic() - started < LEASE_DURATION
    os.kill(leader.process.pid, 0)
