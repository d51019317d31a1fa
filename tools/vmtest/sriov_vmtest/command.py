"""``python -m sriov_vmtest``: build the guest bundle; boot a test machine, run a command in it."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from sriov_operator.errors import BadInputError, SriovOperatorError, describe, exit_code_for
from sriov_vmtest.accel import choose_accel
from sriov_vmtest.build import ensure_bundle
from sriov_vmtest.machine import TestMachine, checkout
from sriov_vmtest.profiles import PROFILES, baremetal_host, openstack_vm
from sriov_vmtest.recipe import bundle_dir, default_recipe


def _build(args: argparse.Namespace) -> int:
    del args
    recipe = default_recipe()
    started = time.monotonic()
    bundle = ensure_bundle(recipe)
    size = sum(p.lstat().st_size for p in bundle.path.rglob("*"))
    print(
        json.dumps(
            {
                "bundle": str(bundle.path),
                "seconds": round(time.monotonic() - started, 1),
                "bytes": size,
                "manifest": bundle.manifest,
            },
            indent=2,
        )
    )
    return 0


def _where(args: argparse.Namespace) -> int:
    del args
    print(bundle_dir(default_recipe()))
    return 0


def _run(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise BadInputError("no command: give the command to run in the guest after --, e.g. -- uname -a")
    project = checkout(Path(args.project), "--project")
    bundle = ensure_bundle(default_recipe())
    spec = openstack_vm(None, None) if args.machine == "openstack" else baremetal_host(args.viommu)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix=f"vm-{spec.name}-"))
    accel = (
        choose_accel(bundle.qemu_command(), bundle.kernel, run_dir) if args.accel == "auto" else args.accel
    )
    with TestMachine(spec, bundle, run_dir, project, accel=accel).boot() as vm:
        result = vm.run(argv, timeout=args.timeout)
    summary = {
        "machine": spec.name,
        "accel": accel,
        "bootSeconds": vm.boot_seconds,
        "kernel": vm.kernel_release,
        "seconds": result.seconds,
        "returncode": result.returncode,
        "logs": str(run_dir),
    }
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    print(json.dumps(summary), file=sys.stderr)
    return result.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sriov_vmtest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build the guest bundle into the cache (if missing)").set_defaults(
        handler=_build
    )
    run = commands.add_parser("run", help="boot a test machine, run one command in it, print its output")
    run.add_argument("--machine", choices=PROFILES, default="openstack")
    run.add_argument("--viommu", action="store_true", help="bare metal: add an Intel vIOMMU (intel_iommu=on)")
    run.add_argument(
        "--accel", choices=("auto", "kvm", "tcg"), default="auto", help="auto: KVM if a probe runs"
    )
    run.add_argument("--timeout", type=float, default=300.0, help="seconds the command may take")
    run.add_argument(
        "--project",
        default=".",
        help="the project's clone the guest runs (its src/, shared over 9p; default: the current directory)",
    )
    run.add_argument("--run-dir", help="where the console log and sockets go (default: a new temp dir)")
    run.add_argument("argv", nargs=argparse.REMAINDER, help="-- then the command")
    run.set_defaults(handler=_run)
    commands.add_parser("where", help="print the bundle's cache directory").set_defaults(handler=_where)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="[vmtest] %(message)s", stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        code: int = args.handler(args)
    except SriovOperatorError as error:
        print(f"vmtest {args.command}: {describe(error)}", file=sys.stderr)
        return exit_code_for(error)
    return code
