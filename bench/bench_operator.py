"""Operator at scale on a real API server: a policy selecting every node → every NodeState spec written.

Run: .venv/bin/python bench/bench_operator.py [--nodes 1000 5000] [--workers 8]

For each size, on a fresh kube-apiserver + etcd:
1. create N Nodes and their NodeStates with a discovered status (bare metal, one Intel PF);
2. start `sriov-operator operator` as its own process (RSS is measured from /proc);
3. apply a policy selecting every node; time until the operator has written all N specs, until
   every spec and device-plugin ConfigMap (and label) matches (converged), and until it is idle;
   count its API writes by resource, and the writes in the quiet window after convergence;
4. rename the policy's resource (specs and device-plugin configs change, labels do not), then
   change its MTU only (specs change, device-plugin configs do not): the same figures;
5. stop the operator; in the same run, a minimal client server-side-applies the same N
   NodeState specs with the same concurrency: the API server's raw rate, the physical limit.

``--quiet`` is the window after convergence in which any write is counted (it should see none).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from sriov_operator.api.constants import API_VERSION
from sriov_operator.api.crds import all_crds
from sriov_operator.api.multus import NETWORK_ATTACHMENT_DEFINITION_CRD
from sriov_operator.controlplane.process import ControlPlane, free_port
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import (
    NAMESPACES,
    NODES,
    SRIOV_NETWORK_NODE_POLICIES,
    SRIOV_NETWORK_NODE_STATES,
    SRIOV_OPERATOR_CONFIGS,
)
from sriov_operator.kube.session import api_session

NAMESPACE = "sriov-network-operator"
MANAGER = "bench"
LABEL = "bench.sriov/managed"
PF = {
    "name": "ens1f0",
    "pciAddress": "0000:3b:00.0",
    "vendor": "8086",
    "deviceID": "158b",
    "driver": "i40e",
    "mtu": 1500,
    "numVfs": 0,
    "totalvfs": 64,
    "linkType": "ETH",
    "linkAdminState": "up",
}
WRITES = re.compile(
    r'^sriov_operator_api_writes_total\{resource="([^"]+)",verb="([^"]+)"\} ([0-9.e+]+)$', re.M
)


async def gather_limited(limit: int, jobs: list[Any]) -> None:
    semaphore = asyncio.Semaphore(limit)

    async def run(job: Any) -> None:
        async with semaphore:
            await job

    await asyncio.gather(*(run(job) for job in jobs))


SPECS = ("apply", "sriovnetworknodestates.sriovnetwork.openshift.io")
CONFIG_MAPS_WRITTEN = ("apply", "configmaps")
LABELS = ("patch", "nodes")


def policy(mtu: int | None = None, resource: str = "intel_sriov") -> dict[str, Any]:
    spec: dict[str, Any] = {
        "resourceName": resource,
        "nodeSelector": {LABEL: "true"},
        "numVfs": 8,
        "nicSelector": {"pfNames": ["ens1f0"]},
        "deviceType": "netdevice",
    }
    if mtu:
        spec["mtu"] = mtu
    return {
        "apiVersion": API_VERSION,
        "kind": "SriovNetworkNodePolicy",
        "metadata": {"name": "all", "namespace": NAMESPACE},
        "spec": spec,
    }


async def populate(objects: KubeObjects, nodes: int) -> float:
    started = time.monotonic()
    await install_crds(objects, [*all_crds(), NETWORK_ATTACHMENT_DEFINITION_CRD])
    await objects.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    )
    config = {
        "apiVersion": API_VERSION,
        "kind": "SriovOperatorConfig",
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": {"configDaemonNodeSelector": {LABEL: "true"}},
    }
    await objects.apply(SRIOV_OPERATOR_CONFIGS, config, MANAGER)

    async def one(index: int) -> None:
        name = f"worker-{index:05d}"
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {LABEL: "true"}}}
        await objects.apply(NODES, node, MANAGER)
        state = {
            "apiVersion": API_VERSION,
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": name, "namespace": NAMESPACE},
        }
        await objects.create(SRIOV_NETWORK_NODE_STATES, state)
        status = {**state, "status": {"interfaces": [PF], "syncStatus": "Succeeded"}}
        await objects.apply(
            SRIOV_NETWORK_NODE_STATES, status, "sriov-fdp-config-daemon", subresource="status"
        )

    await gather_limited(16, [one(i) for i in range(nodes)])
    return time.monotonic() - started


def scrape(port: int) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(verb, resource): float(value) for resource, verb, value in WRITES.findall(text)}


def rss_mib(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def wait_until(check: Any, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what} not within {timeout:.0f}s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def spec_writes(port: int) -> float:
    return scrape(port).get(SPECS, 0.0)


def total_writes(port: int) -> float:
    return sum(scrape(port).values())


def writes_since(port: int, before: dict[tuple[str, str], float]) -> dict[str, int]:
    """Writes by ``verb resource`` since ``before`` (a scrape)."""
    now = scrape(port)
    return {
        f"{verb} {resource}": round(count - before.get((verb, resource), 0.0))
        for (verb, resource), count in sorted(now.items())
        if count > before.get((verb, resource), 0.0)
    }


async def idle_after(port: int, quiet: float = 3.0) -> float:
    """Seconds until no write happened for ``quiet`` seconds (the quiet time not counted)."""
    started = time.monotonic()
    last, last_change = total_writes(port), time.monotonic()
    while time.monotonic() - last_change < quiet:
        await asyncio.sleep(0.25)
        now = await asyncio.to_thread(total_writes, port)
        if now != last:
            last, last_change = now, time.monotonic()
    return last_change - started


async def measure_change(
    objects: KubeObjects,
    port: int,
    body: dict[str, Any],
    nodes: int,
    *,
    expected: tuple[tuple[str, str], ...],
    quiet: float,
    pid: int,
) -> dict[str, Any]:
    """Apply ``body``; ``expected``: the writes each node needs (specs, ConfigMaps, labels)."""
    before, cpu_before = scrape(port), cpu_seconds(pid)
    started = time.monotonic()
    await objects.apply(SRIOV_NETWORK_NODE_POLICIES, body, MANAGER)

    def reached(kinds: tuple[tuple[str, str], ...]) -> bool:
        now = scrape(port)
        return all(now.get(kind, 0.0) - before.get(kind, 0.0) >= nodes for kind in kinds)

    specs = await wait_until(lambda: reached((SPECS,)), 1800, "all specs written")
    await wait_until(lambda: reached(expected), 1800, "all specs and ConfigMaps written")
    converged = time.monotonic() - started
    at_convergence, cpu = scrape(port), cpu_seconds(pid) - cpu_before
    await asyncio.sleep(quiet)
    after_convergence = writes_since(port, at_convergence)
    idle = converged + await idle_after(port)
    writes = writes_since(port, before)
    return {
        "specs_seconds": specs,
        "converged_seconds": converged,
        "operator_cpu_seconds": cpu,
        "idle_seconds": idle,
        "spec_writes": writes.get(" ".join(SPECS), 0),
        "all_writes": sum(writes.values()),
        "writes": writes,
        "after_convergence": after_convergence,
    }


async def raw_apply_rate(objects: KubeObjects, nodes: int, concurrency: int) -> float:
    """NodeState specs per second a minimal client gets server-side applied (each a real change)."""
    spec = {
        "interfaces": [
            {
                "pciAddress": PF["pciAddress"],
                "numVfs": 4,
                "name": "ens1f0",
                "vfGroups": [
                    {"resourceName": "raw", "deviceType": "netdevice", "vfRange": "0-3", "policyName": "raw"}
                ],
            }
        ]
    }

    async def one(index: int) -> None:
        body = {
            "apiVersion": API_VERSION,
            "kind": "SriovNetworkNodeState",
            "metadata": {"name": f"worker-{index:05d}", "namespace": NAMESPACE},
            "spec": spec,
        }
        await objects.apply(SRIOV_NETWORK_NODE_STATES, body, "raw-client")

    started = time.monotonic()
    await gather_limited(concurrency, [one(i) for i in range(nodes)])
    return nodes / (time.monotonic() - started)


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


async def run_size(plane: ControlPlane, nodes: int, workers: int, quiet: float) -> dict[str, Any]:
    async with api_session(plane.kubeconfig) as api:
        objects = KubeObjects(api)
        populate_seconds = await populate(objects, nodes)
        port = free_port()
        env = {**os.environ, "SRIOV_OPERATOR_LOG_LEVEL": "WARNING"}
        operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sriov_operator.cli",
                "operator",
                "--kubeconfig",
                str(plane.kubeconfig),
                "--namespace",
                NAMESPACE,
                "--metrics-port",
                str(port),
                "--health-address",
                "127.0.0.1",
                "--leader-elect=false",
                "--workers",
                str(workers),
            ],
            env=env,
        )
        try:
            sync_seconds = await wait_until(lambda: ready(port), 600, "operator ready")
            await idle_after(port)
            start_writes = total_writes(port)
            first = await measure_change(
                objects,
                port,
                policy(),
                nodes,
                expected=(SPECS, CONFIG_MAPS_WRITTEN, LABELS),
                quiet=quiet,
                pid=operator.pid,
            )
            renamed = await measure_change(
                objects,
                port,
                policy(resource="renamed"),
                nodes,
                expected=(SPECS, CONFIG_MAPS_WRITTEN),
                quiet=quiet,
                pid=operator.pid,
            )
            mtu = await measure_change(
                objects,
                port,
                policy(mtu=9000, resource="renamed"),
                nodes,
                expected=(SPECS,),
                quiet=quiet,
                pid=operator.pid,
            )
            rss, peak = rss_mib(operator.pid)
        finally:
            operator.terminate()
            operator.wait(timeout=60)
        raw_rate = await raw_apply_rate(objects, nodes, workers)
    ours = nodes / first["specs_seconds"]
    return {
        "nodes": nodes,
        "populate_s": populate_seconds,
        "sync_s": sync_seconds,
        "start_writes": start_writes,
        "first": first,
        "renamed": renamed,
        "mtu": mtu,
        "rss": rss,
        "peak": peak,
        "raw_rate": raw_rate,
        "our_rate": ours,
        "ratio": ours / raw_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quiet", type=float, default=30.0, help="seconds watched after convergence")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        "| nodes | populate (s) | operator sync (s) | policy → all specs (s) | → idle (s) | writes "
        "(specs / all) | MTU change → all specs (s) | writes (specs / all) | our spec rate (/s) | raw SSA "
        "rate (/s) | ratio | RSS after / peak (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for nodes in args.nodes:
        plane = ControlPlane().start()
        try:
            r = asyncio.run(run_size(plane, nodes, args.workers, args.quiet))
        finally:
            plane.stop()
        first, mtu = r["first"], r["mtu"]
        print(
            f"| {nodes:,} | {r['populate_s']:.0f} | {r['sync_s']:.1f} | {first['specs_seconds']:.1f} | "
            f"{first['idle_seconds']:.1f} | {first['spec_writes']:.0f} / {first['all_writes']:.0f} | "
            f"{mtu['specs_seconds']:.1f} | {mtu['spec_writes']:.0f} / {mtu['all_writes']:.0f} | "
            f"{r['our_rate']:.0f} | {r['raw_rate']:.0f} | {r['ratio']:.2f} | "
            f"{r['rss']:.0f} / {r['peak']:.0f} |",
            flush=True,
        )
        print(f"  (writes while starting with no policy: {r['start_writes']:.0f})", flush=True)
        for change in ("first", "renamed", "mtu"):
            c = r[change]
            print(
                f"  {change}: specs {c['specs_seconds']:.1f}s, converged {c['converged_seconds']:.1f}s "
                f"(operator CPU {c['operator_cpu_seconds']:.1f}s), idle {c['idle_seconds']:.1f}s; "
                f"writes {c['writes']}; in the {args.quiet:.0f}s after "
                f"convergence: {c['after_convergence'] or 'none'}",
                flush=True,
            )
        print(f"  load average at the end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
