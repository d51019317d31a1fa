"""The discover/plan/apply/simulate-host commands: output contract, errors as one line, exit codes."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from sriov_operator.cli import main
from tests.doc_runner import run_console
from tests.docs_examples import REPO_ROOT, example

DPDK_STATE = """\
apiVersion: sriovnetwork.openshift.io/v1
kind: SriovNetworkNodeState
metadata: {name: ocp-worker-0, namespace: openshift-sriov-network-operator}
spec:
  interfaces:
  - pciAddress: "0000:00:04.0"
    numVfs: 1
    vfGroups:
    - {resourceName: dpdk1, deviceType: vfio-pci, vfRange: "0-0", policyName: dpdk1}
"""


def cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """A separate process each time: the simulator's state must live in the tree."""
    command = [sys.executable, "-m", "sriov_operator.cli", *argv]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_dpdk_apply_across_processes(tmp_path: Path) -> None:
    root, state = tmp_path / "vm", tmp_path / "state.yaml"
    state.write_text(DPDK_STATE)
    assert cli("simulate-host", "--profile", "openstack-vm", "--out", str(root)).returncode == 0
    host = ("--host-root", str(root), "--simulate")

    planned = json.loads(cli("plan", *host, "--state", str(state)).stdout)
    assert [a["action"] for a in planned["actions"]] == [
        "loadModule",
        "loadModule",
        "rememberDevice",
        "bindDriver",
    ]
    assert set(planned["actions"][0]) == {"action", "target", "value", "requires", "reason"}
    assert (planned["requiresDrain"], planned["requiresReboot"]) == (False, False)

    applied = json.loads(cli("apply", *host, "--state", str(state)).stdout)
    assert {a["result"] for a in applied["applied"]} == {"done"}
    found = json.loads(cli("discover", *host).stdout)
    assert (found["platform"], found["metadataSource"]) == ("openstack", "configDrive")
    port = next(i for i in found["interfaces"] if i["pciAddress"] == "0000:00:04.0")
    assert port["driver"] == "vfio-pci"
    assert port["netFilter"] == "openstack/NetworkID:55a54d05-9ec1-4051-8adb-1b5a7be4f1b6"
    assert json.loads(cli("plan", *host, "--state", str(state)).stdout)["actions"] == []


def test_errors_are_one_line_with_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["simulate-host", "--profile", "openstack-vm", "--out", str(tmp_path / "vm")])
    bad_state = tmp_path / "bad.yaml"
    bad_state.write_text("kind: SriovNetworkNodeState\nspec:\n  interfaces:\n  - numVfs: 1\n")
    good_state = tmp_path / "good.yaml"
    good_state.write_text(DPDK_STATE)
    evil_state = tmp_path / "evil.yaml"
    evil_state.write_text("kind: SriovNetworkNodeState\nspec: " + "[" * 5000 + "]" * 5000 + "\n")
    no_drive = ("--platform", "openstack", "--config-drive", str(tmp_path / "missing.iso"))
    cases = [
        (["plan", "--host-root", str(tmp_path / "nope"), "--state", str(good_state)], 2, "no such directory"),
        (["plan", "--host-root", str(tmp_path / "vm"), "--state", str(tmp_path / "x.yaml")], 2, "x.yaml"),
        (["plan", "--host-root", str(tmp_path / "vm"), "--state", str(bad_state)], 2, "pciAddress"),
        (["discover", "--host-root", str(tmp_path), "--simulate"], 2, "not a simulated host"),
        (["discover", "--host-root", str(tmp_path / "vm"), *no_drive], 1, "missing.iso"),
        (["simulate-host", "--profile", "openstack-vm", "--out", str(tmp_path / "vm")], 2, "not empty"),
        (["plan", "--host-root", str(tmp_path / "vm"), "--state", str(evil_state)], 2, "nested deeper than"),
        (["plan", "--host-root", str(tmp_path / "vm"), "--state", str(good_state)], 2, "--netns: required"),
        (["discover", "--host-root", str(tmp_path / "vm"), "--metadata-url", "ftp://x"], 2, "--metadata-url"),
        (
            ["discover", "--host-root", str(tmp_path / "vm"), "--metadata-timeout", "-1"],
            2,
            "--metadata-timeout",
        ),
    ]
    for argv, code, words in cases:
        capsys.readouterr()
        assert main(argv) == code, argv
        error = capsys.readouterr().err
        assert words in error and error.count("\n") == 1 and "Traceback" not in error, error


def test_bare_metal_discover_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["simulate-host", "--profile", "baremetal-mellanox", "--out", str(tmp_path / "bm")])
    capsys.readouterr()
    assert main(["discover", "--host-root", str(tmp_path / "bm"), "--simulate", "-o", "yaml"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("platform: baremetal\nmetadataSource: none\n") and "eSwitchMode: legacy" in text


def test_plan_output_carries_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["simulate-host", "--profile", "openstack-vm", "--out", str(tmp_path / "vm")])
    state = tmp_path / "state.yaml"
    state.write_text(DPDK_STATE.replace("policyName: dpdk1}", "policyName: dpdk1, vdpaType: vhost}"))
    capsys.readouterr()
    assert main(["plan", "--host-root", str(tmp_path / "vm"), "--simulate", "--state", str(state)]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == [
        "spec.interfaces[0].vfGroups[0]: vdpaType 'vhost' needs eSwitchMode switchdev: not applied"
    ]


def test_the_library_example_in_host_md_runs(tmp_path: Path) -> None:
    code = example("host-library").text
    root = tmp_path / "vm"
    main(["simulate-host", "--profile", "openstack-vm", "--out", str(root)])
    namespace: dict[str, object] = {}
    exec(code.replace('"/tmp/vm"', repr(str(root))), namespace)
    assert namespace["outcomes"] == [] and namespace["steps"].actions == ()  # type: ignore[attr-defined]


def test_the_documented_discover_plan_apply_session(tmp_path: Path) -> None:
    steps = run_console(
        example("host-discover-plan-apply"), tmp_path, replace={"/tmp/vm": str(tmp_path / "vm")}
    )
    assert [step.command.split()[1] for step in steps if step.command.startswith("sriov-operator")] == [
        "simulate-host",
        "discover",
        "plan",
        "apply",
        "apply",
    ]


def test_the_readme_offline_dpdk_commands_run(tmp_path: Path) -> None:
    vm = str(tmp_path / "vm")
    outputs = []
    for command in example("try-dpdk-offline").commands():
        words = shlex.split(command.replace("/tmp/vm", vm))
        assert words[0] == "sriov-operator", command
        done = subprocess.run(
            [sys.executable, "-m", "sriov_operator.cli", *words[1:]],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stderr)
        outputs.append(done.stdout)
    rendered, _, found = outputs
    assert json.loads(rendered)["devicePlugin"]["ocp-worker-0"]["resourceList"][0]["resourceName"] == "dpdk1"
    assert json.loads(found)["platform"] == "openstack"
