"""What the sandbox tells a user to try names only what exists, and where each process's metrics are."""

from __future__ import annotations

import subprocess
from pathlib import Path

from sriov_operator.cli import build_parser
from sriov_operator.sandbox.session import health_ports, try_commands
from sriov_operator.sandbox.snapshot import Snapshot
from tests.docs_examples import REPO_ROOT

KUBECONFIG = Path("/k/kubeconfig")


def test_without_examples_the_try_list_names_no_nad_pod_or_why() -> None:
    commands = try_commands(Snapshot(["worker-0"]), KUBECONFIG, {"operator": 9100})
    assert not any("network-attachment-definitions" in c or "dpdk-app" in c for c in commands), commands
    assert commands[-1] == "curl -s http://127.0.0.1:9100/metrics | grep ^sriov_"


def test_with_the_example_pod_the_try_list_shows_it_and_why() -> None:
    pod = {"metadata": {"name": "dpdk-app", "namespace": "default"}}
    commands = try_commands(Snapshot(["worker-0"], pod=pod), KUBECONFIG, {})
    assert "kubectl --kubeconfig /k/kubeconfig get network-attachment-definitions -n default" in commands
    assert "sriov-operator why pod dpdk-app -n default --kubeconfig /k/kubeconfig" in commands


def test_health_ports_from_a_first_port_are_known_in_advance() -> None:
    assert health_ports(9100, 2) == {
        "operator": 9100,
        "webhook": 9101,
        "daemon-worker-0": 9102,
        "daemon-worker-1": 9103,
    }
    free = health_ports(None, 1)
    assert sorted(free) == ["daemon-worker-0", "operator", "webhook"]
    assert all(1024 <= port <= 65535 for port in free.values())


def _script_argv(*args: str) -> list[str]:
    """The sandbox command line scripts/sandbox ends with (its bootstrap replaced by a no-op)."""
    script = (REPO_ROOT / "scripts/sandbox").read_text()
    script = script.replace(
        'source "$(dirname "$0")/bootstrap.sh"', 'VENV=.venv; sriov-operator() { printf "%s\\n" "$@"; }'
    )
    script = script.replace("exec sriov-operator", "sriov-operator")
    done = subprocess.run(
        ["bash", "-c", script, "sandbox", *args], capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


def test_scripts_sandbox_keeps_the_examples_when_given_a_namespace() -> None:
    argv = _script_argv("--namespace", "openshift-sriov-network-operator")
    args = build_parser().parse_args(argv)
    assert (args.apply_examples, args.namespace, args.workers) == (
        True,
        "openshift-sriov-network-operator",
        2,
    )
    assert build_parser().parse_args(_script_argv("--no-apply-examples")).apply_examples is False
    assert build_parser().parse_args(_script_argv("--workers", "3")).workers == 3


def test_scripts_sandbox_says_how_to_get_the_command_on_path() -> None:
    script = (REPO_ROOT / "scripts/sandbox").read_text()
    assert "source $VENV/bin/activate" in script
    bare = build_parser().parse_args(_script_argv("--control-plane-only", "--kubeconfig", "k"))
    assert bare.control_plane_only and not bare.apply_examples
