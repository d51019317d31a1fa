"""Control plane for tests: warm start time and peak memory of kube-apiserver + etcd.

Run: .venv/bin/python bench/bench_controlplane.py [--starts N] [--objects N]
Cold build time is what `python -m sriov_operator.controlplane.binaries` reports
(and writes to BUILD_SECONDS in the cache directory) on a machine with empty Go caches.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from sriov_operator.api import constants
from sriov_operator.api.crds import all_crds
from sriov_operator.controlplane.binaries import ensure_binaries
from sriov_operator.controlplane.process import ControlPlane
from sriov_operator.kube.crds import install_crds
from sriov_operator.kube.objects import KubeObjects
from sriov_operator.kube.resources import NAMESPACES, SRIOV_NETWORK_NODE_POLICIES
from sriov_operator.kube.session import api_session


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident set size."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


async def workload(plane: ControlPlane, objects: int) -> float:
    """Install the CRDs and create `objects` policies; returns the seconds it took."""
    started = time.monotonic()
    async with api_session(plane.kubeconfig) as api:
        client = KubeObjects(api)
        await install_crds(client, all_crds())
        await client.create(
            NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}}
        )
        for index in range(objects):
            await client.create(
                SRIOV_NETWORK_NODE_POLICIES,
                {
                    "apiVersion": constants.API_VERSION,
                    "kind": "SriovNetworkNodePolicy",
                    "metadata": {"name": f"p{index}"},
                    "spec": {
                        "resourceName": f"r{index}",
                        "nodeSelector": {"a": "b"},
                        "numVfs": 4,
                        "nicSelector": {"pfNames": [f"ens{index}"]},
                    },
                },
                "bench",
            )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--objects", type=int, default=500)
    args = parser.parse_args()
    binaries = ensure_binaries()
    starts: list[float] = []
    for _ in range(args.starts):
        with ControlPlane(binaries=binaries) as plane:
            starts.append(plane.startup_seconds)
    with ControlPlane(binaries=binaries) as plane:
        seconds = asyncio.run(workload(plane, args.objects))
        apiserver_pid, etcd_pid = plane.pids()[1], plane.pids()[0]
        apiserver, etcd = peak_rss_mib(apiserver_pid), peak_rss_mib(etcd_pid)
    print(f"binaries: {binaries.source} ({binaries.kube_apiserver.parent})")
    print(
        f"warm start to /readyz over {args.starts} runs: min {min(starts):.2f}s, "
        f"median {statistics.median(starts):.2f}s, max {max(starts):.2f}s"
    )
    print(f"CRD install + {args.objects} policy creates: {seconds:.2f}s")
    total = apiserver + etcd
    print(f"peak RSS: kube-apiserver {apiserver:.0f} MiB, etcd {etcd:.0f} MiB, total {total:.0f} MiB")


if __name__ == "__main__":
    main()
