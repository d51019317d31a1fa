"""docs/walkthrough-ovs-offload-baremetal.md: every offline session runs as written on a simulated server,
and what it says a cluster and the host show is what our code produces."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from sriov_operator.cli import main
from sriov_operator.daemon.status import bridges_status
from sriov_operator.host.ovs import OWNER, OWNER_KEY, UPLINK_KEY
from sriov_operator.host.simulator.ovs import SimulatedOvs
from tests.doc_runner import run_console
from tests.docs_examples import example

NODE = "worker-1"
PF = "0000:5e:00.1"
SESSIONS = [
    example("bm-offload-host"),
    example("bm-offload-policy"),
    example("bm-offload-worker"),
    example("bm-offload-render"),
    example("bm-offload-plan-apply"),
]


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sessions, run in order in one empty directory; each asserts its shown output."""
    directory = tmp_path_factory.mktemp("bm-offload")
    for session in SESSIONS:
        run_console(session, directory)
    return directory


def _run(argv: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(cwd)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return yaml.safe_load(out.getvalue())


def test_the_state_the_node_is_given_is_the_rendered_spec(
    walked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = _run(
        ["render", "-f", "worker.yaml", "-f", "hwoffload1.yaml", "-f", "operator-config.yaml", "-o", "yaml"],
        walked,
        monkeypatch,
    )
    given = yaml.safe_load((walked / "state.yaml").read_text())
    assert given["spec"] == rendered["nodeStates"][NODE]


def test_without_the_gate_the_bridge_is_not_rendered_and_said_so(
    walked: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = _run(
        ["render", "-f", "worker.yaml", "-f", "hwoffload1.yaml", "-o", "yaml"], walked, monkeypatch
    )
    assert "bridges" not in rendered["nodeStates"][NODE]
    assert any(
        "spec.bridge" in warning and "manageSoftwareBridges" in warning for warning in rendered["warnings"]
    )


def test_the_host_ends_with_our_bridge_on_the_pf_and_hw_offload_on(walked: Path) -> None:
    ovs = SimulatedOvs(walked / "bm").read()
    assert ovs is not None and ovs.hw_offload
    bridge = ovs.bridge("br-0000_5e_00.1")
    assert bridge is not None and bridge.ours and bridge.uplink_pci == PF


def test_the_bridge_marks_shown_for_ovs_vsctl_are_the_ones_written() -> None:
    [*_, (command, shown)] = example("bm-offload-ovs-vsctl").transcript()
    assert command.startswith("ovs-vsctl br-get-external-id")
    assert shown.split() == [f"{OWNER_KEY}={OWNER}", f"{UPLINK_KEY}={PF}"]


def test_the_node_state_shown_is_the_spec_and_the_bridges_the_daemon_reports(walked: Path) -> None:
    shown = yaml.safe_load(example("bm-offload-nodestate").text)
    given = yaml.safe_load((walked / "state.yaml").read_text())
    assert shown["spec"] == given["spec"]
    assert shown["status"]["bridges"] == bridges_status(SimulatedOvs(walked / "bm").read())
