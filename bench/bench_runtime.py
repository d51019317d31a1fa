"""Runtime: list+sync time and memory of informers caching 5,000 Nodes + 5,000 NodeStates.

Run: .venv/bin/python bench/bench_runtime.py [--nodes 5000]

A fresh control plane gets N Nodes shaped like a kubelet writes them (image
list, four conditions, node info, capacity; tests/fixtures/kubelet-node.json)
and N SriovNetworkNodeStates (spec for 2 PFs, status with 2 PFs x 16 VFs).
A fresh Python process then starts two informers the way the operator does
(Nodes through `slim_node`, NodeStates through `slim_node_state`) and reports
the time until both are synced and its resident memory with the caches held;
a second process does the same without transforms, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import gc
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import NAMESPACES, NODES, SRIOV_NETWORK_NODE_STATES
from sriov_operator.kube.session import api_session
from sriov_operator.runtime.informer import Informer
from sriov_operator.runtime.transforms import slim_node, slim_node_state

NAMESPACE = "sriov-network-operator"
KUBELET_NODE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "kubelet-node.json"
CONCURRENCY = 32


def status_kib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of another process (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def node_body(template: dict[str, Any], index: int) -> dict[str, Any]:
    node = copy.deepcopy(template)
    name = f"worker-{index:05d}"
    metadata = node["metadata"]
    for key in ("managedFields", "uid", "resourceVersion", "creationTimestamp"):
        metadata.pop(key, None)
    metadata["name"] = name
    metadata["labels"]["kubernetes.io/hostname"] = name
    metadata["labels"]["topology.kubernetes.io/zone"] = f"zone-{index % 3}"
    node["spec"]["providerID"] = f"baremetal://{name}"
    node["spec"]["podCIDR"] = node["spec"]["podCIDRs"][0] = f"10.{index // 256}.{index % 256}.0/24"
    ip = f"10.200.{index // 250}.{index % 250 + 1}"
    node["status"]["addresses"] = [
        {"type": "InternalIP", "address": ip},
        {"type": "Hostname", "address": name},
    ]
    info = node["status"]["nodeInfo"]
    info["machineID"] = info["systemUUID"] = f"{index:032x}"
    info["bootID"] = f"{index:08x}-0000-4000-8000-{index:012x}"
    return node


def pf(index: int, port: int) -> dict[str, Any]:
    address = f"0000:3b:00.{port}"
    vfs = [
        {
            "name": f"ens1f{port}v{vf}",
            "mac": f"02:00:{index // 256 % 256:02x}:{index % 256:02x}:{port:02x}:{vf:02x}",
            "driver": "iavf",
            "pciAddress": f"0000:3b:{2 + port:02x}.{vf % 8}",
            "vendor": "8086",
            "deviceID": "154c",
            "mtu": 1500,
            "vfID": vf,
        }
        for vf in range(16)
    ]
    return {
        "name": f"ens1f{port}",
        "mac": f"b4:96:91:{index // 256 % 256:02x}:{index % 256:02x}:{port:02x}",
        "driver": "i40e",
        "pciAddress": address,
        "vendor": "8086",
        "deviceID": "158b",
        "mtu": 1500,
        "numVfs": 16,
        "linkSpeed": "25000 Mb/s",
        "linkType": "ETH",
        "linkAdminState": "up",
        "eSwitchMode": "legacy",
        "totalvfs": 64,
        "Vfs": vfs,
    }


def node_state(index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    name = f"worker-{index:05d}"
    spec_interfaces = [
        {
            "pciAddress": f"0000:3b:00.{port}",
            "name": f"ens1f{port}",
            "numVfs": 16,
            "mtu": 1500,
            "vfGroups": [
                {"resourceName": "intel_sriov_netdevice", "deviceType": "netdevice", "vfRange": "0-7",
                 "policyName": "policy-netdevice"},
                {"resourceName": "intel_sriov_dpdk", "deviceType": "vfio-pci", "vfRange": "8-15",
                 "policyName": "policy-dpdk"},
            ],
        }
        for port in (0, 1)
    ]  # fmt: skip
    body = {
        "apiVersion": SRIOV_NETWORK_NODE_STATES.api_version,
        "kind": "SriovNetworkNodeState",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"interfaces": spec_interfaces},
    }
    status = {
        "status": {
            "interfaces": [pf(index, 0), pf(index, 1)],
            "syncStatus": "Succeeded",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Configured", "message": "VFs configured",
                 "lastTransitionTime": "2026-11-26T10:00:00Z"},
            ],
        }
    }  # fmt: skip
    return body, status


async def populate(kubeconfig: Path, count: int) -> float:
    """Create the objects (imports here: the measuring process must not pay for them)."""
    from sriov_operator.api.crds import all_crds
    from sriov_operator.kube.crds import install_crds
    from sriov_operator.kube.session import api_session

    started = time.monotonic()
    template = json.loads(KUBELET_NODE.read_text())
    async with api_session(kubeconfig) as api:
        objects = KubeObjects(api)
        await install_crds(objects, all_crds())
        await objects.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        )
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(index: int) -> None:
            async with gate:
                await objects.create(NODES, node_body(template, index))
                body, status = node_state(index)
                await objects.create(SRIOV_NETWORK_NODE_STATES, body)
                await objects.patch(
                    SRIOV_NETWORK_NODE_STATES,
                    body["metadata"]["name"],
                    status,
                    NAMESPACE,
                    subresource="status",
                )

        await asyncio.gather(*(one(i) for i in range(count)))
    return time.monotonic() - started


async def measure(kubeconfig: Path, transforms: bool) -> dict[str, float]:
    """In this (fresh) process: sync two informers and report time and memory."""
    gc.collect()
    baseline = status_kib("VmRSS")
    async with api_session(kubeconfig) as session:
        objects = KubeObjects(session)
        nodes = Informer(objects, NODES, transform=slim_node if transforms else None)
        states = Informer(
            objects,
            SRIOV_NETWORK_NODE_STATES,
            namespace=NAMESPACE,
            transform=slim_node_state if transforms else None,
        )
        started, cpu_started = time.monotonic(), cpu_seconds()
        tasks = [asyncio.create_task(nodes.run()), asyncio.create_task(states.run())]
        await asyncio.gather(nodes.wait_synced(), states.wait_synced())
        sync, cpu = time.monotonic() - started, cpu_seconds() - cpu_started
        gc.collect()
        held = status_kib("VmRSS")
        result = {
            "nodes": len(nodes),
            "node_states": len(states),
            "sync_s": sync,
            "cpu_s": cpu,
            "rss_mib": held,
            "baseline_rss_mib": baseline,
            "peak_rss_mib": status_kib("VmHWM"),
        }
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return result


def child(kubeconfig: Path, transforms: bool, server_pids: list[int]) -> dict[str, float]:
    """Measure in a fresh process; also count the CPU the API server and etcd spent meanwhile."""
    argv = [sys.executable, __file__, "--measure", str(kubeconfig)]
    argv += [] if transforms else ["--no-transforms"]
    server_before = sum(process_cpu_seconds(pid) for pid in server_pids)
    output = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["server_cpu_s"] = sum(process_cpu_seconds(pid) for pid in server_pids) - server_before
    result["load"] = load_average()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--no-transforms", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, not args.no_transforms))))
        return
    from sriov_operator.controlplane.process import ControlPlane

    with ControlPlane() as plane:
        created = asyncio.run(populate(plane.kubeconfig, args.nodes))
        print(f"created {args.nodes} Nodes + {args.nodes} NodeStates (with status) in {created:.1f}s")
        for transforms in (True, False):
            result = child(plane.kubeconfig, transforms, plane.pids())
            label = "with transforms" if transforms else "without transforms"
            print(
                f"{label}: {result['nodes']:.0f} Nodes + {result['node_states']:.0f} NodeStates synced in "
                f"{result['sync_s']:.2f}s (CPU: ours {result['cpu_s']:.2f}s, API server + etcd "
                f"{result['server_cpu_s']:.2f}s; load average {result['load']:.1f}); "
                f"RSS with caches held {result['rss_mib']:.0f} MiB "
                f"(after imports {result['baseline_rss_mib']:.0f} MiB, peak {result['peak_rss_mib']:.0f} MiB)"
            )


if __name__ == "__main__":
    main()
