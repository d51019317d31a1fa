"""``sriov-operator sandbox``: a local cluster with the operator's API, on 127.0.0.1 only."""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any

from sriov_operator.api import constants
from sriov_operator.controlplane.binaries import cache_root
from sriov_operator.controlplane.process import ControlPlane


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="start a local control plane with the CRDs installed (Ctrl-C stops it)",
        description=(
            "Start a real kube-apiserver + etcd on 127.0.0.1, install the sriovnetwork.openshift.io CRDs, "
            "create the operator namespace and apply the seed article's example policies. "
            "The first run builds kube-apiserver and etcd from their Go modules (cached afterwards)."
        ),
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
    parser.add_argument("--no-examples", action="store_true", help="do not apply the example policies")
    parser.add_argument("--once", action="store_true", help="start, report, and stop again (a smoke check)")
    parser.set_defaults(handler=run)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _say(message: str) -> None:
    print(message, flush=True)


def run(args: argparse.Namespace) -> int:
    # imported here: the Kubernetes client takes a while to import, which other commands need not pay
    from sriov_operator.sandbox.cluster import populate, publish_kubeconfig

    signal.signal(signal.SIGTERM, _raise_interrupt)
    plane = ControlPlane()
    try:
        _say("starting kube-apiserver + etcd on 127.0.0.1 ...")
        plane.start()
        applied, warnings = asyncio.run(populate(plane, args.namespace, with_examples=not args.no_examples))
        kubeconfig = publish_kubeconfig(plane, args.kubeconfig)
        version = plane.get_json("/version")["gitVersion"]
        _say(f"sandbox ready in {plane.startup_seconds:.1f}s: kube-apiserver {version} at {plane.api_url}")
        _say(f"kubeconfig: {kubeconfig}")
        _say(f"operator namespace: {args.namespace}")
        for warning in warnings:
            _say(f"warning: {warning}")
        for name in applied:
            _say(f"applied {name}")
        _say(f"try: kubectl --kubeconfig {kubeconfig} get sriovnetworknodepolicies -A")
        if args.once:
            return 0
        _say("press Ctrl-C to stop")
        while plane.all_running():
            time.sleep(1)
        _say(f"error: a control-plane process exited; logs were in {plane.workdir}")
        return 1
    except KeyboardInterrupt:
        _say("stopping")
        return 0
    finally:
        plane.stop()
