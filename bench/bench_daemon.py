"""Config daemons at scale on a real API server: 100 simulated OpenStack VMs, one policy, all Succeeded.

Run: .venv/bin/python bench/bench_daemon.py [--nodes 100] [--idle-seconds 120]

On a fresh kube-apiserver + etcd:
1. create N simulated OpenStack VM hosts (the `openstack-vm` profile) and their Nodes;
2. start `sriov-operator operator` as its own process, and the N node daemons in this process on
   one Manager: one shared informer, so one watch connection, per kind (NodeState, Node, ConfigMap);
3. wait until every daemon has published its discovered ports;
4. apply the seed's DPDK policy (vfio-pci, no-IOMMU mode): time until all N NodeStates are Succeeded
   for their new generation (bound, device plugin handed its config, generation recorded);
5. idle for a while (the daemons re-discover their hosts every 30 s): count the daemons' API requests
   (watch requests apart) and the CPU time of this process.
Every request of the daemons goes through `KubeObjects._send`, which is counted here.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.daemon.app import register_daemons
from sriov_operator.errors import TransientError
from sriov_operator.host.node import NodeHost
from sriov_operator.host.simulator.builder import create_host, load_profile
from sriov_operator.host.simulator.host_io import simulated_io
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    NAMESPACES,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
)
from sriov_operator.kube.session import api_session
from sriov_operator.runtime.manager import Manager
from sriov_operator.runtime.settings import RuntimeSettings

NAMESPACE = "sriov-network-operator"
LABELS = {
    "node-role.kubernetes.io/worker": "",
    "kubernetes.io/os": "linux",
    "feature.node.kubernetes.io/network-sriov.capable": "true",
}
POLICY = {
    "apiVersion": API_VERSION,
    "kind": "SriovNetworkNodePolicy",
    "metadata": {"name": "dpdk1", "namespace": NAMESPACE},
    "spec": {
        "deviceType": "vfio-pci",
        "nicSelector": {"netFilter": "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"},
        "nodeSelector": {"feature.node.kubernetes.io/network-sriov.capable": "true"},
        "numVfs": 1,
        "priority": 99,
        "resourceName": "dpdk1",
    },
}


class RequestCounter:
    """Counts every request a KubeObjects sends, by (method, watch or not)."""

    def __init__(self, objects: KubeObjects) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        send = objects._send

        async def counted(method: str, path: str, **kwargs: Any) -> Any:
            watch = any(key == "watch" for key, _ in kwargs.get("query") or [])
            self.counts["watch" if watch else method] += 1
            return await send(method, path, **kwargs)

        objects._send = counted  # type: ignore[method-assign]

    def snapshot(self) -> collections.Counter[str]:
        return collections.Counter(self.counts)


async def wait(check: Any, what: str, timeout: float) -> float:
    started = time.monotonic()
    while True:
        try:
            if await check():
                return time.monotonic() - started
        except TransientError:  # the API server's CRD storage warming up
            pass
        if time.monotonic() - started > timeout:
            raise SystemExit(f"timed out after {timeout:.0f}s: {what}")
        await asyncio.sleep(0.5)


async def states(objects: KubeObjects) -> list[dict[str, Any]]:
    return list((await objects.list(SRIOV_NETWORK_NODE_STATES, NAMESPACE))["items"])


async def all_discovered(objects: KubeObjects, nodes: int) -> bool:
    found = [s for s in await states(objects) if (s.get("status") or {}).get("interfaces")]
    return len(found) == nodes


async def all_succeeded(objects: KubeObjects, nodes: int) -> bool:
    done = 0
    for state in await states(objects):
        applied = (state["metadata"].get("annotations") or {}).get(
            "sriovnetwork.openshift.io/applied-generation"
        )
        status = state.get("status") or {}
        has_spec = bool((state.get("spec") or {}).get("interfaces"))
        if (
            has_spec
            and status.get("syncStatus") == "Succeeded"
            and applied == str(state["metadata"]["generation"])
        ):
            done += 1
    return done == nodes


async def make_hosts(admin: KubeObjects, nodes: int, workdir: Path) -> dict[str, NodeHost]:
    hosts: dict[str, NodeHost] = {}
    started = time.monotonic()
    for index in range(nodes):
        name = f"vm-{index:04d}"
        root = workdir / name
        create_host(load_profile("openstack-vm"), root)
        hosts[name] = NodeHost.open(root, io=simulated_io(root))
        await admin.create(
            NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": LABELS}}
        )
    print(f"{nodes} simulated hosts and Nodes in {time.monotonic() - started:.1f}s")
    return hosts


def start_operator(plane: ControlPlane, workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / "operator.log").open("ab")
    argv = [
        sys.executable, "-m", "sriov_operator.cli", "operator", "--namespace", NAMESPACE,
        "--kubeconfig", str(plane.kubeconfig), "--leader-elect=false", "--health-port", "-1",
        "--log-level", "WARNING",
    ]  # fmt: skip
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


async def converge(admin: KubeObjects, counter: RequestCounter, nodes: int) -> None:
    seconds = await wait(lambda: all_discovered(admin, nodes), "discovery published", 600)
    print(f"all {nodes} daemons published discovery {seconds:.1f}s after start")
    await asyncio.sleep(5)
    await admin.create(SRIOV_NETWORK_NODE_POLICIES, POLICY, NAMESPACE)
    before = counter.snapshot()
    seconds = await wait(lambda: all_succeeded(admin, nodes), "all Succeeded", 900)
    during = counter.snapshot() - before
    print(f"policy applied -> all {nodes} NodeStates Succeeded: {seconds:.1f}s")
    print(f"daemon requests for that change: {dict(during)} = {sum(during.values()) / nodes:.1f} per node")


async def idle(counter: RequestCounter, nodes: int, seconds: float, watches: int) -> None:
    before, cpu_before = counter.snapshot(), resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(seconds)
    counts = counter.snapshot() - before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    minutes = seconds / 60
    non_watch = sum(v for k, v in counts.items() if k != "watch")
    print(f"idle {seconds:.0f}s: requests {dict(counts)}; watch connections open: {watches}")
    print(f"idle: {non_watch / nodes / minutes:.3f} non-watch requests per node per minute")
    print(f"idle: {counts.get('watch', 0) / minutes:.2f} watch (re)starts per minute, whole process")
    print(f"idle CPU of the {nodes} daemons (rediscovery every 30 s): {cpu / seconds * 100:.1f}% of one core")


async def run(nodes: int, idle_seconds: float, workdir: Path) -> None:
    plane = ControlPlane().start()
    try:
        async with api_session(plane.kubeconfig) as api:
            admin = KubeObjects(api)
            await install_crds(admin, [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
            await admin.create(
                NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
            )
            hosts = await make_hosts(admin, nodes, workdir)
            operator = start_operator(plane, workdir)
            runtime = RuntimeSettings(kubeconfig=plane.kubeconfig, namespace=NAMESPACE, health_port=-1)
            try:
                async with Manager(runtime) as manager:
                    counter = RequestCounter(manager.objects)
                    register_daemons(manager, NAMESPACE, hosts, rediscover_seconds=30.0)
                    task = asyncio.create_task(manager.run())
                    await converge(admin, counter, nodes)
                    await asyncio.sleep(5)
                    await idle(counter, nodes, idle_seconds, len(manager.informers))
                    manager.stop()
                    await asyncio.wait_for(task, 60)
            finally:
                operator.terminate()
                operator.wait(timeout=30)
    finally:
        plane.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=120.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-daemon-") as workdir:
        asyncio.run(run(args.nodes, args.idle_seconds, Path(workdir)))


if __name__ == "__main__":
    main()
