"""Time a CI run (`.ci/run` in a fresh clone) the way bench/RESULTS.md reports it ("CI time").

    python bench/ci_time.py --clone /tmp/ci-warm                 # warm: the machine's caches
    python bench/ci_time.py --clone /tmp/ci-cold --cold /tmp/ci-cold-caches

The clone is made from this checkout's HEAD (``git clone``), with ``../shared`` beside it
as CI lays it.  ``--cold DIR`` points every cache a first run fills at empty directories
under DIR (the project's cache: control plane, helm/kubectl, VM bundle, podman; Go's build
and module caches; pip's), so the run is a fresh machine's less its apt packages.
Prints one JSON object: wall seconds, the CPU seconds (user + system) of the run and
every process it waited for, the load average sampled every 15 s (min / mean / max),
the exit status, and the seconds at which each ``== step`` line of scripts/test appeared.
The run's output goes to ``CLONE.log``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_PLACES = (ROOT.parent / "shared", ROOT.parent.parent / "shared")  # a clone's, a worktree's


def cold_environment(caches: Path) -> dict[str, str]:
    """Every cache a first CI run fills, pointed at an empty directory under ``caches``."""
    return {
        "SRIOV_OPERATOR_CACHE": str(caches / "sriov-operator"),
        "GOCACHE": str(caches / "go-build"),
        "GOMODCACHE": str(caches / "go-mod"),
        "PIP_CACHE_DIR": str(caches / "pip"),
    }


def sample_load(samples: list[float], stop: threading.Event) -> None:
    while not stop.wait(15.0):
        samples.append(os.getloadavg()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clone", type=Path, required=True, help="a new directory for the clone")
    parser.add_argument("--cold", type=Path, help="empty caches here (a fresh machine's first run)")
    parser.add_argument(
        "--shared",
        type=Path,
        default=next((p for p in SHARED_PLACES if p.is_dir()), None),
        help="the shared/ folder laid beside the clone (default: the one beside this checkout or its parent)",
    )
    parser.add_argument("--nice", type=int, default=10, help="run under nice -n N (%(default)s)")
    args = parser.parse_args()
    clone: Path = args.clone
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    beside = clone.parent / "shared"
    if not beside.exists():
        beside.symlink_to(args.shared.resolve())
    env = dict(os.environ, CI="true")
    if args.cold is not None:
        for directory in cold_environment(args.cold).values():
            shutil.rmtree(directory, ignore_errors=True)
            Path(directory).mkdir(parents=True)
        env.update(cold_environment(args.cold))
    log = clone.with_suffix(".log")
    samples: list[float] = [os.getloadavg()[0]]
    stop = threading.Event()
    threading.Thread(target=sample_load, args=(samples, stop), daemon=True).start()
    steps: dict[str, float] = {}
    started = time.monotonic()
    with log.open("w") as out:
        process = subprocess.Popen(
            ["nice", "-n", str(args.nice), "bash", ".ci/run"],
            cwd=clone,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        for line in process.stdout:
            out.write(line)
            out.flush()  # the log can be followed while the run goes on
            if line.startswith("== "):
                steps[line[3:].strip()] = round(time.monotonic() - started)
        status = process.wait()
    wall = time.monotonic() - started
    stop.set()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "clone": str(clone),
                "cold": args.cold is not None,
                "exit": status,
                "wall_seconds": round(wall),
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime),
                "load_average": {
                    "min": round(min(samples), 1),
                    "mean": round(sum(samples) / len(samples), 1),
                    "max": round(max(samples), 1),
                },
                "steps_started_at": steps,
                "log": str(log),
            },
            indent=2,
        )
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
