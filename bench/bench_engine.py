"""Benchmark of the policy engine: full render of N nodes x P policies x F PFs per node.

Run: ``python bench/bench_engine.py`` (sizes 500, 5,000 and 20,000 nodes, 100 policies,
8 PFs per node).  Each size runs in a fresh process so its peak RSS is its own.
``--write-results`` replaces the ``## Policy engine`` section of bench/RESULTS.md.

The synthetic cluster: 5 hardware profiles, 10 zones; every PF an Intel or Mellanox
NIC with 64 VFs; a third of the policies select every node, the others one zone or one
hardware profile; each policy takes a 4-VF slice of one PF (explicit pfNames range),
every tenth also by vendor/deviceID.  Timed: the engine from typed objects (what the
controller holds in its informer cache) to rendered output; building those objects
(parsing) is reported apart.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sriov_operator.api.models import SriovNetworkNodePolicy, SriovNetworkNodeState
from sriov_operator.engine.inputs import ClusterObjects, Node
from sriov_operator.engine.render import (
    nodes_affected_by_policy_change,
    policy_index,
    prepare,
    render_cluster,
    render_nodes,
)

NAMESPACE = "sriov-network-operator"
PF_NAMES = [f"ens{card}f{port}" for card in range(1, 5) for port in range(2)]
VFS_PER_PF = 64
SLICE = 4
RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "## Policy engine"


def _nic(profile: int, index: int) -> tuple[str, str]:
    return ("15b3", "101d") if (profile + index) % 3 == 0 else ("8086", "158b")


def build_cluster(nodes: int, policies: int, pfs: int, distinct: bool) -> ClusterObjects:
    """``distinct``: every node has its own PCI addresses, so no two nodes render alike."""
    cluster = ClusterObjects(NAMESPACE)
    for n in range(nodes):
        name = f"worker-{n:05d}"
        profile = n % 5
        labels = {
            "node-role.kubernetes.io/worker": "",
            "kubernetes.io/os": "linux",
            "kubernetes.io/hostname": name,
            "zone": f"z{n % 10}",
            "hw": f"profile{profile}",
        }
        cluster.nodes[name] = Node(name, labels)
        interfaces = []
        for i in range(pfs):
            vendor, device = _nic(profile, i)
            interfaces.append(
                {
                    "name": PF_NAMES[i % len(PF_NAMES)] + ("" if i < len(PF_NAMES) else f"x{i}"),
                    "pciAddress": f"{n if distinct else 0:04x}:{0x3B + i:02x}:00.{profile % 2}",
                    "mac": f"b8:ce:f6:{n >> 8 & 0xFF:02x}:{n & 0xFF:02x}:{i:02x}",
                    "vendor": vendor,
                    "deviceID": device,
                    "totalvfs": VFS_PER_PF,
                    "numVfs": VFS_PER_PF,
                    "mtu": 1500,
                    "linkType": "ETH",
                }
            )
        cluster.node_states[name] = SriovNetworkNodeState.model_validate(
            {"metadata": {"name": name, "namespace": NAMESPACE}, "status": {"interfaces": interfaces}}
        )
    for k in range(policies):
        pf_name = PF_NAMES[k % min(pfs, len(PF_NAMES))]
        first = (k // len(PF_NAMES)) % (VFS_PER_PF // SLICE) * SLICE
        selector: dict[str, Any] = {"pfNames": [f"{pf_name}#{first}-{first + SLICE - 1}"]}
        if k % 10 == 9:
            selector.update(vendor="8086", deviceID="158b")
        node_selector = [{"kubernetes.io/os": "linux"}, {"zone": f"z{k % 10}"}, {"hw": f"profile{k % 5}"}][
            k % 3
        ]
        cluster.policies.append(
            SriovNetworkNodePolicy.model_validate(
                {
                    "metadata": {"name": f"policy-{k:03d}", "namespace": NAMESPACE},
                    "spec": {
                        "resourceName": f"res{k % 50}",
                        "nodeSelector": node_selector,
                        "priority": k % 100,
                        "numVfs": VFS_PER_PF,
                        "nicSelector": selector,
                        "deviceType": "vfio-pci" if k % 4 == 0 else "netdevice",
                    },
                }
            )
        )
    return cluster


def measure(nodes: int, policies: int, pfs: int, distinct: bool) -> dict[str, Any]:
    started = time.perf_counter()
    cluster = build_cluster(nodes, policies, pfs, distinct)
    built = time.perf_counter()
    result = render_cluster(cluster, resource_prefix="openshift.io")
    rendered = time.perf_counter()
    prep = prepare(cluster, resource_prefix="openshift.io")
    index = policy_index(prep)
    changed = cluster.policies[1]  # selects one zone
    cluster.policies[1] = changed.model_copy(
        update={"spec": changed.spec.model_copy(update={"node_selector": {"zone": "z2"}})}
    )
    incremental_started = time.perf_counter()
    prep_after = prepare(cluster, resource_prefix="openshift.io")
    affected = nodes_affected_by_policy_change(index, prep_after, changed.name)
    render_nodes(prep_after, affected)
    incremental_done = time.perf_counter()
    return {
        "nodes": nodes,
        "fleet": "every node distinct" if distinct else "5 hardware profiles",
        "policies": policies,
        "pfs": pfs,
        "build_s": round(built - started, 2),
        "render_s": round(rendered - built, 2),
        "per_node_ms": round((rendered - built) / nodes * 1000, 3),
        "one_policy_nodes": len(affected),
        "one_policy_s": round(incremental_done - incremental_started, 3),
        "vf_groups": sum(
            len(i.get("vfGroups", [])) for s in result.node_states.values() for i in s.get("interfaces", [])
        ),
        "errors": sum(p.severity == "error" for p in result.problems),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


COLUMNS = (
    ("fleet", "fleet"),
    ("nodes", "nodes"),
    ("render_s", "render (s)"),
    ("per_node_ms", "per node (ms)"),
    ("build_s", "build inputs (s)"),
    ("peak_rss_mib", "peak RSS (MiB)"),
    ("one_policy_nodes", "one-policy change: nodes"),
    ("one_policy_s", "one-policy change (s)"),
)


NOTES = (
    "Cost grows close to linearly in nodes (per-node cost rises about 1.5x from 500 to 20,000 nodes, as",
    "memory grows). Nodes alike in every input the rules read share one",
    "computation, which is what keeps a fleet of a few hardware models well under the 5 s target; the",
    "'every node distinct' rows (each node its own PCI addresses) are the worst case and miss it at",
    "5,000 nodes (about 1.6 ms per node of pure-Python selection, merge and cross-policy checks).",
)


def results_section(rows: list[dict[str, Any]]) -> str:
    lines = [
        HEADING,
        "",
        f"`python bench/bench_engine.py` on {platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}, 2 cores; 100 policies, 8 PFs per node.",
        "Render = typed objects → NodeState specs, device-plugin lists, NADs and all problems;",
        "build = creating the typed objects (not part of render). One-policy change = `prepare` +",
        "`nodes_affected_by_policy_change` + `render_nodes` for a policy moving from one zone to another.",
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|---|" + "---:|" * (len(COLUMNS) - 1),
    ]
    for row in rows:
        cells = [f"{row[key]:,}" if isinstance(row[key], int) else str(row[key]) for key, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *NOTES]
    return "\n".join(lines) + "\n"


def write_results(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if HEADING in text:
        start = text.index(HEADING)
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end + 1 :] if end != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[500, 5000, 20000])
    parser.add_argument("--policies", type=int, default=100)
    parser.add_argument("--pfs", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--distinct", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.nodes[0], args.policies, args.pfs, args.distinct)))
        return 0
    rows = []
    for distinct, nodes in [(d, n) for d in (False, True) for n in args.nodes]:
        command = [sys.executable, __file__, "--child", "--nodes", str(nodes)]
        command += ["--policies", str(args.policies), "--pfs", str(args.pfs)] + ["--distinct"] * distinct
        row = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        print(json.dumps(row))
        rows.append(row)
    section = results_section(rows)
    print(section)
    if args.write_results:
        write_results(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
