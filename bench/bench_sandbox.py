"""The one-command sandbox: time from `sriov-operator sandbox` to every NodeState Succeeded.

Run: .venv/bin/python bench/bench_sandbox.py [--workers 2 10] [--runs N]

Each run starts `sriov-operator sandbox --workers N --apply-examples --until-synced`
as a user would (control-plane binaries already cached) and reads its output as it
comes: "synced" is when the summary line "all N NodeStates Succeeded" is printed
(every daemon applied the seed's policies, resources published, the example pod
injected), "exit" when the process has stopped everything and exited. CPU is the
user+system time of the sandbox and every process below it. The load average is
the machine's (other work shares the two cores).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Run:
    workers: int
    synced: float
    exited: float
    cpu: float
    load_before: float
    load_after: float


def run_once(workers: int, timeout: float) -> Run:
    load_before = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        argv = [
            sys.executable, "-m", "sriov_operator.cli", "sandbox", "--workers", str(workers),
            "--apply-examples", "--until-synced", "--timeout", str(timeout),
            "--kubeconfig", str(Path(tmp) / "kubeconfig"), "--workdir", str(Path(tmp) / "sandbox"),
        ]  # fmt: skip
        started = time.monotonic()
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
        )
        assert process.stdout is not None
        synced = None
        for line in process.stdout:
            if line.startswith(f"all {workers} NodeStates Succeeded"):
                synced = time.monotonic() - started
        code = process.wait()
        exited = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if code != 0 or synced is None:
        raise SystemExit(f"sandbox with {workers} workers failed (exit {code})")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(workers, synced, exited, cpu, load_before, os.getloadavg()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 10])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    columns = ("to all Succeeded (s)", "to exit (s)", "CPU, all processes (s)", "load avg before / after")
    print(f"| workers | run | {' | '.join(columns)} |")
    print("|---:|---:|---:|---:|---:|---|")
    for workers in args.workers:
        for index in range(args.runs):
            r = run_once(workers, args.timeout)
            print(
                f"| {workers} | {index + 1} | {r.synced:.1f} | {r.exited:.1f} | {r.cpu:.1f} "
                f"| {r.load_before:.1f} / {r.load_after:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
