"""The ``render`` and ``validate`` commands: exit codes, output shape, file:line for malformed input."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sriov_operator.cli import main
from tests.unit.engine.builders import NS, node, pf, policy, state

SEED = Path(__file__).parents[1] / "fixtures" / "seed"


def write(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs))
    return path


@pytest.fixture
def cluster_file(tmp_path: Path) -> Path:
    return write(
        tmp_path / "cluster.yaml", [node("w1"), state("w1", [pf("ens1f0", "0000:3b:00.0")]), policy("p")]
    )


def test_render_prints_the_contract_document(cluster_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(cluster_file)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"nodeStates", "devicePlugin", "networkAttachmentDefinitions", "warnings", "errors"}
    assert out["nodeStates"]["w1"]["interfaces"][0]["vfGroups"][0]["resourceName"] == "p"
    assert out["devicePlugin"]["w1"]["resourceList"][0]["resourcePrefix"] == "openshift.io"
    assert out["errors"] == []


def test_render_yaml_and_options(cluster_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(cluster_file), "-o", "yaml", "--resource-prefix", "example.com"]) == 0
    out = yaml.safe_load(capsys.readouterr().out)
    assert out["devicePlugin"]["w1"]["resourceList"][0]["resourcePrefix"] == "example.com"


def test_render_exits_1_but_renders_the_valid_rest(
    tmp_path: Path, cluster_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path / "bad.yaml", [policy("bad", priority=500)])
    assert main(["render", "-f", str(cluster_file), "-f", str(bad)]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["nodeStates"]["w1"]["interfaces"][0]["vfGroups"][0]["policyName"] == "p"
    assert any(
        e.startswith(f"SriovNetworkNodePolicy/{NS}/bad: spec.priority: got 500") for e in out["errors"]
    )


def test_validate_prints_one_line_per_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path / "bad.yaml", [policy("bad", nicSelector={}), policy("ok")])
    assert main(["validate", "-f", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"SriovNetworkNodePolicy/{NS}/bad: spec.nicSelector: selects nothing; set at least one of vendor, "
        "deviceID, pfNames, rootDevices or netFilter"
    ]


def test_validate_accepts_the_seed_with_warnings_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", str(SEED), "--namespace", "openshift-sriov-network-operator"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "indentation uses tabs" in captured.err


def test_strict_nics_turns_the_warning_into_an_error(tmp_path: Path) -> None:
    docs = write(tmp_path / "p.yaml", [policy("p", nicSelector={"vendor": "8086", "deviceID": "abcd"})])
    assert main(["validate", "-f", str(docs)]) == 0
    assert main(["validate", "-f", str(docs), "--strict-nics"]) == 1


@pytest.mark.parametrize("command", ["render", "validate"])
def test_malformed_file_names_file_and_line_without_traceback(tmp_path: Path, command: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: SriovNetworkNodePolicy\nmetadata:\n  name: x\n spec: [\n")
    run = subprocess.run(
        [sys.executable, "-m", "sriov_operator.cli", command, "-f", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert f"{broken}:4" in run.stderr
    assert "Traceback" not in run.stdout + run.stderr


def test_missing_path_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-f", "/nonexistent/x.yaml"]) == 2
    assert "/nonexistent/x.yaml: no such file or directory" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("oops", "metadata"),
        (True, "metadata"),
        ({"namespace": NS}, "metadata.name"),
        ({"name": 5}, "metadata.name"),
    ],
)
def test_broken_metadata_gets_the_same_error_from_validate_render_and_diff(
    tmp_path: Path, cluster_file: Path, capsys: pytest.CaptureFixture[str], metadata: object, field: str
) -> None:
    """A policy whose metadata is not a mapping with a name is refused, not read as a nameless policy."""
    bad = write(tmp_path / "bad.yaml", [{**policy("p"), "metadata": metadata}])
    for argv in (
        ["validate", "-f", str(bad)],
        ["render", "-f", str(bad)],
        ["diff", "--from", str(cluster_file), "-f", str(bad)],
    ):
        assert main(argv) == 1, argv
        captured = capsys.readouterr()
        assert f": {field}: got " in captured.out, argv
        assert "Traceback" not in captured.err


def _limited_memory() -> None:
    limit = 1024 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _run_limited(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sriov_operator.cli", *argv],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=_limited_memory,
    )


def test_huge_vf_counts_and_ranges_are_refused_before_anything_is_expanded(
    tmp_path: Path, cluster_file: Path
) -> None:
    """numVfs 10^15 with VFs 0-99999999999999 drove plan and diff to 2.8 GB and a MemoryError."""
    huge = policy("p", numVfs=10**15, nicSelector={"pfNames": ["ens1f0#0-99999999999999"]})
    policies = write(tmp_path / "huge.yaml", [huge])
    for command in ("validate", "render"):
        run = _run_limited(command, "-f", str(policies))
        assert run.returncode == 1, run.stderr
        assert "spec.numVfs: got 1000000000000000; input should be less than or equal to 65535" in run.stdout
        assert "Traceback" not in run.stderr
    run = _run_limited("diff", "--from", str(cluster_file), "-f", str(policies))
    assert run.returncode == 1, run.stderr
    assert "spec.numVfs: got 1000000000000000" in run.stdout
    node_state = state("w1", [pf("ens1f0", "0000:3b:00.0")])
    node_state["spec"] = {
        "interfaces": [
            {
                "pciAddress": "0000:3b:00.0",
                "numVfs": 10**15,
                "vfGroups": [{"resourceName": "r", "vfRange": "0-99999999999999"}],
            }
        ]
    }
    host = tmp_path / "host"
    assert main(["simulate-host", "--profile", "baremetal-intel", "--out", str(host)]) == 0
    spec_file = write(tmp_path / "state.yaml", [node_state])
    run = _run_limited("plan", "--host-root", str(host), "--simulate", "--state", str(spec_file))
    assert run.returncode == 2, run.stderr
    assert "spec.interfaces.0.numVfs: Input should be less than or equal to 65535" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_vf_range_past_the_kernel_limit_is_refused_whatever_numvfs_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = policy("p", numVfs=8, nicSelector={"pfNames": ["ens1f0#0-99999999999999"]})
    assert main(["validate", "-f", str(write(tmp_path / "huge.yaml", [huge]))]) == 1
    assert "VF range ends above VF 65534, the most a PF can have (65535 VFs)" in capsys.readouterr().out
