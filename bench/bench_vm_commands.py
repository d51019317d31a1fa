"""VM benchmark: one ``sriov-operator`` command in a guest, forked by the fork server against a plain python3.

Run: ``python bench/bench_vm_commands.py [--rounds 3]``.  Boots the bare-metal guest
(TCG where KVM is missing), then alternates the same command, ``sriov-operator discover
--host-root /``, run through the guest's wrapper (a fork of the server that imported the
project at boot, guest/forkserver.py) and run by a fresh ``python3`` (every import again),
so both see the same load.  Prints Markdown rows for bench/RESULTS.md ("CI time"): the
seconds the guest's agent measured for each run, the first forked run apart (it may
wait for the server's imports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from sriov_vmtest.accel import choose_accel
from sriov_vmtest.build import ensure_bundle
from sriov_vmtest.machine import TestMachine
from sriov_vmtest.profiles import baremetal_host
from sriov_vmtest.recipe import default_recipe

REPO = Path(__file__).resolve().parent.parent
COMMAND = ["discover", "--host-root", "/"]
PLAIN = ["python3", "-c", "import sys; from sriov_operator.cli import main; sys.exit(main())"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bundle = ensure_bundle(default_recipe())
    with tempfile.TemporaryDirectory() as run_dir:
        accel = choose_accel(bundle.qemu_command(), bundle.kernel, Path(run_dir))
        with TestMachine(baremetal_host(False), bundle, Path(run_dir), REPO, accel=accel).boot() as vm:
            load = [os.getloadavg()[0]]
            first = vm.run(["sriov-operator", *COMMAND])
            assert first.returncode == 0, str(first)
            forked: list[float] = []
            plain: list[float] = []
            for _ in range(args.rounds):
                for argv, times in ((["sriov-operator", *COMMAND], forked), ([*PLAIN, *COMMAND], plain)):
                    result = vm.run(argv)
                    assert result.returncode == 0, str(result)
                    times.append(result.seconds)
                load.append(os.getloadavg()[0])
    span = f"{min(load):.0f} to {max(load):.0f}"
    print(f"| `sriov-operator discover` in the guest ({accel}), load average {span} | |")
    print(f"| first forked run after boot (waits for the server's imports) | {first.seconds:.1f} s |")
    print(
        f"| forked (fork server), median of {args.rounds} | {statistics.median(forked):.1f} s "
        f"({', '.join(f'{s:.1f}' for s in forked)}) |"
    )
    print(
        f"| plain `python3`, median of {args.rounds} | {statistics.median(plain):.1f} s "
        f"({', '.join(f'{s:.1f}' for s in plain)}) |"
    )


if __name__ == "__main__":
    main()
