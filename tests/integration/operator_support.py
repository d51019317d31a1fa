"""Run the operator in-process against the test control plane, and build the objects tests write.

Nodes are cluster-scoped, so each test's operator manages only the nodes that
carry its own label (the ``default`` SriovOperatorConfig's
``configDaemonNodeSelector``), in its own namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import API_VERSION, APPLIED_GENERATION_ANNOTATION
from sriov_operator.kube.errors import ConflictError
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    NODES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
    Resource,
)
from sriov_operator.operator.app import OperatorControllers, register
from sriov_operator.operator.settings import OperatorSettings
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from tests.unit.engine.builders import pf, policy
from tests.waiting import eventually

__all__ = ["eventually"]  # the operator tests import it from here

TEST_LABEL = "sriov-operator-test"
TEST_MANAGER = "integration-test"
SELECTED = {"sriov": "true"}  # the label the builders' policies (tests/unit/engine/builders.py) select
BAREMETAL_PF = pf("ens1f0", "0000:3b:00.0", driver="ice", linkAdminState="up")


@dataclass
class RunningOperator:
    manager: Manager
    task: asyncio.Task[None]
    operator: OperatorControllers

    def writes(self, verb: str, resource: Resource) -> int:
        """Writes this operator sent (not the test's, nor those of anything else in the process)."""
        return self.manager.objects.writes[verb, resource.qualified_name]

    def all_writes(self) -> int:
        return sum(self.manager.objects.writes.values())

    async def settled(self, quiet: float = 1.0) -> bool:
        """True once no queue holds a key and this operator wrote nothing for ``quiet`` seconds."""
        before = self.all_writes()
        await asyncio.sleep(quiet)
        return self.operator.idle() and self.all_writes() == before

    async def stop(self) -> None:
        self.manager.stop()
        await asyncio.wait_for(self.task, 30)


def operator_settings(kubeconfig: Path, namespace: str, **overrides: Any) -> OperatorSettings:
    runtime = RuntimeSettings(
        kubeconfig=kubeconfig,
        namespace=namespace,
        health_port=-1,
        leader_elect=overrides.pop("leader_elect", False),
        lease_name="sriov-fdp-operator",
        identity=overrides.pop("identity", "test-operator"),
    )
    settings = OperatorSettings(runtime=runtime, node_state_grace=1.0, status_delay=0.1)
    return replace(settings, **overrides)


def start_operator(namespace: str, kubeconfig: Path, log_path: Path) -> subprocess.Popen[bytes]:
    """The `sriov-operator operator` command for ``namespace`` as a child process, logging to ``log_path``."""
    argv = [
        sys.executable, "-m", "sriov_operator.cli", "operator", "--namespace", namespace,
        "--kubeconfig", str(kubeconfig), "--leader-elect=false", "--health-port", "-1",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


@asynccontextmanager
async def running_operator(settings: OperatorSettings) -> AsyncIterator[RunningOperator]:
    async with Manager(settings.runtime) as manager:
        operator = await register(manager, settings)
        running = RunningOperator(manager, asyncio.create_task(manager.run()), operator)
        try:
            yield running
        finally:
            if not running.task.done():
                await running.stop()


async def select_test_nodes(objects: KubeObjects, namespace: str) -> None:
    """The default SriovOperatorConfig, managing only this test's nodes."""
    body = {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"configDaemonNodeSelector": {TEST_LABEL: namespace}},
    }
    await objects.apply(SRIOV_OPERATOR_CONFIGS, body, TEST_MANAGER)


def node_body(
    name: str, namespace: str, labels: dict[str, str] | None = None, provider_id: str = ""
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {TEST_LABEL: namespace, **(labels or {})}},
    }
    if provider_id:
        body["spec"] = {"providerID": provider_id}
    return body


async def add_node(
    objects: KubeObjects,
    name: str,
    namespace: str,
    interfaces: list[dict[str, Any]],
    labels: dict[str, str] | None = None,
    provider_id: str = "",
) -> None:
    """A Node and its NodeState with a discovered status, as a config daemon would report it."""
    await objects.apply(NODES, node_body(name, namespace, labels, provider_id), TEST_MANAGER)
    await report_status(objects, name, namespace, {"interfaces": interfaces})


async def report_status(objects: KubeObjects, name: str, namespace: str, status: dict[str, Any]) -> None:
    """Write a NodeState's status the way the config daemon does (creating the NodeState if needed)."""
    state = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": namespace},
    }
    if await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace) is None:
        with contextlib.suppress(ConflictError):  # the operator may create it first
            await objects.create(SRIOV_NETWORK_NODE_STATES, state)
    await objects.apply(
        SRIOV_NETWORK_NODE_STATES,
        {**state, "status": status},
        "sriov-fdp-config-daemon",
        subresource="status",
    )


async def add_selected_nodes(objects: KubeObjects, namespace: str, names: list[str]) -> None:
    """This test's nodes (`select_test_nodes`), each with the bare-metal PF and the label policies select."""
    await select_test_nodes(objects, namespace)
    for name in names:
        await add_node(objects, name, namespace, [BAREMETAL_PF], SELECTED)


def namespaced_policy(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    """The builders' policy (selecting `SELECTED` nodes) in this test's namespace."""
    body = policy(name, **spec)
    body["metadata"]["namespace"] = namespace
    return body


async def report_succeeded(
    objects: KubeObjects, name: str, namespace: str, annotations: dict[str, str] | None = None
) -> None:
    """The config daemon's report that it applied the current spec generation: the applied-generation
    annotation (with ``annotations``), then a Succeeded status with the bare-metal PF."""
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, name, namespace)
    assert state is not None
    applied = {APPLIED_GENERATION_ANNOTATION: str(state["metadata"]["generation"])}
    await objects.patch(
        SRIOV_NETWORK_NODE_STATES,
        name,
        {"metadata": {"annotations": {**applied, **(annotations or {})}}},
        namespace=namespace,
    )
    await report_status(objects, name, namespace, {"interfaces": [BAREMETAL_PF], "syncStatus": "Succeeded"})


async def delete_nodes(objects: KubeObjects, names: list[str]) -> None:
    for name in names:
        await objects.delete(NODES, name)
