"""The operator (its `sriov-operator operator` command) and three config daemons on simulated OpenStack VMs.

Two VMs read their Neutron ports from a metadata service on 127.0.0.1, the third
from its config drive.  The drain controller is not wired into the operator
command yet, so it runs here in-process, on its own Manager, from its
`register` function: the daemons' drain requests get a real answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.daemon.handoff import configmap_name
from sriov_operator.host.simulator.builder import create_host, load_profile, profile_file
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import CONFIG_MAPS, SRIOV_NETWORK_NODE_POLICIES, SRIOV_NETWORK_NODE_STATES
from sriov_operator.manifests import load_paths
from sriov_operator.operator.drain import register as register_drain
from sriov_operator.operator.drain.settings import DrainSettings
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings
from tests.integration.conftest import NamespaceFactory
from tests.integration.daemon_harness import (
    DaemonProcess,
    annotations_of,
    create_node,
    driver_of,
    eventually,
    handed_over,
    node_state,
    synced,
)
from tests.support import FIXTURES

DPDK_PORT = "0000:00:04.0"
OFFLOAD_PORT = "0000:00:07.0"
OFFLOAD_NETWORK = "openstack/NetworkID:c0ffee00-1234-4abc-9def-0123456789ab"  # the Mellanox VF's network
SRIOV_CAPABLE = {"feature.node.kubernetes.io/network-sriov.capable": "true"}


@pytest.fixture
def metadata_service() -> Iterator[str]:
    """Nova's metadata service for the VM profile, on 127.0.0.1."""
    documents = {
        "meta_data.json": profile_file("openstack-vm/meta_data.json"),
        "network_data.json": profile_file("openstack-vm/network_data.json"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path.rsplit("/", 1)[-1])
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def seed_policies(namespace: str) -> list[dict[str, Any]]:
    """The seed article's two policies, each on its own Neutron network as the article advises."""
    policies = [d.body for d in load_paths([FIXTURES / "seed"]).documents]
    for policy in policies:
        policy["metadata"]["namespace"] = namespace
        if policy["metadata"]["name"] == "hwoffload1":
            policy["spec"]["nicSelector"]["netFilter"] = OFFLOAD_NETWORK
    return policies


@pytest_asyncio.fixture
async def operator(
    kube: client.ApiClient, control_plane: ControlPlane, make_namespace: NamespaceFactory, tmp_path: Path
) -> AsyncIterator[str]:
    """The operator command and the drain controller for a fresh namespace; yields the namespace."""
    namespace = await make_namespace(None)
    log = (tmp_path / "operator.log").open("ab")
    argv = [
        sys.executable, "-m", "sriov_operator.cli", "operator", "--namespace", namespace,
        "--kubeconfig", str(control_plane.kubeconfig), "--leader-elect=false", "--health-port", "-1",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    runtime = RuntimeSettings(kubeconfig=control_plane.kubeconfig, namespace=namespace, health_port=-1)
    async with Manager(runtime) as manager:
        register_drain(manager, DrainSettings(namespace=namespace, resource_prefix="openshift.io"))
        drain = asyncio.create_task(manager.run())
        try:
            yield namespace
        finally:
            manager.stop()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(drain, 30)
            process.terminate()
            process.wait(timeout=30)
            log.close()


async def test_seed_policies_converge_on_three_vms_and_deleting_them_restores_drivers(
    kube: client.ApiClient, control_plane: ControlPlane, operator: str, metadata_service: str, tmp_path: Path
) -> None:
    namespace, objects = operator, KubeObjects(kube)
    daemons = []
    for index, extra in enumerate((("--metadata-url", metadata_service),) * 2 + ((),)):
        name = f"vm{index}-{namespace}"
        create_host(load_profile("openstack-vm"), tmp_path / name)
        await create_node(objects, name, SRIOV_CAPABLE)
        daemon = DaemonProcess(
            name, namespace, control_plane.kubeconfig, tmp_path / name, tmp_path / f"{name}.log", extra
        )
        daemons.append(daemon.start())
    try:
        for policy in seed_policies(namespace):
            await objects.create(SRIOV_NETWORK_NODE_POLICIES, policy, namespace)

        async def all_synced_with_the_policies() -> list[dict[str, Any]] | None:
            states = []
            for daemon in daemons:
                state = await objects.get(SRIOV_NETWORK_NODE_STATES, daemon.node, namespace)
                interfaces = ((state or {}).get("spec") or {}).get("interfaces") or []
                if state is None or len(interfaces) != 2:
                    return None
                if await synced(objects, namespace, daemon.node, state["metadata"]["generation"]) is None:
                    return None
                states.append(state)
            return states

        states = await eventually(
            all_synced_with_the_policies, "three NodeStates Succeeded with both policies", 180
        )
        sources = [annotations_of(s)["sriovnetwork.openshift.io/metadata-source"] for s in states]
        assert sources == ["metadataService", "metadataService", "configDrive"]
        for daemon in daemons:
            assert driver_of(daemon.root, DPDK_PORT) == "vfio-pci"
            assert driver_of(daemon.root, OFFLOAD_PORT) == "mlx5_core"
            configmap = await objects.get(CONFIG_MAPS, configmap_name(daemon.node), namespace)
            assert configmap is not None
            text = configmap["data"]["config.json"]
            offload = next(r for r in json.loads(text)["resourceList"] if r["resourceName"] == "hwoffload1")
            assert offload["selectors"]["isRdma"] is True
            await eventually(
                lambda d=daemon, t=text: handed_over(objects, namespace, d.node, d.root, t),  # type: ignore[misc]
                f"the device plugin's config on {daemon.node}",
            )

        for policy in seed_policies(namespace):
            await objects.delete(SRIOV_NETWORK_NODE_POLICIES, policy["metadata"]["name"], namespace)

        async def drivers_restored() -> bool:
            for daemon in daemons:
                state = await node_state(objects, namespace, daemon.node)
                if (state.get("spec") or {}).get("interfaces"):
                    return False
                if await synced(objects, namespace, daemon.node, state["metadata"]["generation"]) is None:
                    return False
            return all(driver_of(d.root, DPDK_PORT) == "virtio-pci" for d in daemons)

        await eventually(drivers_restored, "every DPDK port back on virtio-pci, Succeeded", 180)
    finally:
        for daemon in daemons:
            daemon.stop()
