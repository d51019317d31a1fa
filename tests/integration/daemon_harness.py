"""Run `sriov-operator daemon` processes against the test API server, on simulated hosts, and wait on them."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import API_VERSION, DEFAULT_CONFIG_DAEMON_NODE_SELECTOR
from sriov_operator.api.meta import annotations_of
from sriov_operator.api.names import device_plugin_configmap_name
from sriov_operator.host.pci import read_pci_function
from sriov_operator.host.root import HostRoot
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CONFIG_MAPS, NODES, SRIOV_NETWORK_NODE_STATES
from tests.waiting import WAIT_SECONDS, eventually

__all__ = ["WAIT_SECONDS", "annotations_of", "eventually"]  # the daemon tests import them from here


@dataclass
class DaemonProcess:
    """One `sriov-operator daemon` child process; its log is kept for failure messages."""

    node: str
    namespace: str
    kubeconfig: Path
    root: Path
    log_path: Path
    extra: tuple[str, ...] = ()
    simulate: bool = True  # False: the daemon's real host I/O on the tree, as on a node
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> DaemonProcess:
        argv = [
            sys.executable, "-m", "sriov_operator.cli", "daemon",
            "--node-name", self.node, "--namespace", self.namespace, "--kubeconfig", str(self.kubeconfig),
            "--host-root", str(self.root), *(["--simulate"] if self.simulate else []),
            "--health-port", "-1", "--rediscover-interval", "2", *self.extra,
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        log.close()
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


async def create_node(objects: KubeObjects, name: str, labels: dict[str, str] | None = None) -> None:
    await objects.create(
        NODES,
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {**DEFAULT_CONFIG_DAEMON_NODE_SELECTOR, **(labels or {})}},
        },
    )


async def write_node_state_spec(objects: KubeObjects, namespace: str, node: str, spec: dict[str, Any]) -> int:
    """What the operator would write; returns the new generation."""
    body = {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": node, "namespace": namespace},
        "spec": spec,
    }
    written = await objects.apply(SRIOV_NETWORK_NODE_STATES, body, "test-as-operator")
    return int(written["metadata"]["generation"])


async def write_device_plugin_config(
    objects: KubeObjects, namespace: str, node: str, resources: list[dict[str, Any]], generation: int
) -> str:
    """The operator's per-node ConfigMap for ``generation``; returns config.json."""
    text = json.dumps({"resourceList": resources}, sort_keys=True)
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": device_plugin_configmap_name(node),
            "namespace": namespace,
            "labels": {"sriovnetwork.openshift.io/device-plugin-config-for": node},
            "annotations": {"sriovnetwork.openshift.io/for-generation": str(generation)},
        },
        "data": {"config.json": text},
    }
    await objects.apply(CONFIG_MAPS, body, "test-as-operator")
    return text


async def node_state(objects: KubeObjects, namespace: str, node: str) -> dict[str, Any]:
    state = await objects.get(SRIOV_NETWORK_NODE_STATES, node, namespace)
    assert state is not None
    return state


def conditions(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (state.get("status") or {}).get("conditions") or []}


async def synced(objects: KubeObjects, namespace: str, node: str, generation: int) -> dict[str, Any] | None:
    """The NodeState once it says Succeeded for ``generation`` (and remembers having applied it)."""
    state = await node_state(objects, namespace, node)
    status = state.get("status") or {}
    applied = annotations_of(state).get("sriovnetwork.openshift.io/applied-generation")
    if status.get("syncStatus") == "Succeeded" and applied == str(generation):
        return state
    return None


PLUGIN_FILE = "etc/sriov-operator/device-plugin/config.json"


async def handed_over(objects: KubeObjects, namespace: str, node: str, root: Path, text: str) -> bool:
    """The device plugin's file on the host holds ``text`` and the ConfigMap carries its digest.

    The hand-off follows the ConfigMap, which the operator writes just after the spec: it can
    come a moment after the NodeState says Succeeded for that spec.
    """
    path = root / PLUGIN_FILE
    if not path.exists() or path.read_text() != text:
        return False
    configmap = await objects.get(CONFIG_MAPS, device_plugin_configmap_name(node), namespace)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return (
        configmap is not None
        and annotations_of(configmap).get("sriovnetwork.openshift.io/handed-over") == digest
    )


def break_device_records(root: Path) -> Path:
    """A file where the daemon keeps its per-device records: the next record write fails (as root, too)."""
    records = root / "etc/sriov-operator/pci"
    records.parent.mkdir(parents=True, exist_ok=True)
    records.write_text("not a directory\n")
    return records


def driver_of(root: Path, pci: str) -> str | None:
    return read_pci_function(HostRoot(root), pci).driver
