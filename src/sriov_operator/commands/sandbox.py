"""``sriov-operator sandbox``: the whole system on one machine, on 127.0.0.1 only (docs/quickstart.md)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from sriov_operator.api import constants
from sriov_operator.controlplane.binaries import cache_root
from sriov_operator.errors import BadInputError

MAX_WORKERS = 50
MAX_PORT = 65535
MAX_VM_WORKERS = 4  # each is a QEMU guest with 512 MiB; under TCG each needs about a CPU while it boots
PLATFORMS = ("openstack", "baremetal")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run the operator, its webhook and simulated workers on a local control plane",
        description=(
            "Start a real kube-apiserver + etcd on 127.0.0.1 with the CRDs and the operator's RBAC, N worker "
            "Nodes on simulated hosts, the operator, the admission webhook and one config daemon per worker; "
            "show each node's progress, then a summary. The first run builds kube-apiserver and etcd from "
            "their Go modules (cached afterwards). See docs/quickstart.md."
        ),
    )
    parser.add_argument(
        "--workers", type=int, default=2, help=f"worker nodes, 1 to {MAX_WORKERS} (default 2)"
    )
    parser.add_argument(
        "--vm-workers",
        type=int,
        default=0,
        help=f"also run this many OpenStack VM workers in QEMU with real kernels, 0 to {MAX_VM_WORKERS} "
        "(default 0; needs a source checkout; the guest bundle is built on first use; docs/vm.md)",
    )
    parser.add_argument(
        "--platform",
        default="openstack",
        help="openstack (VMs with Neutron ports; default) or baremetal (Intel and Mellanox SR-IOV NICs)",
    )
    parser.add_argument(
        "--apply-examples",
        action=argparse.BooleanOptionalAction,
        default=False,
        help=(
            "apply example policies (OpenStack: the DPDK dpdk1 and OVS-offload hwoffload1; bare metal: Intel "
            "and Mellanox VFs as one resource, sriovnic), a SriovNetwork per resource and a pod asking for "
            "them (--no-apply-examples: none, the default)"
        ),
    )
    parser.add_argument(
        "--health-ports",
        type=int,
        metavar="FIRST",
        help="serve each process's /metrics, /healthz and /readyz on 127.0.0.1 from port FIRST on: the "
        "operator FIRST, the webhook FIRST+1, the daemon of worker-<i> FIRST+2+i (default: free ports; the "
        "summary lists them)",
    )
    parser.add_argument(
        "--until-synced",
        action="store_true",
        help="exit 0 once every NodeState is Succeeded (and the example pod injected), else fail with the "
        "reason after --timeout",
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds --until-synced waits (default %(default)s)"
    )
    parser.add_argument(
        "--namespace", default=constants.DEFAULT_OPERATOR_NAMESPACE, help="operator namespace"
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=cache_root() / "sandbox" / "kubeconfig",
        help="where to write the admin kubeconfig (default: %(default)s)",
    )
    parser.add_argument(
        "--control-plane-only",
        action="store_true",
        help="only the control plane (kube-apiserver, etcd, kube-controller-manager, kube-scheduler): no "
        "CRDs, nothing of ours, until Ctrl-C; for trying the Helm chart or kustomize (docs/install.md)",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="where the simulated hosts and the processes' logs go, kept after exit (default: a temporary "
        "directory, removed after a clean exit)",
    )
    parser.set_defaults(handler=run)


def check_arguments(args: argparse.Namespace) -> None:
    least = 0 if args.vm_workers else 1  # VM workers may replace the simulated ones
    if not least <= args.workers <= MAX_WORKERS:
        raise BadInputError(f"--workers: {args.workers} is not accepted ({least} to {MAX_WORKERS})")
    if not 0 <= args.vm_workers <= MAX_VM_WORKERS:
        raise BadInputError(f"--vm-workers: {args.vm_workers} is not accepted (0 to {MAX_VM_WORKERS})")
    if args.vm_workers and args.platform != "openstack":
        raise BadInputError(
            f"--vm-workers: VM workers are OpenStack VMs: --platform {args.platform!r} is not accepted "
            "with them (use --platform openstack)"
        )
    if args.platform not in PLATFORMS:
        raise BadInputError(f"--platform: {args.platform!r} is not accepted ({' or '.join(PLATFORMS)})")
    if not args.timeout > 0:
        raise BadInputError(f"--timeout: {args.timeout} is not accepted (seconds > 0)")
    if not args.namespace:
        raise BadInputError("--namespace: must not be empty (a namespace name, e.g. sriov-network-operator)")
    if args.control_plane_only:
        extra = [
            flag
            for flag, on in (
                ("--apply-examples", args.apply_examples),
                ("--until-synced", args.until_synced),
                ("--vm-workers", args.vm_workers),
            )
            if on
        ]
        if extra:
            raise BadInputError(
                f"--control-plane-only: {', '.join(extra)} not accepted with it (a bare cluster: no workers)"
            )
    if args.health_ports is not None and not 1024 <= args.health_ports <= MAX_PORT - 2 - args.workers:
        raise BadInputError(
            f"--health-ports: {args.health_ports} is not accepted (1024 to {MAX_PORT - 2 - args.workers}: "
            f"{2 + args.workers} ports from it, one per process)"
        )
    if args.workdir is not None and args.workdir.exists() and any(args.workdir.iterdir()):
        raise BadInputError(f"--workdir: {args.workdir} is not empty (a new or empty directory is accepted)")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    # imported here: the sandbox pulls in the Kubernetes clients, which other commands need not pay for
    from sriov_operator.sandbox.session import SandboxOptions, run_sandbox

    options = SandboxOptions(
        workers=args.workers,
        platform=args.platform,
        apply_examples=args.apply_examples,
        until_synced=args.until_synced,
        timeout=args.timeout,
        namespace=args.namespace,
        kubeconfig=args.kubeconfig,
        workdir=args.workdir,
        vm_workers=args.vm_workers,
        control_plane_only=args.control_plane_only,
        health_ports=args.health_ports,
    )
    return run_sandbox(options)
