"""The walkthroughs' cluster steps, as written, on the sandbox (a real API server with the operator, the
webhook and config daemons on simulated copies of the article's VM), with the real kubectl.

A new user follows the DPDK walkthrough, then the OVS one in a directory of its own (it needs no file
from the DPDK one), against one sandbox started as the DPDK walkthrough says. Every command must
succeed, and what the documents show (the admitted pods, ``why``) is what the cluster answers.
The bare-metal OVS-offload walkthrough has a sandbox of its own (bare-metal workers), started as it says.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.controlplane.tools import DeployTools
from tests.doc_runner import run_console, run_sh
from tests.docs_examples import Example, example
from tests.integration.sandbox_support import running_sandbox

pytestmark = pytest.mark.integration
NAMESPACE = "openshift-sriov-network-operator"  # where the walkthroughs run the operator
OFFLINE = {
    "dpdk": ["dpdk-host", "dpdk-policy", "dpdk-worker", "dpdk-network"],
    "ovs": ["offload-host", "offload-policy", "offload-worker", "offload-render"],
    "baremetal-ovs": ["bm-offload-host", "bm-offload-policy"],
}


def _kubectl_json(kubectl: Path, env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [str(kubectl), "get", *args, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, **env},
    )
    return json.loads(done.stdout)


def _pod_resources(kubectl: Path, env: dict[str, str], name: str) -> object:
    return _kubectl_json(kubectl, env, "pod", name, "-n", "apps")["spec"]["containers"][0]["resources"]


def _abridged(actual: Any, shown: Any) -> Any:
    """``actual`` with only the fields ``shown`` has, at every level (an abridged document's view of it)."""
    if isinstance(shown, dict) and isinstance(actual, dict):
        return {key: _abridged(actual.get(key), value) for key, value in shown.items()}
    if isinstance(shown, list) and isinstance(actual, list) and len(shown) == len(actual):
        return [_abridged(a, s) for a, s in zip(actual, shown, strict=True)]
    return actual


def _sandbox_args(start_example: Example, kubeconfig: Path) -> list[str]:
    """The documented ``sriov-operator sandbox`` command's arguments, writing its kubeconfig where given."""
    [start] = start_example.commands()
    words = shlex.split(start, comments=True)
    assert words[:2] == ["sriov-operator", "sandbox"], start
    return [*words[2:], "--kubeconfig", str(kubeconfig)]


def _cluster_env(tmp_path: Path, tools: DeployTools, kubeconfig: Path) -> dict[str, str]:
    return {
        "KUBECONFIG": str(kubeconfig),
        "PATH": f"{tools.kubectl.parent}{os.pathsep}{os.environ['PATH']}",
        "KUBECACHEDIR": str(tmp_path / "kubectl-cache"),
    }


def _documented_resources(example_id: str) -> object:
    return yaml.safe_load(example(example_id).text)["spec"]["containers"][0]["resources"]


def test_both_walkthroughs_cluster_steps_run_as_written_on_the_sandbox(
    tmp_path: Path, tools: DeployTools
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox(*_sandbox_args(example("dpdk-sandbox"), kubeconfig)) as (_, lines):
        assert "applied" not in "".join(lines)  # no examples of its own: the walkthroughs' objects only
        env = _cluster_env(tmp_path, tools, kubeconfig)
        dpdk = tmp_path / "dpdk"
        dpdk.mkdir()
        for session in OFFLINE["dpdk"]:
            run_console(example(session), dpdk)
        run_sh(example("dpdk-cluster-apply"), dpdk, env)
        (dpdk / "testpmd.yaml").write_text(example("dpdk-pod").text)  # "save it as testpmd.yaml"
        run_sh(example("dpdk-cluster-pod"), dpdk, env)
        assert _pod_resources(tools.kubectl, env, "testpmd") == _documented_resources("dpdk-pod-admitted")
        run_console(example("dpdk-why"), dpdk, env=env)

        ovs = tmp_path / "ovs"
        ovs.mkdir()
        for session in OFFLINE["ovs"]:
            run_console(example(session), ovs)
        run_sh(example("offload-cluster-apply"), ovs, env)
        (ovs / "fast-app.yaml").write_text(example("offload-pod").text)
        run_sh(example("offload-cluster-pod"), ovs, env)
        assert _pod_resources(tools.kubectl, env, "fast-app") == _documented_resources("offload-pod-admitted")


def test_the_bare_metal_offload_walkthroughs_cluster_steps_run_as_written_on_a_bare_metal_sandbox(
    tmp_path: Path, tools: DeployTools
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with running_sandbox(*_sandbox_args(example("bm-offload-sandbox"), kubeconfig)) as (_, lines):
        assert "applied" not in "".join(lines)
        env = _cluster_env(tmp_path, tools, kubeconfig)
        walk = tmp_path / "baremetal-ovs"
        walk.mkdir()
        for session in OFFLINE["baremetal-ovs"]:
            run_console(example(session), walk)
        run_sh(example("bm-offload-cluster-apply"), walk, env)  # waits until the policy is Ready
        state = _kubectl_json(tools.kubectl, env, "sriovnetworknodestate", "worker-1", "-n", NAMESPACE)
        shown = yaml.safe_load(example("bm-offload-nodestate").text)
        assert state["spec"] == shown["spec"]
        assert state["status"]["syncStatus"] == shown["status"]["syncStatus"]
        assert state["status"]["bridges"] == shown["status"]["bridges"]
        reported = {i["pciAddress"]: i for i in state["status"]["interfaces"]}
        for interface in shown["status"]["interfaces"]:
            assert _abridged(reported[interface["pciAddress"]], interface) == interface
