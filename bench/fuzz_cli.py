"""Bounded fuzz of the offline CLI: mutated manifests through validate, render, diff and plan.

Each case takes a seed document, replaces one value somewhere in it (a map with a
string, a number with 1e15, a name with 253 characters, ...), writes it to a file
and runs the commands in this process through ``cli.main``. A finding is anything
that escapes ``cli.main`` (a traceback), or ``validate`` and ``diff`` disagreeing
(either way) about whether the case has an error; ``validate`` and ``render`` read the
saved cluster with the case applied, the objects ``diff`` judges. The address space is capped, so an
unbounded expansion shows up as a MemoryError finding instead of swapping.

    python bench/fuzz_cli.py [--cases 300] [--seed 1] [--memory-mib 1536]

Exit 1 when there is a finding; results go in bench/RESULTS.md ("CLI fuzz").
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sriov_operator.cli import main
from sriov_operator.host.simulator.builder import create_host, load_profile

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "tests" / "fixtures" / "diff" / "cluster.yaml"
HOSTILE: tuple[Any, ...] = (
    "oops",
    "",
    0,
    -1,
    1e15,
    10**15,
    2**63,
    4611686018427387904,
    True,
    None,
    [],
    ["oops"],
    {},
    {"oops": 1},
    "x" * 253,
    "0-99999999999999",
    "ens1f0#0-99999999999999",
    "../x?watch=true",
)
POLICY = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodePolicy",
    "metadata": {"name": "intel-dpdk", "namespace": "sriov-network-operator"},
    "spec": {
        "resourceName": "intel_dpdk",
        "nodeSelector": {"sriov": "true"},
        "numVfs": 8,
        "mtu": 9000,
        "nicSelector": {"pfNames": ["ens1f0#0-7"], "vendor": "8086"},
        "deviceType": "vfio-pci",
    },
}
NETWORK = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetwork",
    "metadata": {"name": "net1", "namespace": "sriov-network-operator"},
    "spec": {"resourceName": "intel_dpdk", "vlan": 10, "vlanQoS": 3, "maxTxRate": 100, "ipam": "{}"},
}
STATE = {
    "apiVersion": "sriovnetwork.openshift.io/v1",
    "kind": "SriovNetworkNodeState",
    "metadata": {"name": "worker-0", "namespace": "sriov-network-operator"},
    "spec": {
        "interfaces": [
            {
                "pciAddress": "0000:3b:00.0",
                "numVfs": 8,
                "mtu": 9000,
                "name": "ens1f0",
                "vfGroups": [{"resourceName": "r", "deviceType": "vfio-pci", "vfRange": "0-7"}],
            }
        ]
    },
}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from _paths(sub, (*prefix, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield from _paths(sub, (*prefix, index))


def mutate(document: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], str]:
    """A copy of ``document`` with one to three values replaced; the second item says where and with what."""
    body = copy.deepcopy(document)
    said = []
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _paths(body) if p])
        value = copy.deepcopy(rng.choice(HOSTILE))
        parent: Any = body
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
        said.append(f"{'.'.join(map(str, path))} = {value!r:.40}")
    return body, "; ".join(said)


@dataclass
class Finding:
    command: str
    mutation: str
    detail: str


def _run(argv: list[str]) -> tuple[int | None, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            return main(argv), err.getvalue()
    except SystemExit as exit_:
        return int(exit_.code or 0), err.getvalue()
    except BaseException:  # a finding is exactly what escapes cli.main
        return None, traceback.format_exc(limit=-3)


def _others(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The saved cluster's objects but the one ``body`` replaces (same kind and name)."""
    name = body.get("metadata", {}).get("name") if isinstance(body.get("metadata"), dict) else None
    return [
        doc
        for doc in yaml.safe_load_all(CLUSTER.read_text())
        if (doc["kind"], doc["metadata"]["name"]) != (body.get("kind"), name)
    ]


def run_case(seed_doc: dict[str, Any], rng: random.Random, work: Path, host: Path) -> list[Finding]:
    body, mutation = mutate(seed_doc, rng)
    manifest = work / "case.yaml"
    manifest.write_text(yaml.safe_dump(body))
    findings: list[Finding] = []
    if body.get("kind") == "SriovNetworkNodeState" or seed_doc is STATE:
        code, out = _run(["plan", "--host-root", str(host), "--simulate", "--state", str(manifest)])
        if code is None:
            findings.append(Finding("plan", mutation, out))
        return findings
    applied = work / "applied.yaml"  # the objects diff judges: the cluster with the case applied
    applied.write_text(yaml.safe_dump_all([*_others(body), body]))
    verdicts: dict[str, int] = {}
    for command in (
        ["validate", "-f", str(applied)],
        ["render", "-f", str(applied)],
        ["diff", "--from", str(CLUSTER), "-f", str(manifest), "-o", "json"],
    ):
        code, out = _run(command)
        if code is None:
            findings.append(Finding(command[0], mutation, out))
        else:
            verdicts[command[0]] = code
    if "validate" in verdicts and "diff" in verdicts:
        validate_error, diff_error = verdicts["validate"] == 1, verdicts["diff"] == 1
        if validate_error != diff_error:
            said = (
                "validate finds an error, diff does not"
                if validate_error
                else "diff refuses, validate does not"
            )
            findings.append(Finding("diff", mutation, said))
    return findings


def main_fuzz(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--memory-mib", type=int, default=1536)
    args = parser.parse_args(argv)
    limit = args.memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    rng = random.Random(args.seed)
    findings: list[Finding] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        host = work / "host"
        create_host(load_profile("baremetal-intel"), host)
        seeds = (POLICY, NETWORK, STATE)
        for number in range(args.cases):
            findings += run_case(seeds[number % len(seeds)], rng, work, host)
    elapsed = time.monotonic() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for finding in findings:
        print(f"{finding.command}: {finding.mutation}\n  {finding.detail.strip().splitlines()[-1]}")
    print(
        f"{args.cases} cases ({len(findings)} findings) in {elapsed:.1f} s, peak RSS {peak_mib:.0f} MiB, "
        f"address space capped at {args.memory_mib} MiB"
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main_fuzz())
